"""Inference images/s: keras_convnets vs keras.applications, float32 vs mixed_bfloat16, XLA on/off.

For each model pair (``resnet50``: ``keras_convnets.ResNet50`` and
``keras.applications.ResNet50``; ``inception_v3``: the same for InceptionV3)
the four models (ours and theirs, float32 and mixed_bfloat16) are built in this
process, and every timing round runs all four in turn (A, B, C, D, A, B, ...):
load from other processes then hits them alike, and the *ratios* of medians
are the figures to read. Paths:

* ``predict_on_batch``: Keras' own predict step (no XLA on a CPU-only
  TensorFlow: ``jit_compile="auto"`` resolves to False there);
* ``tf.function``: ``model(x, training=False)`` in a ``tf.function``;
* ``tf.function+xla``: the same with ``jit_compile=True``.

``--folded`` compares instead :func:`keras_convnets.optimize_for_inference` (BN
folded, ReLU fused; float32, and bfloat16 weights) with keras.applications'
float32 and mixed_bfloat16 models holding the same weights (GoogLeNet: with our
unfolded GoogLeNet), with the fraction of this CPU's peak (CPU 4) and the op
counts of both bf16 graphs.

``--explain`` adds why bfloat16 gains what it gains: the op histogram of the
traced mixed_bfloat16 graph (convolutions in bfloat16; batch normalization
computed in float32 between two casts) and a micro-benchmark of one
convolution alone and with its BN and ReLU, float32 vs bfloat16.

Example::

    python -m benchmarks.bench_inference --quick
    python -m benchmarks.bench_inference --folded --batch-sizes 1 32 --rounds 5
    python -m benchmarks.bench_inference --models resnet50 --batch-sizes 1 32 --rounds 5
"""

from __future__ import annotations

import argparse
import collections
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("resnet50", "inception_v3")
PATHS = ("predict_on_batch", "tf.function", "tf.function+xla")
PRECISIONS = ("float32", "mixed_bfloat16")


def build_pair(name, precision, input_shape):
    """``(ours, keras.applications)`` for ``name`` under dtype policy ``precision``."""
    import keras

    keras.config.set_dtype_policy(precision)
    try:
        if name == "resnet50":
            from keras_convnets.models import resnet

            ours = resnet.ResNet50(weights=None, input_shape=input_shape)
            theirs = keras.applications.ResNet50(weights=None, input_shape=input_shape)
        elif name == "inception_v3":
            from keras_convnets.models import inception_v3

            # Without the auxiliary head: the same network as keras.applications.
            ours = inception_v3.InceptionV3(weights=None, input_shape=input_shape, aux_logits=False)
            theirs = keras.applications.InceptionV3(weights=None, input_shape=input_shape)
        else:
            raise ValueError(f"`name` must be one of {MODELS}. Received: name={name!r}")
    finally:
        keras.config.set_dtype_policy("float32")
    return ours, theirs


def runner(model, path, x):
    """A no-argument callable running ``model`` on ``x`` by ``path``, returning host values."""
    import tensorflow as tf

    if path == "predict_on_batch":
        return lambda: model.predict_on_batch(x)
    if path not in PATHS:
        raise ValueError(f"`path` must be one of {PATHS}. Received: path={path!r}")
    fn = tf.function(lambda t: model(t, training=False), jit_compile=path.endswith("xla"))
    tensor = tf.constant(x)
    return lambda: fn(tensor).numpy()


def default_shape(name):
    return (299, 299, 3) if name == "inception_v3" else (224, 224, 3)


def measure(args):
    """Rows ``[model, path, batch, precision, ours, theirs, ratio]`` and bf16 speedups."""
    import numpy as np

    from benchmarks._util import alternating_rates

    rows, speedups = [], []
    for name in args.models:
        shape = (args.image_size,) * 2 + (3,) if args.image_size else default_shape(name)
        models = {p: build_pair(name, p, shape) for p in args.precisions}
        for path in args.paths:
            for batch in args.batch_sizes:
                x = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype("float32")
                fns = {}
                for precision, (ours, theirs) in models.items():
                    fns[("ours", precision)] = runner(ours, path, x)
                    fns[("theirs", precision)] = runner(theirs, path, x)
                for fn in fns.values():  # trace/compile and warm up, outside the timings
                    for _ in range(args.warmup):
                        fn()
                rates = alternating_rates(fns, items=batch, rounds=args.rounds)
                for precision in args.precisions:
                    ours = rates[("ours", precision)]["median"]
                    theirs = rates[("theirs", precision)]["median"]
                    rows.append([name, path, batch, precision, ours, theirs, ours / theirs])
                if {"float32", "mixed_bfloat16"} <= set(args.precisions):
                    for who in ("ours", "theirs"):
                        speedups.append(
                            [
                                name,
                                who,
                                path,
                                batch,
                                rates[(who, "float32")]["median"],
                                rates[(who, "mixed_bfloat16")]["median"],
                                rates[(who, "mixed_bfloat16")]["median"]
                                / rates[(who, "float32")]["median"],
                            ]
                        )
    return rows, speedups


