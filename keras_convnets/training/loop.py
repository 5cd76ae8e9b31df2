"""The custom training loop: one path for one device, Mirrored, MultiWorkerMirrored and TPU.

:class:`Trainer` runs the stages of one run, each a method with one job:
lock the run directory, load the data, build the model (from pretrained
weights when asked), resolve the configuration, refuse a resume whose
configuration changed, write ``config.json``, restore the newest checkpoint,
train epoch by epoch, and write the final model with its run card
(:mod:`keras_convnets.runs`). The compiled steps live in
:mod:`keras_convnets.training.steps`.

A run writes into ``model_dir``: ``config.json`` (the resolved configuration),
``checkpoints/`` (every ``checkpoint_every`` steps and at each epoch end, with
the schedule state; only checkpoints whose every variable is finite),
``history.csv``, ``tensorboard/``, ``curves.png``, ``final.weights.h5`` and
``model.keras`` (the evaluation weights: the moving average where the recipe
has one), ``run.json``, ``labels.txt`` and ``summary.json``. Restarted with the
same command, it resumes from the newest checkpoint and follows the same
schedule.
"""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np

from keras_convnets import atomic
from keras_convnets import data as data_lib
from keras_convnets import runs as run_lib
from keras_convnets.training import config as config_lib
from keras_convnets.training import finetune, plots, schedules
from keras_convnets.training import strategy as strategy_lib
from keras_convnets.training.checkpoint import Checkpointer
from keras_convnets.training.epoch import (  # noqa: F401  (public names of this module)
    EpochRunner,
    NonFiniteLossError,
    evaluate_split,
    summary_scalar,
)
from keras_convnets.training.steps import (  # noqa: F401  (public names of this module)
    Steps,
    all_finite,
    decayed_kernels,
    l2_penalty,
    make_optimizer,
    zero_init_residual,
)


def _check_names(cfg, model_fn):
    from keras_convnets.models import registry

    if model_fn is None:  # the families registered themselves when keras_convnets was imported
        registry.model_info(cfg.model)
    data_lib.dataset_info(cfg.dataset)
    if cfg.data_dir is not None and not os.path.isdir(cfg.data_dir):
        raise ValueError(
            f"`data_dir` must be an existing directory. Received: data_dir={cfg.data_dir!r}"
        )


def _input_shape(cfg, info, split, source):
    if source is not None and cfg.input_shape == "model":
        return tuple(source.input_shape)  # fine-tuning a run: the run's input
    if cfg.input_shape == "native":
        if not split.fixed_size:
            raise ValueError(
                f"input_shape='native' needs fixed-size images; {cfg.dataset} has "
                f"{split.image_shape}. Pass 'model' or 'H,W,C'."
            )
        return tuple(int(d) for d in split.image_shape)
    if cfg.input_shape == "model":
        if info is None:
            raise ValueError("input_shape='model' needs a registered model; pass 'H,W,C'.")
        return tuple(info.input_shape)
    return tuple(int(d) for d in cfg.input_shape.split(","))


class _Logger:
    def __init__(self, chief, verbose, print_fn):
        self.chief, self.verbose, self.print_fn = chief, verbose, print_fn

    def __call__(self, text):
        if self.chief and self.verbose:
            self.print_fn(text)


