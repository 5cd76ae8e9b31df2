"""What the benchmark scripts share: timing, medians, tables, machine facts, atomic writes."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence


def median_rate(fn: Callable[[], object], *, items: int, repeats: int, number: int = 1) -> dict:
    """Calls ``fn`` ``number`` times per repeat; returns items/s (median, min, max) over repeats.

    ``fn`` must block until its work is done (return numpy, or synchronize).

    Example:
        >>> r = median_rate(lambda: sum(range(100)), items=1, repeats=3)
        >>> sorted(r) == ["max", "median", "min", "runs"]
        True
    """
    if repeats < 1 or number < 1:
        raise ValueError(
            f"`repeats` and `number` must be >= 1. Received: repeats={repeats}, number={number}"
        )
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        rates.append(items * number / elapsed)
    return {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "runs": rates,
    }


def alternating_rates(
    fns: dict[str, Callable[[], object]], *, items: int, rounds: int, number: int = 1
) -> dict[str, dict]:
    """Times several callables in turn (A, B, A, B, ...) so that load changes hit all alike.

    Returns ``{name: median_rate-like dict}``. Alternating matters on a shared
    machine: a burst of load from another process slows whichever run is in
    flight, so back-to-back blocks of A then B would bias the ratio.

    Example:
        >>> r = alternating_rates({"a": lambda: 1, "b": lambda: 2}, items=1, rounds=2)
        >>> sorted(r)
        ['a', 'b']
    """
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            runs[name].append(items * number / (time.perf_counter() - start))
    return {
        name: {
            "median": statistics.median(r),
            "min": min(r),
            "max": max(r),
            "runs": r,
        }
        for name, r in runs.items()
    }


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats get 3 significant figures or 2 decimals.

    Example:
        >>> print(format_table(["a", "b"], [[1, 2.5]]))
        | a | b |
        | --- | --- |
        | 1 | 2.50 |
    """

    def cell(value):
        if isinstance(value, float):
            if value != value:  # NaN: not measured
                return "-"
            return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def write_atomic(path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (:func:`keras_convnets.atomic.write_text`)."""
    from keras_convnets import atomic

    atomic.write_text(path, text)


def write_json(path, data) -> None:
    """Writes ``data`` as indented JSON, atomically (:func:`keras_convnets.atomic.write_json`)."""
    from keras_convnets import atomic

    atomic.write_json(path, data)


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: say what the load was)."""
    return os.getloadavg()


def cpu_flags() -> set[str]:
    """The flags of the first processor in ``/proc/cpuinfo`` (empty off Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_summary() -> dict:
    """Processor, core count, flags that matter here, load and library versions."""
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "CPU max MHz"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    flags = cpu_flags()
    info["simd"] = sorted(
        f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma", "avx_vnni")
    )
    return info


def versions(*modules: str) -> dict[str, str]:
    """``{module: __version__}`` for the modules that import; missing ones say so."""
    found = {}
    for name in modules:
        try:
            module = __import__(name)
            found[name] = getattr(module, "__version__", "?")
        except ImportError:
            found[name] = "not installed"
    return found
