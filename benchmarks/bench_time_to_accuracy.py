"""Benchmark: time to accuracy of the fast recipe against the paper recipe, side by side.

    python -m benchmarks.bench_time_to_accuracy --out=runs/tta            # everything
    python -m benchmarks.bench_time_to_accuracy --parts=equal_steps,bf16  # minutes

Same network (``--model``, ResNet-20 by default, built for 28x28x1), same data
(Fashion-MNIST from the local IDX files), same machine, one process, one run
after the other. Parts (``--parts``):

* ``rates``: training images/s of the paper recipe's step (batch 128) and the
  fast recipe's (its batch, Nesterov, label smoothing) on the same net,
  alternated (A, B, A, B) so that the machine's load hits both alike; the
  curves' time axes use them (the epoch's steps x batch / images/s).
* ``curve``: the paper recipe (``resnet_cifar``, ``--paper_epochs``) and the fast
  recipe (``--fast_epochs``) on all 60,000 training images; the 10,000 test
  images are evaluated after every epoch to draw the curve (nothing is chosen
  by them). Time is training time from the ``rates`` part (start-up and the
  per-epoch test evaluations, which both recipes pay alike, excluded; the run's
  own measured seconds are recorded too). ``--paper_history`` takes the paper
  recipe's accuracy per epoch from an earlier full run instead of training it.
  Prints each recipe's final accuracy, the time each needs to reach the paper
  recipe's final accuracy, and their ratio; writes ``curves.csv`` and
  ``curves.png``.
* ``equal_steps``: both recipes for ``--short_epochs`` epochs (their own
  schedules compressed to that length), the test accuracy at the end.
* ``ablation``: the fast recipe with each technique removed in turn, on the
  54,000/6,000 train/validation split (the test set is not read), for
  ``--ablation_epochs``; the validation accuracy of each.
* ``bf16``: training images/s of the fast recipe in float32 and in
  mixed_bfloat16, alternated (A, B, A, B) on the same net; and the test
  accuracy of a float32 and a bf16 run of ``--bf16_epochs`` (default
  ``--short_epochs``). Records the CPU's AVX-512/AMX flags: without them
  bf16 is emulated.

Results go to ``--out``/results.json (merged across invocations, so parts can
run separately); BENCHMARKS.md "CPU 10" reports them with this command.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time

from benchmarks import _util
from keras_convnets import atomic

PARTS = ("rates", "equal_steps", "curve", "ablation", "bf16")

# (name, recipe_options) of the ablation: each removes one technique of the fast recipe.
ABLATION = (
    ("fast (all techniques)", None),
    ("- warm-up + linear decay (step /10 at 50%, 75%)", "schedule=piecewise,milestones=0.5:0.75"),
    ("- Nesterov (plain momentum)", "nesterov=false"),
    ("- label smoothing", "label_smoothing=0"),
    ("+ zero-init residuals", "zero_init_residual=true"),
    ("+ cutout 0.25", "cutout=0.25"),
    ("- weight decay 5e-4 (the paper's 1e-4)", "weight_decay=0.0001"),
    ("- batch 128 (batch 512, rate scaled to 0.8)", "base_batch=512,base_lr=0.8"),
)


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/time_to_accuracy", help="Folder of runs and results.")
    p.add_argument("--model", default="resnet20", help="A registered CIFAR-style network.")
    p.add_argument("--parts", default=",".join(PARTS), help="Comma list.")
    p.add_argument("--paper_epochs", type=float, default=30.0, help="Paper recipe length.")
    p.add_argument("--fast_epochs", type=float, default=8.0, help="Fast recipe length.")
    p.add_argument("--short_epochs", type=float, default=2.0, help="equal_steps/bf16 length.")
    p.add_argument("--ablation_epochs", type=float, default=2.0, help="Each ablation run.")
    p.add_argument("--bf16_epochs", type=float, default=None, help="bf16 accuracy twins.")
    p.add_argument("--timed_steps", type=int, default=10, help="Steps per timed round.")
    p.add_argument(
        "--paper_history",
        default=None,
        help="curve: take the paper recipe's accuracy per epoch from this history.csv of an "
        "earlier full run (same code, seed and data) instead of training it again.",
    )
    p.add_argument("--data_dir", default=None, help="IDX folder (default: the Debian one).")
    p.add_argument("--max_train_examples", type=int, default=None, help="Smoke runs only.")
    p.add_argument("--max_eval_examples", type=int, default=None, help="Smoke runs only.")
    p.add_argument("--verbose", type=int, default=2, help="0, 1 (bar) or 2 (line per epoch).")
    args = p.parse_args(argv)
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        p.error(f"--parts: unknown {unknown}; allowed: {', '.join(PARTS)}")
    args.parts = parts
    return args


def _train(args, name, recipe, *, epochs, val_fraction=0.0, options=None, precision="float32"):
    """One run in ``out/name``: ``(summary, history rows)``; a finished run is read back."""
    from keras_convnets.training import TrainConfig, train

    model_dir = os.path.join(args.out, name)
    summary_path = os.path.join(model_dir, "summary.json")
    batch = _batch(recipe, options)
    cfg = TrainConfig(
        recipe=recipe,
        model=args.model,
        dataset="fashion_mnist",
        data_dir=args.data_dir,
        model_dir=model_dir,
        batch_size=batch,
        epochs=epochs,
        input_shape="native",
        val_fraction=val_fraction,
        recipe_options=options,
        precision=precision,
        max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples,
        checkpoint_every=100_000,  # epoch ends only: checkpoints are not what is measured
        log_every=100,
        verbose=args.verbose,
        plots=False,
    )
    if not os.path.isfile(summary_path):
        train(cfg)
    with open(summary_path) as f:
        summary = json.load(f)
    with open(os.path.join(model_dir, "history.csv")) as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return summary, rows


def time_to(rows, accuracy) -> float | None:
    """Cumulative training seconds at the first epoch end whose accuracy is >= ``accuracy``.

    Example:
        >>> time_to([{"seconds": 10, "val_accuracy": 0.5}, {"seconds": 10, "val_accuracy": 0.9}],
        ...         0.8)
        20.0
    """
    elapsed = 0.0
    for row in rows:
        elapsed += row["seconds"]
        if row["val_accuracy"] >= accuracy - 1e-12:
            return float(elapsed)
    return None


def part_curve(args, results):
    if args.paper_history:
        with open(args.paper_history) as f:
            paper_rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        paper = {"test_accuracy": paper_rows[-1]["val_accuracy"]}
    else:
        paper, paper_rows = _train(args, "curve_paper", "resnet_cifar", epochs=args.paper_epochs)
    fast, fast_rows = _train(args, "curve_fast", "fast", epochs=args.fast_epochs)
    rates, timing = _curve_rates(args, results, paper, fast)
    paper_rows = _retime(paper_rows, PAPER_BATCH, rates["paper"])
    fast_rows = _retime(fast_rows, _batch("fast"), rates["fast"])
    target = paper["test_accuracy"]
    t_paper, t_fast = time_to(paper_rows, target), time_to(fast_rows, target)
    paper_total = sum(r["seconds"] for r in paper_rows)
    fast_total = sum(r["seconds"] for r in fast_rows)
    out = {
        "paper_source": args.paper_history or "trained in this invocation",
        "timing": timing,
        "images_per_second": rates,
        "paper_final_accuracy": target,
        "fast_final_accuracy": fast["test_accuracy"],
        "paper_train_seconds": paper_total,
        "fast_train_seconds": fast_total,
        "paper_seconds_to_paper_final": t_paper,
        "fast_seconds_to_paper_final": t_fast,
        "ratio_fast_over_paper_total": None if t_fast is None else t_fast / paper_total,
        "fast_accuracy_by_minute": _by_minute(fast_rows, (15, 30, 60)),
        "fast_accuracy_by_epoch": [r["val_accuracy"] for r in fast_rows],
        "fast_measured_train_seconds": fast["train_seconds"],
    }
    _write_curves(args.out, {"paper": paper_rows, "fast": fast_rows})
    results["curve"] = out
    print(
        f"curve ({timing}): paper recipe {target:.4f} after {paper_total:.0f} s; fast recipe "
        f"{fast['test_accuracy']:.4f} after {fast_total:.0f} s; fast reached {target:.4f} after "
        f"{t_fast if t_fast is None else round(t_fast)} s (ratio to the paper's total: "
        f"{out['ratio_fast_over_paper_total']})"
    )


def _batch(recipe, options=None):
    """The global batch of ``recipe``'s runs here: the paper's 128, the fast recipe's own
    (``options`` applied: ``base_batch=512`` trains at 512)."""
    from keras_convnets.training import config

    if recipe == "resnet_cifar":
        return 128
    return config.effective_recipe(recipe, options).base_batch


PAPER_BATCH = 128


def _curve_rates(args, results, paper, fast):
    """Training images/s of each recipe for the curves' time axes, and how they were measured."""
    if "rates" in results:
        return results["rates"]["images_per_second"], "alternating step rates (part rates)"
    if args.paper_history:
        measured = results.get("equal_steps")
        if measured is None:
            raise SystemExit("--paper_history needs the rates or equal_steps part first")
        rates = {"paper": measured["paper_images_per_second"], "fast": fast["images_per_second"]}
        return rates, "each recipe's own runs' images/s (equal_steps for the paper recipe)"
    rates = {"paper": paper["images_per_second"], "fast": fast["images_per_second"]}
    return rates, "each recipe's own run"