def op_histogram(model, batch=1):
    """``{(op type, dtype): count}`` of the inference graph of ``model`` (float32 input)."""
    import tensorflow as tf

    shape = (batch, *model.input_shape[1:])
    fn = tf.function(lambda t: model(t, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32)).graph
    counts = collections.Counter()
    for op in graph.get_operations():
        if op.type in ("Placeholder", "Const", "Identity", "NoOp", "ReadVariableOp"):
            continue
        dtype = op.outputs[0].dtype.name if op.outputs else "-"
        if op.type == "Cast":
            dtype = f"{op.inputs[0].dtype.name}->{dtype}"
        counts[(op.type, dtype)] += 1
    return counts


def explain(args):
    """Op histogram of our mixed_bfloat16 ResNet-50 and a conv / conv+BN+ReLU micro-benchmark."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks._util import alternating_rates
    from keras_convnets.models import resnet

    size = args.image_size or 224
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = resnet.ResNet50(weights=None, input_shape=(size, size, 3))
    finally:
        keras.config.set_dtype_policy("float32")
    hist = op_histogram(model)
    top = sorted(hist.items(), key=lambda kv: -kv[1])[:12]
    hist_rows = [[op, dtype, n] for (op, dtype), n in top]

    # One 3x3 convolution of ResNet-50's conv4 stage (14x14x256 -> 256), alone
    # and followed by BN and ReLU as the blocks have it.
    batch, hw, ch = args.micro_batch, 14, 256
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, hw, hw, ch)), tf.float32)
    fns, layers_built = {}, []
    for precision in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(precision)
        try:
            conv = keras.layers.Conv2D(ch, 3, padding="same", use_bias=False)
            bn = keras.layers.BatchNormalization()
            relu = keras.layers.Activation("relu")
        finally:
            keras.config.set_dtype_policy("float32")
        layers_built.append((conv, bn, relu))
        xin = tf.cast(x, conv.compute_dtype)
        conv_only = tf.function(lambda t, c=conv: c(t))
        full = tf.function(lambda t, c=conv, b=bn, r=relu: r(b(c(t), training=False)))
        fns[("conv", precision)] = lambda f=conv_only, t=xin: f(t).numpy()
        fns[("conv+bn+relu", precision)] = lambda f=full, t=xin: f(t).numpy()
    for fn in fns.values():
        fn()
        fn()
    rates = alternating_rates(fns, items=batch, rounds=args.rounds)
    macs = batch * hw * hw * ch * 9 * ch
    micro_rows = []
    for what in ("conv", "conv+bn+relu"):
        f32 = rates[(what, "float32")]["median"]
        b16 = rates[(what, "mixed_bfloat16")]["median"]
        micro_rows.append(
            [what, f32, b16, b16 / f32, macs / batch * f32 / 1e9, macs / batch * b16 / 1e9]
        )
    return hist_rows, micro_rows, without_bn(args)


def strip_batchnorm(model):
    """A copy of ``model`` whose BatchNormalization layers are identities (same weights elsewhere).

    At inference BN is an affine map that folding merges into the preceding
    convolution (ours already has a bias), so this copy bounds what folding BN
    would give. Its outputs differ from the model's: it is for timing only.
    """
    import keras

    class PassThrough(keras.layers.Layer):
        # Takes BN's call arguments (the graph replays them), returns the input.
        def call(self, inputs, training=None, mask=None):
            return inputs

    def clone(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            return PassThrough(name=layer.name, dtype=layer.dtype_policy)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def without_bn(args):
    """Rows ``[variant, float32, bf16, bf16/f32]``: ResNet-50 with and without its BN layers."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks._util import alternating_rates
    from keras_convnets.models import resnet

    size = args.image_size or 224
    batch = args.micro_batch
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)), tf.float32)
    fns = {}
    for precision in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(precision)
        try:
            model = resnet.ResNet50(weights=None, input_shape=(size, size, 3))
            stripped = strip_batchnorm(model)
        finally:
            keras.config.set_dtype_policy("float32")
        for variant, m in (("with BN", model), ("BN removed", stripped)):
            fn = tf.function(lambda t, m=m: m(t, training=False))
            fns[(variant, precision)] = lambda f=fn: f(x).numpy()
    for fn in fns.values():
        fn()
        fn()
    rates = alternating_rates(fns, items=batch, rounds=args.rounds)
    rows = []
    for variant in ("with BN", "BN removed"):
        f32 = rates[(variant, "float32")]["median"]
        b16 = rates[(variant, "mixed_bfloat16")]["median"]
        rows.append([f"ResNet-50 {variant}", f32, b16, b16 / f32])
    return rows


