"""Achieved multiply-adds/s vs this CPU's peak, float32 and bfloat16.

Peak, derived and printed with every assumption:

* float32: cores x clock x FMA pipes per core x lanes per FMA (AVX-512: 16
  float32 lanes; AVX2: 8). One FMA lane-op is one multiply-add.
* bfloat16 (``avx512_bf16``): ``VDPBF16PS`` does 32 bfloat16 products per
  512-bit instruction, summed in pairs into 16 float32 lanes: 32 MACs per
  instruction, twice float32's rate on the same pipes.
* AMX (``amx_bf16``): 1024 bfloat16 MACs per cycle per core (Intel's TMUL,
  16x32 by 32x16 tiles); only if the flags say so.

The clock is ``cpu MHz`` of ``/proc/cpuinfo`` (the nominal clock on a VM;
boost can be higher, so the fraction can be overstated) unless ``--ghz`` is
given. FMA pipes: 2 by default (Zen 4 and Zen 5, Xeon Gold/Platinum); Zen 4
(family 25) splits a 512-bit FMA into two 256-bit halves, so it counts 8
lanes per pipe. Override with ``--fma-units`` and ``--lanes``.

Achieved: a large matrix product and a ResNet-50 3x3 convolution through
TensorFlow (oneDNN), and ResNet-50 inference (batch 32), each in float32 and
bfloat16; multiply-adds counted by shape (and by ``keras_convnets.cost`` for
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
    notes.append(f"{fma_units} FMA pipes/core x {lanes} float32 lanes at {ghz:.3f} GHz (nominal)")
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
    from keras_convnets import cost, resnet

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
    parser.add_argument("--ghz", type=float, default=None, help="clock (default: cpu MHz)")
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
    p = peak(facts, ghz=args.ghz, fma_units=args.fma_units, lanes=args.lanes)
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