def _retime(rows, batch, rate):
    """``rows`` with ``seconds`` = the epoch's steps x ``batch`` / ``rate`` (images/s)."""
    out, previous = [], 0.0
    for row in rows:
        out.append({**row, "seconds": (row["step"] - previous) * batch / rate})
        previous = row["step"]
    return out


def _step_config(args, recipe, precision):
    """The resolved configuration of a full Fashion-MNIST run of ``recipe`` (for its step)."""
    from keras_convnets.training import config

    cfg = config.TrainConfig(recipe=recipe, model=args.model, dataset="fashion_mnist",
                             precision=precision, batch_size=_batch(recipe))  # fmt: skip
    return config.resolve(cfg, num_train=60_000, num_replicas=1, input_shape=(28, 28, 1),
                          classes=10)  # fmt: skip


def part_rates(args, results):
    """Training images/s of the paper recipe's step and the fast recipe's, on the same net."""

    paper = _step_config(args, "resnet_cifar", "float32")
    fast = _step_config(args, "fast", "float32")
    rates = _alternating_rates(args, {"paper": paper, "fast": fast}, rounds=3)
    results["rates"] = {"images_per_second": rates, "steps_per_round": args.timed_steps}
    print(f"rates: paper recipe {rates['paper']:.0f} img/s, fast {rates['fast']:.0f} img/s")


