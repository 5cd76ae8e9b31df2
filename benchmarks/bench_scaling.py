"""Measured inference time vs counted multiply-adds: ResNet-18 -> 152, inputs 224 -> 299 -> 448.

Multiply-adds come from :func:`keras_convnets.analysis.cost.analyze` of the built model
(the count the registry and the paper tables use). Time is the median of
``--repeats`` runs of a ``tf.function`` at ``--batch``; the table gives
ms/image, GMAC/image and the achieved GMAC/s, and a log-log plot (PNG,
matplotlib Agg) shows how far time follows the count: a straight line of slope
1 would mean every multiply-add costs the same everywhere.

Example::

    python -m benchmarks.bench_scaling --quick --out runs/bench
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEPTHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
SIZES = (224, 299, 448)


def measure(args):
    """Rows ``[model, input, GMAC/image, ms/image, GMAC/s]`` and the points for the plot."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks._util import median_rate
    from keras_convnets.analysis import cost
    from keras_convnets.models import registry

    cases = [(name, args.sizes[0]) for name in args.models]
    cases += [(args.size_model, size) for size in args.sizes[1:]]
    rows = []
    for name, size in cases:
        keras.backend.clear_session()
        model = registry.get_model(name, input_shape=(size, size, 3))
        macs = cost.analyze(model).macs
        x = tf.constant(
            np.random.default_rng(0).uniform(-1, 1, (args.batch, size, size, 3)).astype("float32")
        )
        fn = tf.function(lambda t, m=model: m(t, training=False))
        fn(x).numpy()  # trace outside the timing
        r = median_rate(lambda f=fn, x=x: f(x).numpy(), items=args.batch, repeats=args.repeats)
        seconds_per_image = 1 / r["median"]
        rows.append(
            [name, size, macs / 1e9, 1000 * seconds_per_image, macs / seconds_per_image / 1e9]
        )
    return rows


def plot(rows, path):
    """Log-log time vs multiply-adds, with a slope-1 line through the median rate."""
    import statistics

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    gmacs = [r[2] for r in rows]
    ms = [r[3] for r in rows]
    ax.loglog(gmacs, ms, "o")
    for name, size, g, t, _ in rows:
        ax.annotate(f"{name}@{size}", (g, t), fontsize=7, xytext=(3, 3), textcoords="offset points")
    rate = statistics.median(r[4] for r in rows)  # GMAC/s
    lo, hi = min(gmacs) / 1.5, max(gmacs) * 1.5
    ax.loglog(
        [lo, hi], [1000 * lo / rate, 1000 * hi / rate], "--", lw=1, label=f"{rate:.0f} GMAC/s"
    )
    # Plain numbers on the log axes (the default "2x10^0" labels overlap).
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks([t for t in (0.5, 1, 2, 4, 8, 16, 32) if lo <= t <= hi])
    ax.set_yticks(
        [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if min(ms) / 2 <= t <= 2 * max(ms)]
    )
    ax.set_xlabel("multiply-adds per image (G, keras_convnets.analysis.cost)")
    ax.set_ylabel("ms per image (measured)")
    ax.set_title("Inference time vs counted multiply-adds")
    ax.legend()
    fig.tight_layout()
    from keras_convnets import atomic

    with atomic.writing(path) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=DEPTHS, default=list(DEPTHS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--size-model", choices=DEPTHS, default="resnet50")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="folder for the table, JSON and PNG")
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.sizes, args.batch, args.repeats = ["resnet18"], [32, 64], 1, 2
        args.size_model = "resnet18"
    if args.batch < 1 or args.repeats < 1:
        raise ValueError(
            f"`--batch` and `--repeats` must be >= 1. Received: {args.batch}, {args.repeats}"
        )
    if any(s < 32 for s in args.sizes):
        raise ValueError(f"`--sizes` must all be >= 32 (total stride). Received: {args.sizes}")

    from benchmarks._util import format_table, load_average, write_atomic, write_json

    load_before = load_average()
    rows = measure(args)
    report = "\n".join(
        [
            f"## Inference time vs multiply-adds (float32, batch {args.batch}, "
            f"median of {args.repeats})",
            format_table(["model", "input", "GMAC/image", "ms/image", "GMAC/s"], rows),
            f"\nload average before {load_before}, after {load_average()}",
        ]
    )
    print(report)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_atomic(os.path.join(args.out, "scaling.md"), report + "\n")
        write_json(
            os.path.join(args.out, "scaling.json"),
            {"args": vars(args), "rows": rows, "load_before": load_before},
        )
        plot(rows, os.path.join(args.out, "scaling.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