FOLDED_MODELS = ("resnet50", "inception_v3", "googlenet")
# This CPU's peak multiply-adds/s (CPU 4, benchmarks/results/peak.json), for the fractions.
PEAK_GMACS = {"float32": 283.0, "bfloat16": 566.0}


def folded_variants(name, input_shape):
    """``{label: model}``: the reference (float32, mixed_bfloat16) and ours folded (float32, bf16).

    The reference is keras.applications' network (ResNet-50, InceptionV3) or, for
    GoogLeNet, which keras.applications lacks, ours unfolded; every model holds the
    same weights (the keras.applications ones copied into ours by layer order).
    Returns the models and the multiply-adds per image.
    """
    import keras

    from keras_convnets import optimize_for_inference
    from keras_convnets.analysis import cost
    from keras_convnets.models import googlenet, inception_v3, resnet

    def reference():
        if name == "resnet50":
            return keras.applications.ResNet50(weights=None, input_shape=input_shape)
        if name == "inception_v3":
            return keras.applications.InceptionV3(weights=None, input_shape=input_shape)
        return googlenet.GoogLeNet(weights=None, input_shape=input_shape, aux_logits=False)

    ref = reference()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        ref_bf16 = reference()
    finally:
        keras.config.set_dtype_policy("float32")
    ref_bf16.set_weights(ref.get_weights())
    if name == "resnet50":
        ours = resnet.ResNet50(weights=None, input_shape=input_shape)
    elif name == "inception_v3":
        ours = inception_v3.InceptionV3(
            weights=None, input_shape=input_shape, aux_logits=False, dropout=None
        )
    else:
        ours = ref
    if ours is not ref:
        ours.set_weights(ref.get_weights())
    models = {
        ("reference", "float32"): ref,
        ("reference", "bf16"): ref_bf16,
        ("folded", "float32"): optimize_for_inference(ours),
        ("folded", "bf16"): optimize_for_inference(ours, dtype="bfloat16"),
    }
    return models, cost.analyze(ours).macs


def measure_folded(args):
    """Rows ``[model, batch, precision, reference, folded, ratio, %peak ref, %peak folded]``."""
    import numpy as np

    from benchmarks._util import alternating_rates

    rows, parity, ops = [], [], []
    for name in args.folded_models:
        shape = (args.image_size,) * 2 + (3,) if args.image_size else default_shape(name)
        models, macs = folded_variants(name, shape)
        for key in (("reference", "bf16"), ("folded", "bf16")):
            hist = op_histogram(models[key])
            casts = sum(n for (op, _), n in hist.items() if op == "Cast")
            ops.append([name, key[0], sum(hist.values()), casts, _top_ops(hist)])
        x = np.random.default_rng(0).uniform(-1, 1, (4, *shape)).astype("float32")
        ref = np.asarray(models[("reference", "float32")](x, training=False))
        for key, model in models.items():
            diff = np.abs(np.asarray(model(x, training=False), np.float32) - ref).max()
            parity.append([name, *key, f"{diff:.1e}"])
        for batch in args.batch_sizes:
            x = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype("float32")
            fns = {key: runner(model, "tf.function", x) for key, model in models.items()}
            for fn in fns.values():
                for _ in range(args.warmup):
                    fn()
            rates = alternating_rates(fns, items=batch, rounds=args.rounds)
            for precision in ("float32", "bf16"):
                ref_rate = rates[("reference", precision)]["median"]
                ours_rate = rates[("folded", precision)]["median"]
                peak = PEAK_GMACS["float32" if precision == "float32" else "bfloat16"] * 1e9
                rows.append(
                    [name, batch, precision, ref_rate, ours_rate, ours_rate / ref_rate,
                     100 * ref_rate * macs / peak, 100 * ours_rate * macs / peak]
                )  # fmt: skip
    return rows, parity, ops


