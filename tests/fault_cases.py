"""Fault scenarios with real processes: SIGKILL/SIGINT at seeded random points, full disk,
read-only folder. Each returns ``(verdict, sentence)``; ``intact`` is the target verdict:
the previous good state (or the new one, complete) is on disk, no temporary file is
left, and the process said what happened in one sentence without a traceback.

Used by ``tests/test_faults.py`` (slow) and ``tests/reliability.py --faults``.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = (0, 1, 2)
SCENARIOS = {}
FAULT_VERDICTS = ("intact", "skipped", "traceback", "corrupt", "lost")


def scenario(name):
    def register(fn):
        SCENARIOS[name] = fn
        return fn

    return register


def _env():
    return dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")


def _export_argv(out, classes=10):
    return [sys.executable, "-m", "export", "--model=resnet20", f"--classes={classes}",
            "--input_shape=32,32,3", f"--output={out}", "--eval_count=8"]  # fmt: skip


def _train_argv(model_dir, idx_dir, steps=40):
    return [sys.executable, "-m", "recipes.train", "--dataset=fashion_mnist",
            f"--data_dir={idx_dir}", "--model=resnet20", f"--steps={steps}", "--batch_size=8",
            "--max_train_examples=64", "--max_eval_examples=16", f"--model_dir={model_dir}",
            "--verbose=0", "--noplots", "--checkpoint_every=5", "--log_every=5"]  # fmt: skip


def _run(argv, timeout=900):
    return subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def _sentence(stderr) -> tuple[bool, str]:
    """(one clean sentence, the last line): no traceback and an ``error:`` line."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return ("Traceback" not in stderr and last.startswith("error:")), last


def _temps(folder) -> list[str]:
    return [
        n for n in os.listdir(folder) if ".tmp-" in n or ".old-" in n or n.endswith(".commit.json")
    ]


def _verify(out):
    from keras_convnets.deploy.exporter import verify_export

    record = verify_export(out)
    meta = json.load(open(out[: -len(".tflite")] + ".json"))
    parity = json.load(open(out[: -len(".tflite")] + ".parity.json"))
    if parity["size_bytes"] != os.path.getsize(out) or meta["classes"] != parity.get(
        "classes", meta["classes"]
    ):
        raise ValueError("metadata and model disagree")
    return record


def _good_export(folder, classes=10):
    out = os.path.join(folder, "m.tflite")
    proc = _run(_export_argv(out, classes))
    if proc.returncode != 0:
        raise RuntimeError(f"the reference export failed: {proc.stderr[-2000:]}")
    return out, _verify(out)


_KILL_BETWEEN_RENAMES = """
import os, signal, sys
n, out_dir = int(sys.argv[1]), sys.argv[2]
real, count = os.replace, [0]
def replace(src, dst, *a, **k):
    real(src, dst, *a, **k)
    name = os.path.basename(dst)
    if os.path.dirname(os.path.abspath(dst)) == out_dir and not name.startswith('.'):
        count[0] += 1
        if count[0] >= n:
            os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
sys.argv = ['export'] + sys.argv[3:]
from absl import app
from keras_convnets.cli import export as m
app.run(m.main)
"""


@scenario("export: SIGKILL between the renames of the files (seeds 0-2)")
def export_kill_between_renames(tmp):
    folder = os.path.join(tmp, "renames")
    os.makedirs(folder, exist_ok=True)
    out, _ = _good_export(folder, classes=10)
    notes = []
    for seed in SEEDS:
        n = random.Random(seed).randint(1, 4)
        argv = _export_argv(out, classes=7)[:1] + ["-c", _KILL_BETWEEN_RENAMES, str(n), folder]
        proc = _run(argv + _export_argv(out, classes=7)[3:])
        if proc.returncode != -signal.SIGKILL:
            return "lost", f"seed {seed}: expected a SIGKILL, exit {proc.returncode}"
        mixed = json.load(open(os.path.join(folder, "m.json")))["classes"]
        record = _verify(out)  # finishes the interrupted commit
        classes = json.load(open(os.path.join(folder, "m.json")))["classes"]
        if classes != 7 or _temps(folder):
            return "corrupt", f"seed {seed}: classes {classes}, temporaries {_temps(folder)}"
        notes.append(f"killed after rename {n} (metadata then said {mixed} classes)")
        del record
        _good_export(folder, classes=10)
    return "intact", (
        "; ".join(notes) + ": the next reader finished each commit from its journal, and the "
        "manifest verified the complete new set, with no temporary file left."
    )


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kill_at_random(argv, seed, sig, lo, hi, ready=None):
    """Starts ``argv``, waits for ``ready`` (a stdout marker or a callable), a seeded random
    delay in ``[lo, hi]`` s, then sends ``sig``. Returns ``(rc, stderr, delay)``."""
    delay = random.Random(seed).uniform(lo, hi)
    # A background shell starts its children with SIGINT ignored; a terminal does not.
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True,
                            stdout=subprocess.PIPE,
                            preexec_fn=_default_sigint)  # fmt: skip
    if isinstance(ready, str):
        for line in proc.stdout:
            if ready in line:
                break
    elif callable(ready):
        while proc.poll() is None and not ready():
            time.sleep(0.2)
    time.sleep(delay)
    if proc.poll() is not None:
        delay = math.nan  # it finished before the signal: not a test of the signal
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err, delay


