"""ResNet-50 training step on one GPU: keras_convnets (Keras 3, JAX backend) vs torchvision.

Each framework runs in its own process (JAX takes most of the GPU's memory when
it starts, so the two cannot share one), one after the other on the same GPU:

* ``keras-jax``: ``keras_convnets.models.resnet.ResNet50`` with ``KERAS_BACKEND=jax``;
  a jitted step built from ``model.stateless_call`` and
  ``optimizer.stateless_apply`` (the loop of Keras' "training loop from scratch
  in JAX" guide), inputs already on the device, buffers donated.
* ``keras-fit``: the same model through ``model.train_on_batch`` (the path
  ``fit`` takes, with its per-step Python and host transfers), batch 256 only.
* ``torch-eager`` / ``torch-compile``: ``torchvision.models.resnet50``,
  channels_last, ``torch.autocast`` for bfloat16, with and without
  ``torch.compile``.

Precision: ``float32`` lets TF32 tensor cores run the convolutions in both
frameworks (XLA's default precision on Hopper; torch's cuDNN default, and
``set_float32_matmul_precision("high")`` for the classifier), so the pair is
like for like. ``bfloat16`` is Keras' ``mixed_bfloat16`` policy vs torch autocast:
float32 weights, bfloat16 compute. Optimizer: SGD, momentum 0.9, both.

Figure: images/s, the median of ``--repeats`` timings of ``--steps`` steps each,
after ``--warmup`` steps (compilation is excluded).

Example (CPU, seconds; needs jax and torch installed)::

    python -m benchmarks.bench_gpu_training --quick

On the GPU machine::

    PYTHONUNBUFFERED=1 python3 -m benchmarks.bench_gpu_training --out $OUT
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PRECISIONS = ("float32", "bfloat16")
FRAMEWORKS = ("keras-jax", "keras-fit", "torch-eager", "torch-compile")


def _time_steps(step, sync, *, steps, repeats, batch):
    """Median images/s over ``repeats`` blocks of ``steps`` steps; ``sync`` waits for the device."""
    rates = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rates.append(batch * steps / (time.perf_counter() - start))
    return statistics.median(rates), rates


def _emit(result, path):
    # One JSON line per measurement, appended as soon as it exists, so that a
    # run stopped by its time limit still leaves what it measured.
    line = json.dumps(result)
    print("RESULT " + line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def run_keras(args):
    """Times keras_convnets' ResNet-50 training step on the JAX backend."""
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras
    import numpy as np

    # Only the model's module: the package import must not need TensorFlow
    # either (checked below and reported).
    from keras_convnets.models import resnet

    tf_loaded = "tensorflow" in sys.modules
    device = str(jax.devices()[0])
    size = args.image_size
    for precision in args.precisions:
        policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
        for batch in args.batch_sizes:
            keras.backend.clear_session()
            keras.config.set_dtype_policy(policy)
            model = resnet.ResNet50(weights=None, input_shape=(size, size, 3), classes=1000)
            optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
            optimizer.build(model.trainable_variables)
            loss_fn = keras.losses.SparseCategoricalCrossentropy()

            def compute_loss(trainable, non_trainable, x, y, model=model, loss_fn=loss_fn):
                y_pred, non_trainable = model.stateless_call(
                    trainable, non_trainable, x, training=True
                )
                return loss_fn(y, y_pred), non_trainable

            grad_fn = jax.value_and_grad(compute_loss, has_aux=True)

            def train_step(state, x, y, grad_fn=grad_fn, optimizer=optimizer):
                trainable, non_trainable, opt_vars = state
                (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
                trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
                return loss, (trainable, non_trainable, opt_vars)

            jitted = jax.jit(train_step, donate_argnums=0)
            rng = np.random.default_rng(0)
            x = jax.device_put(rng.standard_normal((batch, size, size, 3), dtype=np.float32))
            y = jax.device_put(rng.integers(0, 1000, size=(batch,)).astype(np.int32))
            state = [
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                [v.value for v in optimizer.variables],
            ]
            holder = {"state": state, "loss": None}

            def step(holder=holder, jitted=jitted, x=x, y=y):
                holder["loss"], holder["state"] = jitted(holder["state"], x, y)

            def sync(holder=holder):
                if holder["loss"] is not None:
                    holder["loss"].block_until_ready()

            t0 = time.perf_counter()
            step()
            sync()
            compile_s = time.perf_counter() - t0
            for _ in range(args.warmup):
                step()
            loss = float(holder["loss"])
            median, rates = _time_steps(
                step, sync, steps=args.steps, repeats=args.repeats, batch=batch
            )
            _emit(
                {
                    "framework": "keras-jax",
                    "precision": precision,
                    "batch": batch,
                    "images_per_s": median,
                    "runs": rates,
                    "compile_s": compile_s,
                    "loss_after_warmup": loss,
                    "device": device,
                    "tensorflow_imported": tf_loaded,
                    "versions": {
                        "jax": jax.__version__,
                        "keras": keras.__version__,
                    },
                },
                args.results,
            )
            # The jitted step donated the variables' buffers: give the model the
            # step's final state before Keras' own loop reads the variables.
            trainable, non_trainable, _ = holder["state"]
            for variable, value in zip(model.trainable_variables, trainable):
                variable.assign(value)
            for variable, value in zip(model.non_trainable_variables, non_trainable):
                variable.assign(value)
            if (
                "keras-fit" in args.frameworks
                and batch == max(args.batch_sizes)
                and precision == "bfloat16"
            ):
                _keras_fit(args, model, x, y, batch, precision, device)
            del holder, state, model, optimizer


def _keras_fit(args, model, x, y, batch, precision, device):
    """The same model through ``train_on_batch``: what ``fit`` costs over the bare step."""
    import keras

    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=True,
    )
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    compile_s = time.perf_counter() - t0
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    # train_on_batch returns host numbers, so each call already waits.
    median, rates = _time_steps(
        lambda: model.train_on_batch(x, y),
        lambda: None,
        steps=args.steps,
        repeats=args.repeats,
        batch=batch,
    )
    _emit(
        {
            "framework": "keras-fit",
            "precision": precision,
            "batch": batch,
            "images_per_s": median,
            "runs": rates,
            "compile_s": compile_s,
            "device": device,
        },
        args.results,
    )