class Trainer:
    """One training run, stage by stage (see the module docstring)."""

    def __init__(self, cfg, *, model_fn=None, loss_weights=None, strategy=None, print_fn=print):
        self.cfg = cfg
        self.model_fn = model_fn
        self.custom_loss_weights = loss_weights
        self.strategy = strategy
        self.print_fn = print_fn
        self.head = []  # layers not taken from pretrained weights

    # --- stages ------------------------------------------------------------------------
    def run(self):
        """Trains and returns ``(summary, model)``."""
        self.wall_start = time.time()
        self.check_arguments()
        self.setup_strategy()
        lock = run_lib.RunLock(self.cfg.model_dir) if self.chief else None
        if lock is not None:
            lock.acquire()
        try:
            self.load_data()
            self.build_model()
            self.resolve()
            self.check_resume()
            self.write_config()
            self.build_state()
            self.build_pipelines()
            self.train_epochs()
            summary = self.finish()
        finally:
            if lock is not None:
                lock.release()
        return summary, self.model

    def check_arguments(self):
        from keras_convnets.models import registry

        cfg = self.cfg
        cfg.validate()
        _check_names(cfg, self.model_fn)
        self.recipe = cfg.recipe_setting()
        self.source = finetune.source_run(cfg.weights)
        if self.source is not None and self.source.registry_name not in (None, cfg.model):
            raise ValueError(
                f"`weights` is a run of model {self.source.registry_name!r} but `model` is "
                f"{cfg.model!r}: pass --model={self.source.registry_name}."
            )
        self.info = None if self.model_fn is not None else registry.model_info(cfg.model)

    def setup_strategy(self):
        cfg = self.cfg
        if self.strategy is None:
            self.strategy, self.strategy_text = strategy_lib.make_strategy(
                cfg.strategy, collective_timeout_s=cfg.collective_timeout_s
            )
        else:
            self.strategy_text = type(self.strategy).__name__
        self.n_workers = strategy_lib.num_workers(self.strategy)
        self.worker = strategy_lib.worker_index(self.strategy)
        self.chief = self.worker == 0
        self.log = _Logger(self.chief, cfg.verbose, self.print_fn)
        self.replicas = self.strategy.num_replicas_in_sync
        os.makedirs(cfg.model_dir, exist_ok=True)

    def load_data(self):
        cfg = self.cfg
        split_kw = {"data_dir": cfg.data_dir, "manual_dir": cfg.manual_dir}
        fraction = self.recipe.val_fraction if cfg.val_fraction is None else cfg.val_fraction
        self.val_fraction = fraction
        split_kw["val_fraction"] = fraction
        held_out = fraction > 0
        train_name = "train" if held_out else "train_full"
        self.train_split = data_lib.load_split(
            cfg.dataset, train_name, max_examples=cfg.max_train_examples, **split_kw
        )
        self.test_split = data_lib.load_split(
            cfg.dataset, "test", max_examples=cfg.max_eval_examples, **split_kw
        )
        self.val_split = self.test_split
        if held_out:
            self.val_split = data_lib.load_split(
                cfg.dataset, "val", max_examples=cfg.max_eval_examples, **split_kw
            )
        splits = (self.train_split, self.val_split, self.test_split)
        self.skipped = sorted({path for s in splits for path in s.skipped})
        for line in data_lib.describe_skipped(*splits):
            self.log(line)
        self.classes = self.train_split.classes
        info = data_lib.dataset_info(cfg.dataset)
        self.class_names = list(self.train_split.class_names) or info.label_names(self.classes)

    def build_model(self):
        import keras

        from keras_convnets.models import heads, registry

        cfg = self.cfg
        self.input_shape = _input_shape(cfg, self.info, self.train_split, self.source)
        policy_before = keras.config.dtype_policy()
        keras.config.set_dtype_policy(cfg.precision)
        keras.utils.set_random_seed(cfg.seed)  # the same initial weights for the same command
        try:
            with self.strategy.scope():
                if self.model_fn is not None:
                    model = self.model_fn(input_shape=self.input_shape, classes=self.classes)
                else:
                    model = registry.get_model(
                        cfg.model, input_shape=self.input_shape, classes=self.classes,
                        weights=None, **finetune.build_kwargs(cfg.weights, cfg.model),
                    )  # fmt: skip
                if cfg.weights is not None:
                    self.load_pretrained(model)
        finally:
            keras.config.set_dtype_policy(policy_before)
        self.model = model
        self.names = heads.output_names(model)
        if len(self.names) > 1:
            if self.model_fn is not None:
                weights = self.custom_loss_weights
            else:
                weights = heads.loss_weights(cfg.model)
            if not weights:
                raise ValueError(
                    f"Model {cfg.model!r} has outputs {self.names} but no loss_weights."
                )
        else:
            weights = {self.names[0]: 1.0}
        self.loss_weights = weights

    def load_pretrained(self, model):
        """Copies the pretrained backbone into ``model``; freezes BatchNorm (fine-tuning)."""
        cfg = self.cfg
        pretrained = finetune.pretrained_model(
            cfg.weights, arch=cfg.model, input_shape=self.input_shape, source=self.source
        )
        skip = finetune.classifier_layers(model, self.source, self.class_names)
        self.head = finetune.transfer_weights(pretrained, model, skip=skip)
        if self.recipe.pipeline_for(cfg.weights) == config_lib.PIPELINE_FROM_WEIGHTS:
            finetune.freeze_batchnorm(model)
        self.log(
            f"Initial weights from {finetune.describe_source(cfg.weights)}; new (head) layers: "
            f"{', '.join(self.head) or 'none'}"
        )

    def resolve(self):
        cfg = self.cfg
        pipeline, mode, self.mean = self.recipe.pipeline_for(cfg.weights), None, None
        if pipeline == config_lib.PIPELINE_FROM_WEIGHTS:
            pipeline, mode, self.mean = finetune.transform_of(
                cfg.weights, info=self.info, source=self.source
            )
        elif pipeline != "cifar":
            mode = self.info.preprocessing if self.info is not None else None
        self.resolved = config_lib.resolve(
            cfg,
            num_train=self.train_split.num_examples,
            num_replicas=self.replicas,
            num_workers=self.n_workers,
            input_shape=self.input_shape,
            classes=self.classes,
            outputs=tuple(self.names),
            loss_weights=self.loss_weights,
            preprocessing=mode,
            pipeline=pipeline,
        )
        r = self.resolved
        if r.zero_init_residual:
            zeroed = zero_init_residual(self.model)
            r.rules.append(
                f"zero-init: gamma = 0 in the last BatchNorm of {len(zeroed)} residual "
                "branch(es): each block starts as the identity"
            )
        r.strategy = self.strategy_text
        r.num_val = self.val_split.num_examples
        r.num_test = self.test_split.num_examples
        r.skipped_images = len(self.skipped)
        self.log(config_lib.describe(r))

    def check_resume(self):
        """Refuses to resume a run whose model, data, recipe or schedule changed."""
        import tensorflow as tf

        cfg = self.cfg
        ckpt_dir = os.path.join(cfg.model_dir, "checkpoints")
        config_path = os.path.join(cfg.model_dir, "config.json")
        latest = tf.train.latest_checkpoint(ckpt_dir) if os.path.isdir(ckpt_dir) else None
        if latest is None or not os.path.isfile(config_path):
            return
        with open(config_path) as f:
            previous = json.load(f)
        changes = self.resolved.changes_from(previous)
        self.resolved.config_changes = list(previous.get("config_changes", []))
        if not changes:
            return
        listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
        if not cfg.allow_config_change:
            raise ValueError(
                f"model_dir {cfg.model_dir!r} holds a run with another configuration ({listed}). "
                "Resume it with its own flags, pick another --model_dir, or pass "
                "--allow_config_change to continue with the new values (recorded in config.json)."
            )
        with open(latest + ".state.json") as f:
            step = json.load(f)["step"]
        self.resolved.config_changes.append({"step": step, "changes": changes})
        self.log(f"Configuration changed at step {step} (--allow_config_change): {listed}")

    def write_config(self):
        if self.chief:
            path = os.path.join(self.cfg.model_dir, "config.json")
            atomic.write_json(path, self.resolved.to_json())

    def build_state(self):
        """Optimizer, moving average, checkpointer, and the restored (or initial) state."""
        import tensorflow as tf

        r = self.resolved
        with self.strategy.scope():
            self.optimizer = make_optimizer(r)
            self.optimizer.build(self.model.trainable_variables)
            ema = []
            if r.ema_decay:
                ema = [
                    (tf.Variable(v.value, trainable=False, name=f"ema_{i}"), v)
                    for i, v in enumerate(self.model.trainable_variables)
                ]
        holder = tf.Module()
        holder.ema = [e for e, _ in ema]
        self.ema = ema
        self.ckpt_dir = os.path.join(self.cfg.model_dir, "checkpoints")
        self.checkpointer = Checkpointer(
            self.ckpt_dir,
            chief=self.chief,
            worker=self.worker,
            max_to_keep=self.cfg.keep_checkpoints,
            model=self.model,
            optimizer=self.optimizer,
            ema=holder,
        )
        state = self.checkpointer.restore_latest(self.ckpt_dir)
        self.resumed_from = None if state is None else state["step"]
        if state is None:
            state = {
                "step": 0,
                "schedule": schedules.initial_state(),
                "history": [],
                "lr_changes": [],
                "images": 0,
                "train_seconds": 0.0,
            }
        else:
            self.log(f"Resumed from checkpoint step {state['step']} ({self.checkpointer.latest})")
        self.state = state
        self.last_good = self.checkpointer.latest
        self.steps = Steps(
            model=self.model,
            optimizer=self.optimizer,
            strategy=self.strategy,
            resolved=r,
            output_names=self.names,
            ema_vars=ema,
        )

    def build_pipelines(self):
        """The training and evaluation transforms (and the mean image of ``cifar``)."""
        r = self.resolved
        if r.pipeline == "cifar" and self.mean is None:
            self.mean = self._mean_image()
        if self.mean is not None and self.chief:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(self.mean, np.float32))
            atomic.write_bytes(
                os.path.join(self.cfg.model_dir, run_lib.MEAN_FILE), buffer.getvalue()
            )
        shape = tuple(r.input_shape)
        kw = {"input_shape": shape, "mode": r.preprocessing_mode, "mean_image": self.mean}
        self.train_pre = data_lib.make_preprocess(r.pipeline, training=True, cutout=r.cutout, **kw)
        self.eval_pre = data_lib.make_preprocess(r.pipeline, training=False, **kw)

    def _mean_image(self):
        path = os.path.join(self.cfg.model_dir, run_lib.MEAN_FILE)
        if os.path.exists(path):
            return np.load(path)
        return data_lib.mean_image(self.train_split, tuple(self.resolved.input_shape))

    def set_phase(self, step):
        """Fine-tuning: the backbone is frozen before ``freeze_steps``; returns the phase key."""
        phase = "frozen" if self.head and step < self.resolved.freeze_steps else "full"
        if self.head and phase != getattr(self, "_phase", None):
            finetune.set_backbone_trainable(self.model, phase == "full", self.head)
            self.log(f"\nstep {step}: backbone {'trainable' if phase == 'full' else 'frozen'}")
        self._phase = phase
        return phase

    def train_epochs(self):
        runner = EpochRunner(self)
        runner.run()

    def evaluate(self, split, swap_ema=True):
        return evaluate_split(self, split, swap_ema=swap_ema)

    def save_checkpoint(self, step):
        """Writes a checkpoint only when every variable is finite (else NonFiniteLossError)."""
        variables = list(self.model.weights) + list(self.optimizer.variables)
        variables += [e for e, _ in self.ema]
        if not all_finite(variables):
            raise NonFiniteLossError(
                f"Weights became NaN or infinite by step {step}: no checkpoint written. The last "
                f"finite checkpoint is kept: {self.last_good}. Lower the learning rate or use "
                "--precision=float32."
            )
        self.state["step"] = step
        self.last_good = self.checkpointer.save(step, self.state)

    def finish(self):
        """Final (evaluation) weights, test accuracy, model.keras, run card and summary."""
        for e, v in self.ema:  # Polyak averaging: the moving average IS the final model
            v.assign(e.value())
        if self.head:
            finetune.set_backbone_trainable(self.model, True, self.head)
        test_loss, test_acc = self.evaluate(self.test_split, swap_ema=False)
        summary = self._summary(test_loss, test_acc)
        if self.chief:
            self._write_outputs(summary)
        r = self.resolved
        self.log(
            f"Done: {summary['steps']} steps ({summary['epochs']:.2f} epochs), test accuracy "
            f"{test_acc:.4f} on {self.test_split.num_examples} images, "
            f"{summary['images_per_second']:.0f} img/s, skipped {len(self.skipped)} unreadable "
            f"image(s). Run card: {os.path.join(self.cfg.model_dir, run_lib.CARD)} "
            f"({r.pipeline} transform)."
        )
        return summary

    def _summary(self, test_loss, test_acc):
        cfg, state = self.cfg, self.state
        step = state["step"]
        seen = step * self.resolved.global_batch  # images drawn: epochs as --epochs counts them
        return {
            "model": cfg.model,
            "dataset": cfg.dataset,
            "recipe": cfg.recipe,
            "steps": step,
            "epochs": seen / self.resolved.num_train,
            "resumed_from_step": self.resumed_from,
            "test_loss": float(test_loss),
            "test_accuracy": float(test_acc),
            "num_test": self.test_split.num_examples,
            "val_accuracy": state["history"][-1]["val_accuracy"] if state["history"] else None,
            "images_per_second": float(state["images"] / max(state["train_seconds"], 1e-9)),
            "wall_seconds_this_session": time.time() - self.wall_start,
            "train_seconds": state["train_seconds"],
            "skipped_images": len(self.skipped),
            "skipped_files": self.skipped[:50],
            "lr_changes": state["lr_changes"],
            "warmup_end": state["schedule"].get("warmup_end"),
            "final_weights": os.path.join(cfg.model_dir, "final.weights.h5"),
            "run_card": os.path.join(cfg.model_dir, run_lib.CARD),
        }

    def _write_outputs(self, summary):
        from keras_convnets.models import _common

        cfg = self.cfg
        scratch = os.path.join(cfg.model_dir, f".final-{os.getpid()}.weights.h5")
        self.model.save_weights(scratch)
        atomic.replace_path(scratch, summary["final_weights"])
        if cfg.plots:
            plots.plot_history(
                os.path.join(cfg.model_dir, "curves.png"),
                self.state["history"],
                title=f"{cfg.model} on {cfg.dataset} ({cfg.recipe})",
            )
        spec = _common.build_spec(self.model)
        run_lib.write_run(cfg.model_dir, model=self.model, card=self._card(summary, spec))
        atomic.write_json(os.path.join(cfg.model_dir, "summary.json"), summary)

    def _card(self, summary, spec):
        cfg, r = self.cfg, self.resolved
        metrics = {
            k: summary[k]
            for k in ("test_accuracy", "test_loss", "num_test", "val_accuracy", "steps", "epochs")
        }
        return run_lib.RunCard(
            registry_name=spec[0] if spec else (None if self.model_fn else cfg.model),
            build_args=None if spec is None else _jsonable(spec[1]),
            input_shape=list(r.input_shape),
            classes=r.classes,
            class_names=list(self.class_names),
            pipeline=r.pipeline,
            preprocessing_mode=r.preprocessing_mode,
            mean_image=run_lib.MEAN_FILE if self.mean is not None else None,
            dataset=cfg.dataset,
            data_dir=r.data_dir,
            val_fraction=r.val_fraction,
            split_seed=r.split_seed,
            max_eval_examples=cfg.max_eval_examples,
            recipe=cfg.recipe,
            seed=cfg.seed,
            weights=r.weights,
            metrics=metrics,
        )


def _jsonable(kwargs):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}


def train(
    cfg: config_lib.TrainConfig,
    *,
    model_fn=None,
    loss_weights: dict | None = None,
    strategy=None,
    print_fn=print,
    return_model: bool = False,
):
    """Trains ``cfg.model`` on ``cfg.dataset`` with ``cfg.recipe``; returns the run summary.

    ``model_fn(input_shape=..., classes=...)`` replaces the registry model
    (tests use small hand-made models; ``loss_weights`` then gives the
    weights of its outputs by name). ``return_model=True`` returns
    ``(summary, model)`` (the model holds the final, evaluation weights).

    Example:
        >>> import tempfile
        >>> from keras_convnets.training import TrainConfig, train
        >>> s = train(TrainConfig(model="resnet20", dataset="fashion_mnist", steps=2,
        ...     batch_size=8, max_train_examples=64, max_eval_examples=16, verbose=0,
        ...     plots=False, model_dir=tempfile.mkdtemp()))
        >>> s["steps"]
        2
    """
    trainer = Trainer(
        cfg, model_fn=model_fn, loss_weights=loss_weights, strategy=strategy, print_fn=print_fn
    )
    summary, model = trainer.run()
    return (summary, model) if return_model else summary
