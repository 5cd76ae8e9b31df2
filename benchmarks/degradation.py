"""Benchmark: the degradation problem (He et al. Fig. 1 and 6) on a short schedule.

    python -m benchmarks.degradation --dataset=fashion_mnist --epochs=8 --out=runs/degradation

Trains plain-20, plain-56, ResNet-20 and ResNet-56 with the resnet_cifar
recipe (same seed, same data order) and plots their training error per epoch
(dashed) and test error (solid) in one PNG. The paper's finding: the deeper
plain net has the HIGHER training error, the deeper ResNet the lower one.
``--plot_only`` redraws the PNG and JSON from the runs already in ``--out``.
``--steps`` (with ``--max_train_examples``) gives a smoke run.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from keras_convnets import atomic

flags.DEFINE_string("dataset", "fashion_mnist", "cifar10 (TFDS data_dir) or fashion_mnist.")
flags.DEFINE_string("data_dir", None, "TFDS data dir or IDX folder.")
flags.DEFINE_list("models", ["plain20", "plain56", "resnet20", "resnet56"], "Networks.")
flags.DEFINE_float("epochs", 8.0, "Short schedule (milestones at 50% and 75%).")
flags.DEFINE_integer("steps", None, "Stop each run after this many steps (smoke test).")
flags.DEFINE_integer("max_train_examples", None, "Use only this many training images (smoke).")
flags.DEFINE_integer("max_eval_examples", None, "Use only this many test images (smoke).")
flags.DEFINE_integer("batch_size", 128, "Global batch.")
flags.DEFINE_string("out", "runs/degradation", "Output folder (runs, PNG, JSON).")
flags.DEFINE_string("strategy", "auto", "auto, default, mirrored, multi_worker, tpu.")
flags.DEFINE_bool("plot_only", False, "Only redraw the PNG and JSON from the runs in --out.")
flags.DEFINE_integer("verbose", 2, "0 silent, 1 progress bar, 2 one line per epoch.")
FLAGS = flags.FLAGS


def run_history(run_dir: str) -> tuple[list[dict], dict]:
    """The per-epoch history and the summary of a finished run in ``run_dir``."""
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(run_dir, "checkpoints", f"ckpt-{summary['steps']}.state.json")) as f:
        history = json.load(f)["history"]
    return history, summary


def whole_epochs(history: list[dict]) -> list[dict]:
    """The rows of whole epochs: a run of N steps may end a few steps into a new epoch,
    and that row's training error, over a handful of batches, is noise."""
    rows = [row for row in history if float(row["epoch"]).is_integer()]
    return rows or history[-1:]


def summarize(out: str, models, dataset: str) -> dict:
    """Writes ``degradation.png`` and ``degradation.json`` from the runs in ``out``."""
    from keras_convnets.training import plots

    results, curves = {}, {}
    for name in models:
        history, summary = run_history(os.path.join(out, name))
        rows = whole_epochs(history)
        xs = [row["epoch"] for row in rows]
        curves[f"train {name}"] = (xs, [100 * (1 - r["train_accuracy"]) for r in rows])
        curves[f"test {name}"] = (xs, [100 * (1 - r["val_accuracy"]) for r in rows])
        results[name] = {
            "train_error_by_epoch": [round(1 - r["train_accuracy"], 5) for r in rows],
            "test_error_by_epoch": [round(1 - r["val_accuracy"], 5) for r in rows],
            "final_train_error": 1 - rows[-1]["train_accuracy"],
            "test_error": 1 - summary["test_accuracy"],
            "steps": summary["steps"],
            "train_seconds": summary.get("train_seconds"),
            "images_per_second": summary.get("images_per_second"),
        }
    png = os.path.join(out, "degradation.png")
    plots.plot_curves(
        png,
        curves,
        title=f"Plain vs residual on {dataset} (dashed: train, solid: test)",
    )
    atomic.write_json(os.path.join(out, "degradation.json"), results)
    print(
        "RESULT "
        + json.dumps(
            {
                k: {"final_train_error": v["final_train_error"], "test_error": v["test_error"]}
                for k, v in results.items()
            }
        )
    )
    print(f"Wrote {png}")
    return results


def main(argv):
    del argv
    os.makedirs(FLAGS.out, exist_ok=True)
    if not FLAGS.plot_only:
        from keras_convnets.training import TrainConfig, train

        for name in FLAGS.models:
            summary = train(
                TrainConfig(
                    recipe="resnet_cifar",
                    model=name,
                    dataset=FLAGS.dataset,
                    data_dir=FLAGS.data_dir,
                    model_dir=os.path.join(FLAGS.out, name),
                    batch_size=FLAGS.batch_size,
                    epochs=FLAGS.epochs,
                    steps=FLAGS.steps,
                    max_train_examples=FLAGS.max_train_examples,
                    max_eval_examples=FLAGS.max_eval_examples,
                    input_shape="native",
                    val_fraction=0.0,  # the curves are training error and test error
                    strategy=FLAGS.strategy,
                    verbose=FLAGS.verbose,
                    checkpoint_every=5000,
                )
            )
            print(f"{name}: test error {1 - summary['test_accuracy']:.4f}")
    summarize(FLAGS.out, FLAGS.models, FLAGS.dataset)


if __name__ == "__main__":
    app.run(main)