def _export_signal(tmp, sig, label):
    folder = os.path.join(tmp, label)
    os.makedirs(folder, exist_ok=True)
    out, _ = _good_export(folder)
    notes = []
    manifest = out[: -len(".tflite")] + ".manifest.json"
    for seed in SEEDS:
        before = open(manifest, "rb").read()
        rc, err, delay = _kill_at_random(
            _export_argv(out, classes=7), seed, sig, 0.0, 4.0, ready="converting"
        )
        ok, last = _sentence(err)
        # Exit 0 is right only if the export was complete when the signal came (a command
        # ignores Ctrl-C once it is over: _cli._quiet_teardown).
        finished = rc == 0 and open(manifest, "rb").read() != before
        if sig == signal.SIGINT and not math.isnan(delay) and not (finished or (rc and ok)):
            return "traceback", f"seed {seed} ({delay:.2f} s): exit {rc}, ...{err[-1500:]}"
        try:
            _verify(out)
        except (ValueError, OSError) as e:
            return "corrupt", f"seed {seed} ({delay:.1f} s): {e}"
        if _temps(folder):
            return "corrupt", f"seed {seed}: temporaries left {_temps(folder)}"
        notes.append(f"{delay:.1f} s: exit {rc}" + (" (already complete)" if finished else ""))
    return "intact", (
        f"{label} (seconds after the conversion began) at {', '.join(notes)}; every time "
        "the export verified against its manifest "
        "(old or new, never mixed) and no temporary file was left."
    )


@scenario("export: SIGKILL at random times (seeds 0-2)")
def export_sigkill(tmp):
    return _export_signal(tmp, signal.SIGKILL, "SIGKILL")


@scenario("export: SIGINT at random times (seeds 0-2)")
def export_sigint(tmp):
    return _export_signal(tmp, signal.SIGINT, "SIGINT")


@contextlib.contextmanager
def _mount(folder, options):
    os.makedirs(folder, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", folder],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        raise PermissionError(f"mount not permitted here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], capture_output=True)


@scenario("export: disk full (a 3 MiB tmpfs)")
def export_disk_full(tmp):
    try:
        with _mount(os.path.join(tmp, "full"), "size=3m") as folder:
            out, _ = _good_export(folder)
            free = shutil.disk_usage(folder).free
            with open(os.path.join(folder, "filler"), "wb") as f:
                f.write(b"\0" * max(0, free - 200_000))
            proc = _run(_export_argv(out, classes=7))
            ok, last = _sentence(proc.stderr)
            if proc.returncode == 0 or not ok:
                return "traceback", f"exit {proc.returncode}: {last}"
            _verify(out)
            if _temps(folder):
                return "corrupt", f"temporaries left: {_temps(folder)}"
            return "intact", f"exit {proc.returncode}, '{last}'; the previous export verified."
    except PermissionError as e:
        return "skipped", str(e)


@scenario("export and train: read-only folder")
def read_only(tmp):
    try:
        with _mount(os.path.join(tmp, "ro"), "size=1m,ro") as folder:
            rows = []
            for argv in (_export_argv(os.path.join(folder, "m.tflite")),
                         _train_argv(os.path.join(folder, "run"), _idx(tmp))):  # fmt: skip
                proc = _run(argv)
                ok, last = _sentence(proc.stderr)
                if proc.returncode == 0 or not ok:
                    return "traceback", f"exit {proc.returncode}: {last}"
                rows.append(f"'{last}'")
            if os.listdir(folder):
                return "corrupt", f"written: {os.listdir(folder)}"
            return "intact", "both refused before any work: " + "; ".join(rows)
    except PermissionError as e:
        return "skipped", str(e)


def _idx(tmp):
    folder = os.path.join(tmp, "idx")
    if not os.path.isdir(folder):
        from keras_convnets.data.sample_data import load_fashion_mnist_sample
        from keras_convnets.quickstart import write_idx

        for split, prefix, n in (("train", "train", 64), ("test", "t10k", 16)):
            images, labels = load_fashion_mnist_sample(split)
            write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images[:n, ..., 0])
            write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels[:n])
    return folder


