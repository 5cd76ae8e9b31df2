"""Achieved multiply-adds/s vs this CPU's peak, float32 and bfloat16.

Peak, derived and printed with every assumption:

* float32: cores x clock x FMA pipes per core x lanes per FMA (AVX-512: 16
  float32 lanes; AVX2: 8). One FMA lane-op is one multiply-add.
* bfloat16 (``avx512_bf16``): ``VDPBF16PS`` does 32 bfloat16 products per
  512-bit instruction, summed in pairs into 16 float32 lanes: 32 MACs per
  instruction, twice float32's rate on the same pipes.
* AMX (``amx_bf16``): 1024 bfloat16 MACs per cycle per core (Intel's TMUL,
  16x32 by 32x16 tiles); only if the flags say so.

The clock is measured (:func:`measure_clock`: a chain of dependent 1-cycle
additions; best of 7) unless ``--ghz`` is given: ``cpu MHz`` of
``/proc/cpuinfo`` is the nominal clock on a VM, and the cores boost above it
(here ResNet-34 ran at more than the nominal-clock peak). FMA pipes: 2 by
default (Zen 4 and Zen 5, Xeon Gold/Platinum); Zen 4 (family 25) splits a
512-bit FMA into two 256-bit halves, so it counts 8 lanes per pipe.
Override with ``--fma-units`` and ``--lanes``.

Achieved: a large matrix product and a ResNet-50 3x3 convolution through
TensorFlow (oneDNN), and ResNet-50 inference (batch 32), each in float32 and
bfloat16; multiply-adds counted by shape (and by ``keras_convnets.analysis.cost`` for
the network).

Example::

    python -m benchmarks.bench_peak --quick
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_facts() -> dict:
    """Cores, nominal clock (GHz), vendor, family and flags read from ``/proc/cpuinfo``."""
    facts = {"cores": os.cpu_count() or 1, "ghz": None, "vendor": "", "family": None}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "cpu MHz" and facts["ghz"] is None:
            facts["ghz"] = float(value) / 1000
        elif key == "vendor_id":
            facts["vendor"] = value
        elif key == "cpu family" and facts["family"] is None:
            facts["family"] = int(value)
        elif key == "model name":
            facts["model_name"] = value
        elif key == "flags" and "flags" not in facts:
            facts["flags"] = set(value.split())
    facts.setdefault("flags", set())
    return facts


_CLOCK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  unsigned long x = 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.6f\n", 8.0 * n / ((b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec)) / 1e9);
  return x == 0;
}
"""


def measure_clock(repeats: int = 7, iterations: int = 200_000_000):
    """The running clock in GHz (best of ``repeats``), or ``None`` without a C compiler.

    A chain of dependent 1-cycle integer additions runs at one per cycle, so
    additions per second is the clock the core really runs at (a VM's
    ``cpu MHz`` is the nominal clock; boost is higher). Load from other
    processes can only make it read lower, hence the best of several.
    x86-64 only.
    """
    import platform
    import shutil
    import subprocess
    import tempfile

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or platform.machine() not in ("x86_64", "AMD64"):
        return None
    with tempfile.TemporaryDirectory(prefix="clock_") as tmp:
        src, exe = os.path.join(tmp, "clock.c"), os.path.join(tmp, "clock")
        with open(src, "w") as f:
            f.write(_CLOCK_C)
        if subprocess.run([compiler, "-O1", "-o", exe, src], capture_output=True).returncode:
            return None
        runs = []
        for _ in range(repeats):
            out = subprocess.run([exe, str(iterations)], capture_output=True, text=True)
            runs.append(float(out.stdout))
    return max(runs)


def peak(facts: dict, *, ghz=None, fma_units=None, lanes=None) -> dict:
    """Peak multiply-adds/s for float32, bfloat16 (AVX512_BF16) and AMX, with the assumptions.

    Example:
        >>> p = peak({"cores": 2, "ghz": 2.0, "vendor": "AuthenticAMD", "family": 26,
        ...           "flags": {"avx512f", "avx512_bf16"}})
        >>> p["float32"] / 1e9, p["bfloat16"] / 1e9
        (128.0, 256.0)
    """
    flags = facts["flags"]
    ghz = ghz or facts["ghz"]
    if not ghz or ghz <= 0:
        raise ValueError(f"The clock must be > 0 GHz; pass --ghz. Received: {ghz!r}")
    notes = []
    if lanes is None:
        if "avx512f" in flags:
            lanes = 16
            if facts["vendor"] == "AuthenticAMD" and facts["family"] == 25:
                lanes = 8
                notes.append("Zen 4: 512-bit FMAs run as two 256-bit halves (8 lanes/pipe)")
        elif "avx2" in flags and "fma" in flags:
            lanes = 8
        else:
            lanes = 4
    fma_units = fma_units or 2
    notes.append(f"{fma_units} FMA pipes/core x {lanes} float32 lanes at {ghz:.3f} GHz")
    per_core_f32 = fma_units * lanes
    result = {
        "cores": facts["cores"],
        "ghz": ghz,
        "fma_units": fma_units,
        "lanes": lanes,
        "float32": facts["cores"] * ghz * 1e9 * per_core_f32,
        "bfloat16": None,
        "amx_bfloat16": None,
        "notes": notes,
    }
    if "avx512_bf16" in flags:
        # VDPBF16PS: two bf16 products per float32 lane.
        result["bfloat16"] = result["float32"] * 2
        notes.append("bfloat16: VDPBF16PS, 2 products per float32 lane")
    if "amx_bf16" in flags and "amx_tile" in flags:
        result["amx_bfloat16"] = facts["cores"] * ghz * 1e9 * 1024
        notes.append("AMX: 1024 bf16 MACs/cycle/core")
    else:
        notes.append("no AMX flags (amx_bf16/amx_tile) on this CPU")
    return result


