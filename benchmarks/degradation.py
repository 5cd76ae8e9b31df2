"""Benchmark: the degradation problem (He et al. Fig. 6) on a short schedule.

    python benchmarks/degradation.py --dataset=fashion_mnist --epochs=20 --out=runs/degradation

Trains plain-20, plain-56, ResNet-20 and ResNet-56 with the resnet_cifar
recipe (same seed, same data order) and plots their training error per epoch
(dashed) and test error (solid) in one PNG. The paper's finding: the deeper
plain net has the HIGHER training error, the deeper ResNet the lower one.
``--steps`` gives a smoke run.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

flags.DEFINE_string("dataset", "fashion_mnist", "cifar10 (TFDS data_dir) or fashion_mnist.")
flags.DEFINE_string("data_dir", None, "TFDS data dir or IDX folder.")
flags.DEFINE_list("models", ["plain20", "plain56", "resnet20", "resnet56"], "Networks.")
flags.DEFINE_float("epochs", 20.0, "Short schedule (milestones at 50% and 75%).")
flags.DEFINE_integer("steps", None, "Stop each run after this many steps (smoke test).")
flags.DEFINE_integer("batch_size", 128, "Global batch.")
flags.DEFINE_string("out", "runs/degradation", "Output folder (runs, PNG, JSON).")
flags.DEFINE_string("strategy", "auto", "auto, default, mirrored, multi_worker, tpu.")
flags.DEFINE_integer("verbose", 2, "0 silent, 1 progress bar, 2 one line per epoch.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_convnets.training import TrainConfig, plots, train
    from keras_convnets.training.config import write_json_atomic

    os.makedirs(FLAGS.out, exist_ok=True)
    results, curves = {}, {}
    for name in FLAGS.models:
        run_dir = os.path.join(FLAGS.out, name)
        summary = train(
            TrainConfig(
                recipe="resnet_cifar",
                model=name,
                dataset=FLAGS.dataset,
                data_dir=FLAGS.data_dir,
                model_dir=run_dir,
                batch_size=FLAGS.batch_size,
                epochs=FLAGS.epochs,
                steps=FLAGS.steps,
                input_shape="native",
                val_fraction=0.0,  # the curves are training error and test error
                strategy=FLAGS.strategy,
                verbose=FLAGS.verbose,
                checkpoint_every=5000,
            )
        )
        with open(os.path.join(run_dir, "checkpoints", f"ckpt-{summary['steps']}.state.json")) as f:
            history = json.load(f)["history"]
        xs = [row["epoch"] for row in history]
        curves[f"train {name}"] = (xs, [100 * (1 - r["train_accuracy"]) for r in history])
        curves[f"test {name}"] = (xs, [100 * (1 - r["val_accuracy"]) for r in history])
        results[name] = {
            "final_train_error": 1 - history[-1]["train_accuracy"],
            "test_error": 1 - summary["test_accuracy"],
            "steps": summary["steps"],
        }
        print(f"{name}: {results[name]}")
    png = os.path.join(FLAGS.out, "degradation.png")
    plots.plot_curves(
        png, curves, title=f"Plain vs residual on {FLAGS.dataset} (dashed: train, solid: test)"
    )
    write_json_atomic(os.path.join(FLAGS.out, "degradation.json"), results)
    print("RESULT " + json.dumps(results))
    print(f"Wrote {png}")


if __name__ == "__main__":
    app.run(main)
