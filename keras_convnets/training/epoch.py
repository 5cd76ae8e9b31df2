"""The epochs of a run: input iterators, steps, logging, validation and checkpoints.

:class:`EpochRunner` drives a :class:`keras_convnets.training.loop.Trainer`
from its restored step to the end; each method does one part of an epoch.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from keras_convnets import data as data_lib
from keras_convnets.training import plots, schedules
from keras_convnets.training import strategy as strategy_lib


def summary_scalar(name, value, step):
    """A TensorBoard scalar written with core TF ops only.

    ``tf.summary.scalar`` needs the ``tensorboard`` package at write time; the
    logs are written without it (and read by TensorBoard wherever it is).
    """
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=metadata)


class NonFiniteLossError(RuntimeError):
    """The loss (or a weight) became NaN or infinite; the last finite checkpoint is kept."""


def _first_cause(err) -> str:
    """The informative line of a TF error (the first one is often 'Graph execution error:')."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Graph execution error", "Detected at"))]
    return (lines[0] if lines else type(err).__name__)[:300]


def train_iterator(trainer, epoch, skip_steps):
    """The distributed training batches of ``epoch``, ``skip_steps`` already done."""
    r, cfg = trainer.resolved, trainer.cfg

    def fn(ctx):
        per_replica = ctx.get_per_replica_batch_size(r.global_batch)
        return data_lib.build_dataset(
            trainer.train_split,
            trainer.train_pre,
            batch_size=per_replica,
            training=True,
            seed=cfg.seed,
            epoch=epoch,
            num_shards=ctx.num_input_pipelines,
            shard_index=ctx.input_pipeline_id,
            skip_examples=skip_steps * r.global_batch // ctx.num_input_pipelines,
        ).repeat()  # a file that became unreadable must not end the epoch early

    return iter(trainer.strategy.distribute_datasets_from_function(fn))


def eval_iterator(trainer, split):
    """``(steps, iterator)`` over ``split``, padded so that every worker runs ``steps``."""
    r = trainer.resolved
    steps = math.ceil(split.num_examples / r.global_batch)

    def fn(ctx):
        per_replica = ctx.get_per_replica_batch_size(r.global_batch)
        return data_lib.build_dataset(
            split,
            trainer.eval_pre,
            batch_size=per_replica,
            training=False,
            num_shards=ctx.num_input_pipelines,
            shard_index=ctx.input_pipeline_id,
            pad_to_batches=steps * trainer.replicas // ctx.num_input_pipelines,
        )

    return steps, iter(trainer.strategy.distribute_datasets_from_function(fn))


def evaluate_split(trainer, split, *, swap_ema=True):
    """``(loss, accuracy)`` on ``split`` (with the moving average in place when there is one)."""
    variables = [v for _, v in trainer.ema]
    swapped = None
    if trainer.ema and swap_ema:
        swapped = [v.numpy() for v in variables]
        for e, v in trainer.ema:
            v.assign(e.value())
    try:
        steps, it = eval_iterator(trainer, split)
        sums = np.zeros(3)
        for _ in range(steps):
            sums += [float(t) for t in trainer.steps.eval_step(next(it))]
    finally:
        if swapped is not None:
            for v, value in zip(variables, swapped):
                v.assign(value)
    count = max(sums[2], 1.0)
    return sums[0] / count, sums[1] / count


