r"""Trains a registered model with a paper's recipe.

    keras-convnets train --recipe=resnet_cifar --model=resnet56 --dataset=cifar10 \
        --model_dir=runs/resnet56

The fast recipe (minutes instead of hours; each technique a ``--recipe_options`` key)::

    keras-convnets train --recipe=fast --model=resnet20 --dataset=fashion_mnist \
        --input_shape=native --model_dir=runs/fast

Your own photos (an image folder, layouts below), fine-tuning a finished run or
ImageNet weights::

    keras-convnets train --recipe=finetune --weights=imagenet --model=resnet50 \
        --dataset=folder --data_dir=photos --model_dir=runs/photos

From a checkout, ``python -m recipes.train`` is the same command. Flags can
come from a file: ``--flagfile=run.flags``. The resolved
configuration is printed and written to ``model_dir/config.json`` (once every
check passed); running the same command again resumes from the newest
checkpoint, and a resume with another model, data, recipe, batch, rate or
schedule is refused unless ``--allow_config_change``. One process at a time
holds ``model_dir`` (``run.lock``). A finished run holds ``model.keras``,
``run.json`` and ``labels.txt``: ``keras-convnets evaluate --run=DIR`` and
``keras-convnets export --run=DIR`` read them. Exit status (the same for every
command): 0 done, 2 a bad flag or value (nothing trained), 1 the run failed
(NaN/inf weights: the last finite checkpoint is kept; a lost worker; a failed
download; the directory in use), 130 interrupted.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from keras_convnets._cli import EXIT_ERROR, check_output_dir, cli_errors, run_absl
from keras_convnets.data import FOLDER_LAYOUTS
from keras_convnets.training import config as config_lib

__doc__ += "\n" + FOLDER_LAYOUTS + "\n"

FLAGS = flags.FLAGS
_DEFAULTS = config_lib.TrainConfig()

flags.DEFINE_string(
    "recipe",
    "resnet_cifar",
    f"One of {', '.join(config_lib.RECIPES)} (fast: warm-up + linear decay, Nesterov, label "
    "smoothing, zero-init residuals; see README 'Train fast').",
)
flags.DEFINE_string(
    "recipe_options",
    None,
    "Change the recipe's values for this run, key=value,... (e.g. cutout=0.25,nesterov=false). "
    f"Keys: {', '.join(config_lib.recipe_option_names())}.",
)
flags.DEFINE_string("model", "resnet20", "A registered model (keras_convnets.list_models()).")
flags.DEFINE_string(
    "dataset",
    "cifar10",
    "cifar10, cifar100, fashion_mnist, mnist, imagenette, imagenet2012 (TFDS; MNIST-like from "
    "local IDX files when present) or folder (an image folder in --data_dir: "
    "ROOT/<class>/<image> with a stratified holdout, or ROOT/train/<class>/... + "
    "ROOT/val|validation|test/<class>/...).",
)
flags.DEFINE_string("model_dir", "runs/default", "Checkpoints, logs, config and summary.")
flags.DEFINE_string("data_dir", None, "TFDS data dir, IDX folder or image folder.")
flags.DEFINE_string("manual_dir", None, "TFDS manual_dir (ImageNet archives).")
flags.DEFINE_integer("batch_size", None, "Global batch (default: the recipe's).")
flags.DEFINE_float("epochs", None, "Training length in epochs (default: the recipe's).")
flags.DEFINE_integer("steps", None, "Training length in steps (overrides --epochs).")
flags.DEFINE_float("lr", None, "Learning rate (default: the recipe's, scaled with the batch).")
flags.DEFINE_float("weight_decay", None, "L2 weight decay (default: the recipe's).")
flags.DEFINE_enum(
    "strategy", "auto", ["auto", "default", "mirrored", "multi_worker", "tpu"], "Distribution."
)
flags.DEFINE_enum(
    "precision", "float32", list(config_lib.PRECISIONS), "Keras dtype policy for the model."
)
flags.DEFINE_bool("jit_compile", False, "XLA-compile the forward and backward pass.")
flags.DEFINE_string("input_shape", "model", "'model', 'native' (the data's) or 'H,W,C'.")
flags.DEFINE_float(
    "val_fraction", None, "Held out of train for validation (0: validate on test split)."
)
flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Steps between checkpoints.")
flags.DEFINE_integer("keep_checkpoints", _DEFAULTS.keep_checkpoints, "Checkpoints kept.")
flags.DEFINE_integer("seed", 0, "Initial weights, data order and augmentation seed.")
flags.DEFINE_integer("max_train_examples", None, "Use only the first N training examples.")
flags.DEFINE_integer("max_eval_examples", None, "Use only the first N val/test examples.")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Steps between progress updates.")
flags.DEFINE_integer("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch.")
flags.DEFINE_float("collective_timeout", 300.0, "Seconds before a silent worker is lost.")
flags.DEFINE_bool("plots", True, "Write curves.png at the end.")
flags.DEFINE_string(
    "weights",
    None,
    "Initial weights: imagenet, torchvision[:TAG], timm[:TAG] (converted), a "
    ".weights.h5/.keras/.pth file or a finished run directory. Layers matching by name and "
    "shape are copied; the classifier is new when the classes differ.",
)
flags.DEFINE_bool(
    "freeze_backbone", False, "finetune: train the new head only, the backbone stays frozen."
)
flags.DEFINE_bool(
    "allow_config_change",
    False,
    "Resume although model, data, recipe, batch, rate or schedule changed (recorded).",
)


def config_from_flags() -> config_lib.TrainConfig:
    return config_lib.TrainConfig(
        recipe=FLAGS.recipe,
        model=FLAGS.model,
        dataset=FLAGS.dataset,
        model_dir=FLAGS.model_dir,
        data_dir=FLAGS.data_dir,
        manual_dir=FLAGS.manual_dir,
        batch_size=FLAGS.batch_size,
        epochs=FLAGS.epochs,
        steps=FLAGS.steps,
        lr=FLAGS.lr,
        weight_decay=FLAGS.weight_decay,
        strategy=FLAGS.strategy,
        precision=FLAGS.precision,
        jit_compile=FLAGS.jit_compile,
        input_shape=FLAGS.input_shape,
        val_fraction=FLAGS.val_fraction,
        checkpoint_every=FLAGS.checkpoint_every,
        keep_checkpoints=FLAGS.keep_checkpoints,
        seed=FLAGS.seed,
        max_train_examples=FLAGS.max_train_examples,
        max_eval_examples=FLAGS.max_eval_examples,
        log_every=FLAGS.log_every,
        verbose=FLAGS.verbose,
        collective_timeout_s=FLAGS.collective_timeout,
        plots=FLAGS.plots,
        weights=FLAGS.weights,
        freeze_backbone=FLAGS.freeze_backbone,
        allow_config_change=FLAGS.allow_config_change,
        recipe_options=FLAGS.recipe_options,
    )


@cli_errors
def main(argv):
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {argv[1:]}; every setting is a --flag.")
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TF's per-checkpoint INFO lines drown the epochs
    import keras_convnets  # noqa: F401  (registers every model)
    from keras_convnets.training import NonFiniteLossError, WorkerLostError, train

    fresh = _new_folders(FLAGS.model_dir)
    try:
        check_output_dir(FLAGS.model_dir, "model_dir")
        train(config_from_flags())
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except WorkerLostError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_ERROR)  # collective ops of the dead cluster can block a normal exit
    except BaseException:  # a bad value, a failed download, Ctrl-C: said by cli_errors
        _remove_if_empty(fresh)
        raise
    return 0


def _new_folders(path) -> list:
    """The folders of ``path`` that do not exist yet, deepest first."""
    path, missing = os.path.abspath(path), []
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def _remove_if_empty(fresh):
    """A run that failed before its first file leaves no trace: the folders it made, if empty."""
    for folder in fresh:
        if not os.path.isdir(folder) or os.listdir(folder):
            return
        os.rmdir(folder)


def run(argv=None):
    """Runs the command line; ``argv``: the whole command, program name first (default sys.argv)."""
    run_absl(main, sys.modules[__name__], argv)


if __name__ == "__main__":
    run()