def achieved(args) -> list:
    """Rows ``[workload, dtype, GMAC/s]`` measured with TensorFlow."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks._util import median_rate
    from keras_convnets.analysis import cost
    from keras_convnets.models import resnet

    rng = np.random.default_rng(0)
    rows = []
    n = args.matmul_size
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.cast(tf.constant(rng.uniform(-1, 1, (n, n)), tf.float32), dtype)
        b = tf.cast(tf.constant(rng.uniform(-1, 1, (n, n)), tf.float32), dtype)
        fn = tf.function(lambda a=a, b=b: tf.linalg.matmul(a, b))
        fn().numpy()
        r = median_rate(lambda f=fn: f().numpy(), items=n**3, repeats=args.repeats)
        rows.append([f"matmul {n}x{n}x{n}", dtype.name, r["median"] / 1e9])

    batch, hw, ch = args.batch, 14, 256
    for dtype in (tf.float32, tf.bfloat16):
        x = tf.cast(tf.constant(rng.uniform(-1, 1, (batch, hw, hw, ch)), tf.float32), dtype)
        w = tf.cast(tf.constant(rng.normal(0, 0.05, (3, 3, ch, ch)), tf.float32), dtype)
        fn = tf.function(lambda x=x, w=w: tf.nn.conv2d(x, w, 1, "SAME"))
        fn().numpy()
        macs = batch * hw * hw * ch * 9 * ch
        r = median_rate(lambda f=fn: f().numpy(), items=macs, repeats=args.repeats)
        rows.append(
            [f"conv 3x3 {hw}x{hw}x{ch}->{ch}, batch {batch}", dtype.name, r["median"] / 1e9]
        )

    size = args.image_size
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        try:
            model = resnet.ResNet50(weights=None, input_shape=(size, size, 3))
        finally:
            keras.config.set_dtype_policy("float32")
        macs = cost.analyze(model).macs
        x = tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32"))
        fn = tf.function(lambda t, m=model: m(t, training=False))
        fn(x).numpy()
        r = median_rate(lambda f=fn, x=x: f(x).numpy(), items=batch * macs, repeats=args.repeats)
        rows.append(
            [f"ResNet-50 {size}x{size} inference, batch {batch}", policy, r["median"] / 1e9]
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ghz",
        type=float,
        default=None,
        help="clock for the peak (default: measured, else cpu MHz)",
    )
    parser.add_argument("--fma-units", type=int, default=None, help="FMA pipes per core (2)")
    parser.add_argument("--lanes", type=int, default=None, help="float32 lanes per FMA")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.matmul_size, args.batch, args.image_size, args.repeats = 128, 2, 32, 2
    for name in ("matmul_size", "batch", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"`--{name.replace('_', '-')}` must be >= 1. Received: {getattr(args, name)}"
            )

    from benchmarks._util import format_table, load_average, write_atomic, write_json

    facts = cpu_facts()
    measured_ghz = measure_clock(
        repeats=2 if args.quick else 7, iterations=20_000_000 if args.quick else 200_000_000
    )
    ghz = args.ghz or measured_ghz
    p = peak(facts, ghz=ghz, fma_units=args.fma_units, lanes=args.lanes)
    p["nominal_ghz"], p["measured_ghz"] = facts["ghz"], measured_ghz
    load_before = load_average()
    rows = achieved(args)
    out_rows = []
    for workload, dtype, gmacs in rows:
        top = p["float32"] if dtype == "float32" else (p["bfloat16"] or p["float32"])
        out_rows.append([workload, dtype, gmacs, top / 1e9, f"{gmacs * 1e9 / top:.1%}"])
    report = "\n".join(
        [
            f"## Peak: {facts.get('model_name', '?')}, {p['cores']} cores",
            f"float32 peak {p['float32'] / 1e9:,.0f} GMAC/s; bfloat16 peak "
            + (f"{p['bfloat16'] / 1e9:,.0f} GMAC/s" if p["bfloat16"] else "n/a (no avx512_bf16)")
            + (f"; AMX {p['amx_bfloat16'] / 1e9:,.0f} GMAC/s" if p["amx_bfloat16"] else ""),
            f"clock: nominal {facts['ghz']} GHz (/proc/cpuinfo), measured "
            f"{measured_ghz if measured_ghz is None else round(measured_ghz, 3)} GHz "
            "(dependent-add chain, best of several); the peak uses "
            + ("--ghz" if args.ghz else "the measured clock" if measured_ghz else "the nominal"),
            "assumptions: " + "; ".join(p["notes"]),
            "",
            format_table(
                ["workload", "dtype", "GMAC/s", "peak GMAC/s", "fraction of peak"], out_rows
            ),
            f"\nload average before {load_before}, after {load_average()}",
        ]
    )
    print(report)
    if args.out:
        write_atomic(os.path.join(args.out, "peak.md"), report + "\n")
        write_json(
            os.path.join(args.out, "peak.json"),
            {"args": vars(args), "peak": p, "rows": out_rows, "load_before": load_before},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