def _top_ops(hist, n=6):
    top = sorted(hist.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{op} {dtype} {count}" for (op, dtype), count in top)


def folded_report(args):
    """The Markdown of ``--folded`` and its JSON payload."""
    from benchmarks._util import format_table

    rows, parity, ops = measure_folded(args)
    text = [
        f"## Folded (optimize_for_inference) vs reference, tf.function, images/s "
        f"(median of {args.rounds} alternating rounds)",
        "reference: keras.applications (GoogLeNet: ours unfolded); bf16: reference "
        "mixed_bfloat16, folded bfloat16 weights",
        format_table(
            [
                "model",
                "batch",
                "precision",
                "reference",
                "folded",
                "folded/ref",
                "% peak ref",
                "% peak folded",
            ],
            rows,
        ),  # fmt: skip
        "",
        "## Largest probability difference from the float32 reference (4 random images)",
        format_table(["model", "variant", "precision", "max abs dprob"], parity),
        "",
        "## Ops of the bf16 inference graphs (traced tf.function, batch 1)",
        format_table(["model", "graph", "ops", "casts", "most frequent"], ops),
    ]
    return text, {"rows": rows, "parity": parity, "ops": ops}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--image-size", type=int, default=None, help="default: the model's own")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--explain", action="store_true", help="op histogram + micro-benchmark")
    parser.add_argument("--micro-batch", type=int, default=32)
    parser.add_argument("--out", default=None, help="write the tables and JSON here")
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    parser.add_argument(
        "--folded", action="store_true", help="only: optimize_for_inference vs the reference"
    )
    parser.add_argument(
        "--folded-models", nargs="+", choices=FOLDED_MODELS, default=list(FOLDED_MODELS)
    )
    args = parser.parse_args(argv)
    if args.quick and args.folded:
        args.folded_models, args.batch_sizes = ["resnet50"], [2]
        args.image_size, args.rounds, args.warmup = 32, 2, 1
    elif args.quick:
        args.models, args.paths, args.batch_sizes = ["resnet50"], ["tf.function"], [2]
        args.image_size, args.rounds, args.warmup, args.micro_batch = 32, 2, 1, 2
    if any(b < 1 for b in args.batch_sizes):
        raise ValueError(f"`--batch-sizes` must all be >= 1. Received: {args.batch_sizes}")
    if args.rounds < 1:
        raise ValueError(f"`--rounds` must be >= 1. Received: {args.rounds}")

    from benchmarks._util import format_table, machine_summary, write_atomic, write_json

    before = machine_summary()
    if args.folded:
        return _main_folded(args, before)
    rows, speedups = measure(args)
    text = [
        f"## Inference images/s, alternating runs (median of {args.rounds})",
        format_table(
            ["model", "path", "batch", "precision", "ours", "keras.applications", "ours/theirs"],
            rows,
        ),
    ]
    if speedups:
        text += [
            "",
            "## mixed_bfloat16 vs float32 (same rounds)",
            format_table(
                ["model", "impl", "path", "batch", "float32", "mixed_bfloat16", "bf16/f32"],
                speedups,
            ),
        ]
    explained = None
    if args.explain:
        hist_rows, micro_rows, bn_rows = explain(args)
        explained = {"histogram": hist_rows, "micro": micro_rows, "without_bn": bn_rows}
        text += [
            "",
            "## Ops of our mixed_bfloat16 ResNet-50 inference graph (top 12)",
            format_table(["op", "dtype", "count"], hist_rows),
            "",
            f"## One 3x3 conv 14x14x256->256 (batch {args.micro_batch}), images/s and GMAC/s",
            format_table(
                ["layers", "float32", "bfloat16", "bf16/f32", "f32 GMAC/s", "bf16 GMAC/s"],
                micro_rows,
            ),
            "",
            f"## ResNet-50 with and without BN (tf.function, batch {args.micro_batch}), images/s",
            format_table(["model", "float32", "mixed_bfloat16", "bf16/f32"], bn_rows),
        ]
    after = machine_summary()
    text.append(
        f"\nload average before {before['load_average']}, after {after['load_average']}; "
        f"{before['date_utc']} UTC"
    )
    report = "\n".join(text)
    print(report)
    if args.out:
        write_atomic(os.path.join(args.out, "inference.md"), report + "\n")
        write_json(
            os.path.join(args.out, "inference.json"),
            {
                "args": vars(args),
                "machine": before,
                "load_after": after["load_average"],
                "rows": rows,
                "speedups": speedups,
                "explain": explained,
            },
        )
    return 0


def _main_folded(args, before):
    from benchmarks._util import machine_summary, write_atomic, write_json

    text, payload = folded_report(args)
    after = machine_summary()
    text.append(
        f"\nload average before {before['load_average']}, after {after['load_average']}; "
        f"{before['date_utc']} UTC"
    )
    report = "\n".join(text)
    print(report)
    if args.out:
        write_atomic(os.path.join(args.out, "inference_folded.md"), report + "\n")
        write_json(
            os.path.join(args.out, "inference_folded.json"),
            {"args": vars(args), "machine": before, "load_after": after["load_average"],
             **payload},
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