def _by_minute(rows, minutes):
    """The accuracy at the last epoch end before each of ``minutes`` of training."""
    found, elapsed = {}, 0.0
    for row in rows:
        elapsed += row["seconds"]
        for m in minutes:
            if elapsed <= 60 * m:
                found[str(m)] = row["val_accuracy"]
    return found


def _write_curves(folder, curves):
    lines = ["recipe,epoch,train_seconds,test_accuracy"]
    for name, rows in curves.items():
        elapsed = 0.0
        for row in rows:
            elapsed += row["seconds"]
            lines.append(f"{name},{row['epoch']:g},{elapsed:.2f},{row['val_accuracy']}")
    atomic.write_text(os.path.join(folder, "curves.csv"), "\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in curves.items():
        seconds = [sum(r["seconds"] for r in rows[: i + 1]) / 60 for i in range(len(rows))]
        ax.plot(seconds, [100 * r["val_accuracy"] for r in rows], marker=".", label=name)
    ax.set_xlabel("training time (minutes, 2 CPU cores)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(80, 96)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "curves.png"), dpi=120)
    plt.close(fig)


def part_equal_steps(args, results):
    epochs = args.short_epochs
    paper, _ = _train(args, "short_paper", "resnet_cifar", epochs=epochs)
    fast, _ = _train(args, "short_fast", "fast", epochs=epochs)
    results["equal_steps"] = {
        "epochs": epochs,
        "paper_test_accuracy": paper["test_accuracy"],
        "paper_steps": paper["steps"],
        "fast_test_accuracy": fast["test_accuracy"],
        "fast_steps": fast["steps"],
        "paper_train_seconds": paper["train_seconds"],
        "fast_train_seconds": fast["train_seconds"],
        "paper_images_per_second": paper["images_per_second"],
        "fast_images_per_second": fast["images_per_second"],
    }
    print(
        f"equal_steps ({epochs:g} epochs): paper recipe {paper['test_accuracy']:.4f} "
        f"({paper['steps']} steps of {PAPER_BATCH}, {paper['train_seconds']:.0f} s), fast recipe "
        f"{fast['test_accuracy']:.4f} ({fast['steps']} steps of {_batch('fast')}, "
        f"{fast['train_seconds']:.0f} s)"
    )


def part_ablation(args, results):
    table = []
    for i, (name, options) in enumerate(ABLATION):
        summary, _ = _train(
            args, f"ablation_{i}", "fast", epochs=args.ablation_epochs, val_fraction=0.1,
            options=options,
        )  # fmt: skip
        table.append(
            {
                "run": name,
                "recipe_options": options,
                "val_accuracy": summary["val_accuracy"],
                "train_seconds": summary["train_seconds"],
            }
        )
        print(f"ablation: {name:50s} val accuracy {summary['val_accuracy']:.4f}", flush=True)
    results["ablation"] = {"epochs": args.ablation_epochs, "runs": table}


def part_bf16(args, results):

    configs = {p: _step_config(args, "fast", p) for p in ("float32", "mixed_bfloat16")}
    rates = _alternating_rates(args, configs, rounds=2)
    epochs = args.bf16_epochs or args.short_epochs
    twins = {
        precision: _train(
            args, f"bf16_twin_{precision}", "fast", epochs=epochs, precision=precision
        )[0]["test_accuracy"]
        for precision in ("float32", "mixed_bfloat16")
    }
    results["bf16"] = {
        "images_per_second": rates,
        "speedup": rates["mixed_bfloat16"] / rates["float32"],
        "epochs": epochs,
        "test_accuracy": twins,
        "cpu_flags": _cpu_flags(),
    }
    print(
        f"bf16: {rates['mixed_bfloat16']:.0f} vs {rates['float32']:.0f} img/s float32 "
        f"(x{results['bf16']['speedup']:.2f}); test accuracy after {epochs:g} epochs "
        f"{twins['mixed_bfloat16']:.4f} (float32: {twins['float32']:.4f}); CPU: "
        f"{results['bf16']['cpu_flags']}"
    )


def _cpu_flags() -> str:
    """The CPU's AVX-512 / AMX flags (what decides whether bf16 runs natively), or 'none'."""
    try:
        with open("/proc/cpuinfo") as f:
            words = f.read().split()
    except OSError:
        return "unknown"
    found = sorted({w for w in words if w.startswith(("avx512", "amx"))})
    return " ".join(found) or "no avx512/amx flags"


def _alternating_rates(args, configs, *, rounds):
    """Training images/s of each ``{name: Resolved}`` step on the same net, A B A B, median."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_convnets.models import registry
    from keras_convnets.training import steps

    rng = np.random.default_rng(0)
    runners = {}
    for name, r in configs.items():
        keras.config.set_dtype_policy(r.precision)
        try:
            model = registry.get_model(args.model, input_shape=(28, 28, 1), classes=10)
        finally:
            keras.config.set_dtype_policy("float32")
        runner = steps.Steps(
            model=model, optimizer=steps.make_optimizer(r), strategy=tf.distribute.get_strategy(),
            resolved=r, output_names=["predictions"], ema_vars=[],
        )  # fmt: skip
        x = rng.normal(size=(r.global_batch, 28, 28, 1)).astype("float32")
        y = rng.integers(0, 10, size=(r.global_batch,))
        batch = (tf.constant(x), tf.constant(y))
        step = runner.train_step("full")
        for _ in range(3):
            step(batch)  # tracing and warm-up
        runners[name] = (step, batch, r.global_batch)

    def timed(step, batch):
        def run():
            for _ in range(args.timed_steps):
                out = step(batch)
            float(out[0])  # waits for the last step

        return run

    # Steps per second, alternated (benchmarks._util); x each step's batch: images per second.
    rates = _util.alternating_rates(
        {name: timed(step, batch) for name, (step, batch, _) in runners.items()},
        items=args.timed_steps, rounds=rounds,
    )  # fmt: skip
    return {name: rates[name]["median"] * runners[name][2] for name in runners}


def main(argv=None):
    args = _args(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    results = {}
    if os.path.isfile(path):
        with open(path) as f:
            results = json.load(f)
    results["command"] = "python -m benchmarks.bench_time_to_accuracy " + " ".join(
        f"--{k}={','.join(v) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if v is not None
    )
    order = ("rates", "equal_steps", "curve", "ablation", "bf16")  # curve uses rates
    for part in order:
        if part in args.parts:
            start = time.time()
            globals()[f"part_{part}"](args, results)
            results.setdefault("wall_seconds", {})[part] = time.time() - start
            results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            atomic.write_json(path, results)
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