class EpochRunner:
    """Runs the epochs of one trainer from its restored step to ``total_steps``."""

    def __init__(self, trainer):
        import tensorflow as tf

        self.t = trainer
        self.r = trainer.resolved
        self.state = trainer.state
        self.sched = self.state["schedule"]
        self.current_lr = None
        self.inner = getattr(trainer.optimizer, "inner_optimizer", trainer.optimizer)
        directory = os.path.join(trainer.cfg.model_dir, "tensorboard")
        self.writer = (
            tf.summary.create_file_writer(directory)
            if trainer.chief
            else tf.summary.create_noop_writer()
        )

    def run(self):
        import tensorflow as tf

        t = self.t
        try:
            while self.state["step"] < self.r.total_steps:
                self.epoch()
        except tf.errors.OpError as err:
            if t.n_workers > 1:
                raise strategy_lib.WorkerLostError(
                    f"Multi-worker training failed at step {self.state['step']} (worker "
                    f"{t.worker}): a peer stopped answering or failed ({type(err).__name__}: "
                    f"{_first_cause(err)}). Restart all workers with the same command to resume "
                    f"from {t.last_good}."
                ) from err
            raise
        self.writer.flush()

    def set_lr(self, step):
        lr = schedules.learning_rate(self.r, step, self.sched)
        if lr != self.current_lr:
            self.inner.learning_rate.assign(lr)
            self.current_lr = lr
            changes = self.state["lr_changes"]
            if not changes or changes[-1][1] != lr:
                changes.append([step, lr])
        return lr

    def epoch(self):
        import keras

        t, r = self.t, self.r
        step = self.state["step"]
        spe = r.steps_per_epoch
        epoch, in_epoch = divmod(step, spe)
        end = min(r.total_steps, (epoch + 1) * spe)
        self.bar = None
        if t.chief and t.cfg.verbose == 1:
            self.bar = keras.utils.Progbar(end - epoch * spe, stateful_metrics=["lr", "img/s"])
            self.bar.update(in_epoch)
        self.sums, self.seen, self.timer = np.zeros(2), 0, None
        t_epoch = time.time()
        it = train_iterator(t, epoch, in_epoch)
        pending = []
        while step < end:
            lr = self.set_lr(step)
            pending.append(t.steps.train_step(t.set_phase(step))(next(it)))
            step += 1
            warm = r.warmup_lr is not None and self.sched["warmup_end"] is None
            log_now = step % (min(t.cfg.log_every, 20) if warm else t.cfg.log_every) == 0
            ckpt_now = step % t.cfg.checkpoint_every == 0 or step == end
            if not (log_now or ckpt_now):
                continue
            self.account(pending, step, lr, epoch)
            pending = []
            epoch_done = step == (epoch + 1) * spe or step == r.total_steps
            if ckpt_now and not epoch_done:
                t.save_checkpoint(step)
        self.end_epoch(step, epoch, end, time.time() - t_epoch)

    def account(self, pending, step, lr, epoch):
        """Checks the losses of the steps since the last look, logs them, updates the warm-up."""
        t, r = self.t, self.r
        values = np.array([[float(x) for x in p] for p in pending])
        n_imgs = len(pending) * r.global_batch
        if values[:, 2].max() > 0:
            raise NonFiniteLossError(
                f"Loss became NaN or infinite between steps {step - len(values) + 1} and {step} "
                f"(last finite loss {self.sums[0] / max(self.seen, 1):.4g}); run stopped. The "
                f"last finite checkpoint is kept: {t.last_good}. Lower the learning rate or use "
                "--precision=float32."
            )
        self.sums += [values[:, 0].sum() * r.global_batch, values[:, 1].sum()]
        self.seen += n_imgs
        self.state["images"] += n_imgs
        if self.timer is None:  # the first steps include tracing: not timed
            self.timer = (time.time(), self.state["images"])
        rate = (self.state["images"] - self.timer[1]) / max(time.time() - self.timer[0], 1e-9)
        if schedules.update_warmup(r, self.sched, step, 1.0 - values[:, 1].sum() / n_imgs):
            t.log(f"\nWarm-up ended at step {step}: training error < {r.warmup_until_error:.0%}.")
        with self.writer.as_default(step=step):
            summary_scalar("train/loss", values[:, 0].mean(), step)
            summary_scalar("train/accuracy", values[:, 1].sum() / n_imgs, step)
            summary_scalar("learning_rate", lr, step)
            summary_scalar("images_per_second", rate, step)
        if self.bar is not None:
            seen = self.seen
            self.bar.update(
                step - epoch * r.steps_per_epoch,
                [("loss", self.sums[0] / seen), ("acc", self.sums[1] / seen), ("lr", lr)]
                + [("img/s", rate)],
                finalize=False,
            )

    def end_epoch(self, step, epoch, end, train_time):
        """Validation, plateau schedule, history row, checkpoint and ``history.csv``."""
        t, r = self.t, self.r
        self.state["train_seconds"] += train_time
        val_loss, val_acc = t.evaluate(t.val_split)
        reduced = schedules.update_plateau(r, self.sched, 1.0 - val_acc)
        seen = max(self.seen, 1)
        row = {
            "epoch": round(step / r.steps_per_epoch, 4),
            "step": step,
            "learning_rate": self.current_lr,
            "train_loss": float(self.sums[0] / seen),
            "train_accuracy": float(self.sums[1] / seen),
            "val_loss": float(val_loss),
            "val_accuracy": float(val_acc),
            "images_per_second": float(self.seen / max(train_time, 1e-9)),
            "seconds": train_time,
        }
        self.state["history"].append(row)
        with self.writer.as_default(step=step):
            summary_scalar("val/loss", val_loss, step)
            summary_scalar("val/accuracy", val_acc, step)
        if self.bar is not None:
            self.bar.update(end - epoch * r.steps_per_epoch, finalize=True)
        t.log(
            f"epoch {row['epoch']:g} step {step}/{r.total_steps}: train loss "
            f"{row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | val loss "
            f"{val_loss:.4f} acc {val_acc:.4f} | lr {self.current_lr:g} | "
            f"{row['images_per_second']:.0f} img/s" + (" | plateau: lr /10" if reduced else "")
        )
        t.save_checkpoint(step)
        if t.chief:
            path = os.path.join(t.cfg.model_dir, "history.csv")
            plots.write_csv_atomic(path, self.state["history"])