def run_torch(args):
    """Times torchvision's ResNet-50 training step, eager and compiled."""
    import torch
    import torchvision
    from torch.nn import functional

    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    # TF32 for the classifier's matmul too, as XLA does by default on Hopper.
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.benchmark = True
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    size = args.image_size
    modes = [m for m in ("torch-eager", "torch-compile") if m in args.frameworks]
    for mode in modes:
        for precision in args.precisions:
            for batch in args.batch_sizes:
                if mode == "torch-compile":
                    # A compile costs about a minute per shape: largest batch only.
                    if batch != max(args.batch_sizes):
                        continue
                    if time.time() > args.deadline:
                        print(f"skip {mode} {precision} {batch}: past --budget-s", flush=True)
                        continue
                torch.manual_seed(0)
                model = torchvision.models.resnet50().to(dev, memory_format=torch.channels_last)
                model.train()
                opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
                x = torch.randn(batch, 3, size, size, device=dev).to(
                    memory_format=torch.channels_last
                )
                y = torch.randint(0, 1000, (batch,), device=dev)
                bf16 = precision == "bfloat16"

                def forward_backward(model=model, opt=opt, x=x, y=y, bf16=bf16):
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                        loss = functional.cross_entropy(model(x), y)
                    loss.backward()
                    return loss

                fwd_bwd = torch.compile(forward_backward) if mode == "torch-compile" else None
                holder = {"loss": None}

                def step(fwd_bwd=fwd_bwd or forward_backward, opt=opt, holder=holder):
                    opt.zero_grad(set_to_none=True)
                    holder["loss"] = fwd_bwd()
                    opt.step()

                def sync():
                    if cuda:
                        torch.cuda.synchronize()

                t0 = time.perf_counter()
                step()
                sync()
                compile_s = time.perf_counter() - t0
                for _ in range(args.warmup):
                    step()
                loss = float(holder["loss"].detach())
                median, rates = _time_steps(
                    step, sync, steps=args.steps, repeats=args.repeats, batch=batch
                )
                _emit(
                    {
                        "framework": mode,
                        "precision": precision,
                        "batch": batch,
                        "images_per_s": median,
                        "runs": rates,
                        "compile_s": compile_s,
                        "loss_after_warmup": loss,
                        "device": device,
                        "versions": {
                            "torch": torch.__version__,
                            "torchvision": torchvision.__version__,
                        },
                    },
                    args.results,
                )
                del model, opt, x, y, holder
                if cuda:
                    torch.cuda.empty_cache()