def _train_signal(tmp, sig, label):
    notes = []
    for seed in SEEDS[:2]:
        run = os.path.join(tmp, f"train-{label}-{seed}")
        started = os.path.join(run, "config.json")
        rc, err, delay = _kill_at_random(
            _train_argv(run, _idx(tmp)),
            seed,
            sig,
            0.0,
            6.0,
            ready=functools.partial(os.path.exists, started),
        )
        ok, last = _sentence(err)
        if sig == signal.SIGINT and not math.isnan(delay) and (rc == 0 or not ok):
            return "traceback", f"seed {seed}: exit {rc}, {last}"
        again = _run(_train_argv(run, _idx(tmp)))
        if again.returncode != 0 or not os.path.exists(os.path.join(run, "summary.json")):
            return "lost", f"seed {seed}: the rerun failed: {_sentence(again.stderr)[1]}"
        steps = json.load(open(os.path.join(run, "summary.json"))).get("steps")
        notes.append(f"{delay:.1f} s: exit {rc}, rerun finished at step {steps}")
    return "intact", f"{label} (seconds after config.json) at " + "; ".join(
        notes
    ) + " (resumed from the last checkpoint)."


@scenario("train: SIGKILL at random times, then the same command (seeds 0-1)")
def train_sigkill(tmp):
    return _train_signal(tmp, signal.SIGKILL, "SIGKILL")


@scenario("train: SIGINT at random times, then the same command (seeds 0-1)")
def train_sigint(tmp):
    return _train_signal(tmp, signal.SIGINT, "SIGINT")


@scenario("train: disk full (a 1 MiB tmpfs)")
def train_disk_full(tmp):
    try:
        with _mount(os.path.join(tmp, "train-full"), "size=1m") as folder:
            run = os.path.join(folder, "run")
            proc = _run(_train_argv(run, _idx(tmp)))
            ok, last = _sentence(proc.stderr)
            if proc.returncode == 0 or not ok:
                return "traceback", f"exit {proc.returncode}: {last}"
            left = [
                os.path.relpath(os.path.join(top, n), run)
                for top, dirs, files in os.walk(run)
                for n in dirs + files
                if n.endswith(("_temp", ".state.json")) or ".tmp-" in n
            ]
            if left:  # no checkpoint was complete: neither shards nor its state may stay
                return "corrupt", f"a failed save left {left}"
            return "intact", f"exit {proc.returncode}, '{last}'; no half-written checkpoint left"
    except PermissionError as e:
        return "skipped", str(e)


@scenario("evaluate: SIGKILL at random times over a previous report (seeds 0-2)")
def evaluate_sigkill(tmp):
    out = os.path.join(tmp, "eval.json")
    argv = [sys.executable, "-m", "recipes.evaluate", "--model=resnet20", "--classes=10",
            "--input_shape=28,28,1", "--dataset=fashion_mnist_sample", "--max_images=64",
            "--batch_size=8", "--top_k=1", f"--output={out}"]  # fmt: skip
    first = _run(argv)
    if first.returncode != 0:
        return "lost", f"the reference evaluation failed: {_sentence(first.stderr)[1]}"
    notes = []
    for seed in SEEDS:
        rc, _, delay = _kill_at_random(argv, seed, signal.SIGKILL, 5.0, 30.0)
        try:
            json.load(open(out))
        except (ValueError, OSError) as e:
            return "corrupt", f"seed {seed}: {e}"
        left = [n for n in os.listdir(tmp) if n.startswith(".eval.json")]
        notes.append(f"{delay:.1f} s: exit {rc}")
        del left
    return "intact", "killed at " + ", ".join(notes) + "; the report stayed a complete JSON."


def run_all(tmp, names=None) -> list[tuple[str, str, str]]:
    rows = []
    for name, fn in SCENARIOS.items():
        if names and name not in names:
            continue
        folder = os.path.join(tmp, f"s{len(rows)}")
        os.makedirs(folder, exist_ok=True)
        try:
            verdict, message = fn(folder)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            verdict, message = "traceback", f"{type(e).__name__}: {e}"
        rows.append((name, verdict, message))
        for path in glob.glob(os.path.join(folder, "*")):
            shutil.rmtree(path, ignore_errors=True)
    return rows


def render(rows) -> str:
    counts = {v: sum(r[1] == v for r in rows) for v in FAULT_VERDICTS}
    lines = [
        "## Faults",
        "",
        "Real processes killed or starved (`python tests/reliability.py --faults`; "
        "`pytest -m slow tests/test_faults.py`). "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n),
        "",
        "| scenario | verdict | what happened |",
        "| --- | --- | --- |",
    ]
    for name, verdict, message in rows:
        lines.append(f"| {name} | {verdict} | {message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
