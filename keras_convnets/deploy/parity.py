"""Parity report: does the exported model compute what the Keras model computes?

For one export: file size; max |difference| of probabilities and top-1
agreement between Keras and the export on a labelled evaluation set; the
accuracy of both; and for TFLite the latency with ``ai_edge_litert``'s
interpreter (XNNPACK, the default delegate): median of ``runs`` (>= 20)
invocations after ``warmup`` ones, with 1 and 2 threads.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from keras_convnets import atomic


def path_size(path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(root, f))
            for root, _, files in os.walk(path)
            for f in files
        )
    return os.path.getsize(path)


def keras_probabilities(model, x, batch_size=128) -> np.ndarray:
    """Probabilities of a Keras model on normalised float images, in batches."""
    out = [
        np.asarray(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out, axis=0)


def compare(reference, exported, labels) -> dict:
    """Max |dprob|, top-1 agreement and both accuracies (percent)."""
    reference = np.asarray(reference, np.float32)
    exported = np.asarray(exported, np.float32)
    ref_top = reference.argmax(-1)
    exp_top = exported.argmax(-1)
    labels = np.asarray(labels)
    return {
        "samples": int(len(labels)),
        "max_abs_diff_prob": float(np.abs(reference - exported).max()),
        "top1_agreement": float(100.0 * np.mean(ref_top == exp_top)),
        "keras_accuracy": float(100.0 * np.mean(ref_top == labels)),
        "export_accuracy": float(100.0 * np.mean(exp_top == labels)),
    }


def tflite_latency(model_content, sample, *, threads=(1, 2), runs=20, warmup=3) -> dict:
    """Median milliseconds per invocation, per thread count (XNNPACK)."""
    from keras_convnets.deploy.tflite import TFLiteRunner

    if runs < 20:
        raise ValueError(f"`runs` must be >= 20. Received: runs={runs}")
    result = {}
    for n in threads:
        runner = TFLiteRunner(model_content, num_threads=n)
        runner.set_input(sample)
        for _ in range(warmup):
            runner.invoke()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            runner.invoke()
            times.append(time.perf_counter() - start)
        result[str(n)] = 1000.0 * statistics.median(times)
    return result


def format_table(reports) -> str:
    """A fixed-width table of parity reports (one row each)."""
    head = (
        f"{'artifact':<34} {'size KB':>9} {'max|dp|':>9} {'top1 agr':>8} "
        f"{'acc keras':>9} {'acc exp':>8} {'ms 1thr':>8} {'ms 2thr':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in reports:
        lat = r.get("latency_ms") or {}
        accuracy = f"{r['keras_accuracy']:>8.2f}% {r['export_accuracy']:>7.2f}%"
        if str(r.get("eval_set", "")).startswith("random"):  # labels = the Keras model's top-1
            accuracy = f"{'no labels: agreement only':>18}"
        lines.append(
            f"{os.path.basename(r['artifact'])[:34]:<34} {r['size_bytes'] / 1024:>9.1f} "
            f"{r['max_abs_diff_prob']:>9.2e} {r['top1_agreement']:>7.1f}% "
            f"{accuracy} "
            f"{lat.get('1', float('nan')):>8.2f} {lat.get('2', float('nan')):>8.2f}"
        )
    return "\n".join(lines)


def write_report(path, report):
    """Writes one report as JSON, atomically."""
    atomic.write_json(path, report, sort_keys=True)