def _table(results, batch_sizes, precisions):
    from benchmarks._util import format_table

    by_key = {(r["framework"], r["precision"], r["batch"]): r for r in results}
    rows = []
    for precision in precisions:
        for batch in batch_sizes:
            ours = by_key.get(("keras-jax", precision, batch))
            fit = by_key.get(("keras-fit", precision, batch))
            eager = by_key.get(("torch-eager", precision, batch))
            comp = by_key.get(("torch-compile", precision, batch))

            def rate(r):
                return r["images_per_s"] if r else float("nan")

            best_torch = max(rate(eager), rate(comp), key=lambda v: -1 if v != v else v)
            rows.append(
                [
                    precision,
                    batch,
                    rate(ours),
                    rate(fit),
                    rate(eager),
                    rate(comp),
                    rate(ours) / best_torch if ours and best_torch == best_torch else float("nan"),
                ]
            )
    headers = [
        "precision",
        "batch",
        "keras_convnets (JAX jit step) img/s",
        "keras train_on_batch img/s",
        "torchvision eager img/s",
        "torchvision torch.compile img/s",
        "ours / best torch",
    ]
    return format_table(headers, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=10, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings; the median is reported")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--budget-s", type=float, default=330, help="torch.compile rows are skipped after this"
    )
    parser.add_argument("--out", default=None, help="folder for the table and the JSON")
    parser.add_argument("--quick", action="store_true", help="tiny CPU-sized run (smoke test)")
    parser.add_argument("--worker", choices=("keras", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.image_size = [2], 32
        args.steps, args.repeats, args.warmup = 1, 2, 1
        # torch.compile takes minutes on a CPU: not part of the smoke run.
        args.frameworks = [f for f in args.frameworks if f != "torch-compile"]
    if any(b < 1 for b in args.batch_sizes):
        raise ValueError(f"`--batch-sizes` must all be >= 1. Received: {args.batch_sizes}")
    if args.image_size < 32:
        raise ValueError(
            f"`--image-size` must be >= 32 (ResNet-50's total stride). Received: {args.image_size}"
        )
    if args.worker == "keras":
        run_keras(args)
        return 0
    if args.worker == "torch":
        run_torch(args)
        return 0

    from benchmarks._util import write_atomic, write_json

    out = args.out or os.path.join("runs", "bench_gpu_training")
    os.makedirs(out, exist_ok=True)
    results_path = os.path.join(out, "gpu_train_step.jsonl")
    if os.path.exists(results_path):
        os.remove(results_path)
    deadline = time.time() + args.budget_s
    common = [
        "--batch-sizes",
        *map(str, args.batch_sizes),
        "--precisions",
        *args.precisions,
        "--frameworks",
        *args.frameworks,
        "--image-size",
        str(args.image_size),
        "--steps",
        str(args.steps),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--results",
        results_path,
        "--deadline",
        str(deadline),
    ]
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONUNBUFFERED="1")
    status = {}
    workers = []
    if {"keras-jax", "keras-fit"} & set(args.frameworks):
        workers.append("keras")
    if {"torch-eager", "torch-compile"} & set(args.frameworks):
        workers.append("torch")
    for worker in workers:
        cmd = [sys.executable, "-m", "benchmarks.bench_gpu_training", "--worker", worker, *common]
        status[worker] = subprocess.run(cmd, env=env, check=False).returncode
    results = []
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = [json.loads(line) for line in f if line.strip()]
    table = _table(results, args.batch_sizes, args.precisions)
    print(table)
    write_atomic(os.path.join(out, "gpu_train_step.md"), table + "\n")
    write_json(
        os.path.join(out, "gpu_train_step.json"),
        {"args": vars(args), "worker_exit_codes": status, "results": results},
    )
    return 0 if all(code == 0 for code in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
