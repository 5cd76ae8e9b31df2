"""The custom training loop: one path for one device, Mirrored, MultiWorkerMirrored and TPU.

``keras.Model.fit`` under ``MultiWorkerMirroredStrategy`` fails with Keras 3.15
("Attempt to convert a value (PerReplica...)"), so the step is written here
with ``strategy.run``: the loss of each replica is summed over its examples
and divided by the GLOBAL batch, gradients are summed across replicas by the
loop itself (so that gradient clipping sees the global gradient, as on one
device) and applied by a Keras 3 optimizer. Auxiliary outputs add their
losses with the registry's weights.

A run writes into ``model_dir``: ``config.json`` (the resolved configuration),
``checkpoints/`` (every ``checkpoint_every`` steps and at each epoch end, with
the schedule state), ``history.csv``, ``tensorboard/``, ``curves.png``,
``final.weights.h5`` (the evaluation weights: the moving average where the
recipe has one) and ``summary.json``. Restarted with the same command, it
resumes from the newest checkpoint and follows the same schedule.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from keras_convnets import data as data_lib
from keras_convnets.training import config as config_lib
from keras_convnets.training import plots, schedules
from keras_convnets.training import strategy as strategy_lib
from keras_convnets.training.checkpoint import Checkpointer


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


def _first_cause(err) -> str:
    """The informative line of a TF error (the first one is often 'Graph execution error:')."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Graph execution error", "Detected at"))]
    return (lines[0] if lines else type(err).__name__)[:300]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


def _pre_reduced(cls):
    """An optimizer class that takes gradients already summed across replicas.

    The Keras 3 TF optimizer sums gradients across replicas itself, BEFORE it
    clips them; the loop sums them first so that ``global_clipnorm`` applies
    to the global gradient, and this subclass skips the second sum.

    ``_all_reduce_sum_gradients`` is a private hook of the Keras TensorFlow
    optimizer (keras/src/backend/tensorflow/optimizer.py, Keras 3.x); Keras
    offers no public switch for it. Should a Keras release rename it, the
    override would be dead and every gradient summed twice, so its absence
    is an error here rather than a silently N-times-larger step (the
    Mirrored-equals-single-device test checks the behaviour itself).
    """
    if not callable(getattr(cls, "_all_reduce_sum_gradients", None)):
        raise RuntimeError(
            f"{cls.__module__}.{cls.__name__} has no `_all_reduce_sum_gradients`: this Keras "
            "version sums replica gradients elsewhere, so keras_convnets' training loop, which "
            "sums them itself, would apply them twice. Use keras>=3.15,<4 (see constraints.txt)."
        )

    class PreReduced(cls):
        def _all_reduce_sum_gradients(self, grads_and_vars):
            return list(grads_and_vars)

    PreReduced.__name__ = cls.__name__
    return PreReduced


def make_optimizer(resolved: dict):
    """The recipe's Keras 3 optimizer (call inside ``strategy.scope()``).

    Example:
        >>> from keras_convnets.training import loop
        >>> opt = loop.make_optimizer({"optimizer": "sgd", "learning_rate": 0.1,
        ...     "momentum": 0.9, "clip_global_norm": None, "precision": "float32"})
        >>> float(opt.momentum)
        0.9
    """
    import keras

    clip = resolved.get("clip_global_norm")
    kwargs = {"learning_rate": resolved["learning_rate"], "global_clipnorm": clip}
    if resolved["optimizer"] == "sgd":
        opt = _pre_reduced(keras.optimizers.SGD)(momentum=resolved["momentum"], **kwargs)
    elif resolved["optimizer"] == "rmsprop":
        opt = _pre_reduced(keras.optimizers.RMSprop)(
            rho=resolved["rho"],
            epsilon=resolved["epsilon"],
            momentum=resolved["momentum"],
            **kwargs,
        )
    else:
        raise ValueError(
            f"`optimizer` must be one of {', '.join(config_lib.OPTIMIZERS)}. "
            f"Received: optimizer={resolved['optimizer']!r}"
        )
    if resolved.get("precision") == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def decayed_kernels(model) -> list:
    """The variables weight decay applies to: convolution and dense kernels."""
    return [v for v in model.trainable_variables if v.path.split("/")[-1].endswith("kernel")]


def l2_penalty(model, weight_decay: float):
    """``0.5 * weight_decay * sum(w**2)`` over :func:`decayed_kernels` (the papers' decay)."""
    import tensorflow as tf

    kernels = decayed_kernels(model)
    if not kernels or not weight_decay:
        return tf.constant(0.0)
    total = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v.value, tf.float32))) for v in kernels])
    return 0.5 * weight_decay * total


_MODEL_MODULES = ("resnet", "googlenet", "inception_v3")


def _register_models():
    """Imports every model family so that its registry entries exist."""
    import importlib

    for name in _MODEL_MODULES:
        try:
            importlib.import_module(f"keras_convnets.{name}")
        except ImportError:  # a family not installed in this checkout
            pass


def _check_names(cfg, model_fn):
    from keras_convnets.models import registry

    if model_fn is None:
        _register_models()
        registry.model_info(cfg.model)
    data_lib.dataset_info(cfg.dataset)
    if cfg.data_dir is not None and not os.path.isdir(cfg.data_dir):
        raise ValueError(
            f"`data_dir` must be an existing directory. Received: data_dir={cfg.data_dir!r}"
        )


def _input_shape(cfg, info, split):
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
    import keras
    import tensorflow as tf

    from keras_convnets.models import heads, registry

    wall_start = time.time()
    cfg.validate()
    _check_names(cfg, model_fn)
    recipe = config_lib.get_recipe(cfg.recipe)
    if strategy is None:
        strategy, strategy_text = strategy_lib.make_strategy(
            cfg.strategy, collective_timeout_s=cfg.collective_timeout_s
        )
    else:
        strategy_text = type(strategy).__name__
    n_workers = strategy_lib.num_workers(strategy)
    worker = strategy_lib.worker_index(strategy)
    chief = worker == 0
    log = _Logger(chief, cfg.verbose, print_fn)
    replicas = strategy.num_replicas_in_sync
    os.makedirs(cfg.model_dir, exist_ok=True)

    # --- data ------------------------------------------------------------------------------
    split_kw = {"data_dir": cfg.data_dir, "manual_dir": cfg.manual_dir}
    val_fraction = recipe.val_fraction if cfg.val_fraction is None else cfg.val_fraction
    held_out = val_fraction > 0
    train_split = data_lib.load_split(
        cfg.dataset,
        "train" if held_out else "train_full",
        val_fraction=val_fraction,
        max_examples=cfg.max_train_examples,
        **split_kw,
    )
    test_split = data_lib.load_split(
        cfg.dataset, "test", max_examples=cfg.max_eval_examples, **split_kw
    )
    val_split = (
        data_lib.load_split(
            cfg.dataset,
            "val",
            val_fraction=val_fraction,
            max_examples=cfg.max_eval_examples,
            **split_kw,
        )
        if held_out
        else test_split
    )
    skipped = sorted(set(train_split.skipped + val_split.skipped + test_split.skipped))
    info = None if model_fn is not None else registry.model_info(cfg.model)
    input_shape = _input_shape(cfg, info, train_split)
    classes = train_split.classes

    # --- model -----------------------------------------------------------------------------
    policy_before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(cfg.precision)
    keras.utils.set_random_seed(cfg.seed)  # the same initial weights for the same command
    try:
        with strategy.scope():
            if model_fn is not None:
                model = model_fn(input_shape=input_shape, classes=classes)
            else:
                model = registry.get_model(
                    cfg.model, input_shape=input_shape, classes=classes, weights=None
                )
    finally:
        keras.config.set_dtype_policy(policy_before)
    names = heads.output_names(model)
    if len(names) > 1:
        weights = loss_weights if model_fn is not None else heads.loss_weights(cfg.model)
        if not weights:
            raise ValueError(f"Model {cfg.model!r} has outputs {names} but no loss_weights.")
    else:
        weights = {names[0]: 1.0}
    mode = None
    if recipe.pipeline != "cifar":
        mode = info.preprocessing if info is not None else None
    resolved = config_lib.resolve(
        cfg,
        num_train=train_split.num_examples,
        num_replicas=replicas,
        num_workers=n_workers,
        input_shape=input_shape,
        classes=classes,
        outputs=tuple(names),
        loss_weights=weights,
        preprocessing=mode,
    )
    resolved["strategy"] = strategy_text
    resolved["num_val"] = val_split.num_examples
    resolved["num_test"] = test_split.num_examples
    resolved["skipped_images"] = len(skipped)
    log(config_lib.describe(resolved))
    if chief:
        config_lib.write_json_atomic(os.path.join(cfg.model_dir, "config.json"), resolved)

    global_batch = resolved["global_batch"]
    spe = resolved["steps_per_epoch"]
    total_steps = resolved["total_steps"]
    with strategy.scope():
        optimizer = make_optimizer(resolved)
        optimizer.build(model.trainable_variables)
        ema_vars = None
        if resolved["ema_decay"]:
            ema_vars = [
                tf.Variable(v.value, trainable=False, name=f"ema_{i}")
                for i, v in enumerate(model.trainable_variables)
            ]
    holder = tf.Module()
    holder.ema = ema_vars or []
    ckpt_dir = os.path.join(cfg.model_dir, "checkpoints")
    checkpointer = Checkpointer(
        ckpt_dir,
        chief=chief,
        worker=worker,
        max_to_keep=cfg.keep_checkpoints,
        model=model,
        optimizer=optimizer,
        ema=holder,
    )
    state = checkpointer.restore_latest(ckpt_dir)
    if state is None:
        state = {
            "step": 0,
            "schedule": schedules.initial_state(),
            "history": [],
            "lr_changes": [],
            "images": 0,
            "train_seconds": 0.0,
        }
        resumed_from = None
    else:
        resumed_from = state["step"]
        log(f"Resumed from checkpoint step {state['step']} ({checkpointer.latest})")

    # --- input pipelines ---------------------------------------------------------------------
    mean = None
    if recipe.pipeline == "cifar":
        mean_path = os.path.join(cfg.model_dir, "mean_image.npy")
        if os.path.exists(mean_path):
            mean = np.load(mean_path)
        else:
            mean = data_lib.mean_image(train_split, input_shape)
            if chief:
                tmp = f"{mean_path}.tmp.{os.getpid()}.npy"
                np.save(tmp, mean)
                os.replace(tmp, mean_path)
    train_pre = data_lib.make_preprocess(
        recipe.pipeline, training=True, input_shape=input_shape, mode=mode, mean_image=mean
    )
    eval_pre = data_lib.make_preprocess(
        recipe.pipeline, training=False, input_shape=input_shape, mode=mode, mean_image=mean
    )

    def train_data(epoch, skip_steps):
        def fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(global_batch)
            return data_lib.build_dataset(
                train_split,
                train_pre,
                batch_size=per_replica,
                training=True,
                seed=cfg.seed,
                epoch=epoch,
                num_shards=ctx.num_input_pipelines,
                shard_index=ctx.input_pipeline_id,
                skip_examples=skip_steps * global_batch // ctx.num_input_pipelines,
            ).repeat()  # a file that became unreadable must not end the epoch early

        return iter(strategy.distribute_datasets_from_function(fn))

    def eval_data(split):
        steps = math.ceil(split.num_examples / global_batch)

        def fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(global_batch)
            return data_lib.build_dataset(
                split,
                eval_pre,
                batch_size=per_replica,
                training=False,
                num_shards=ctx.num_input_pipelines,
                shard_index=ctx.input_pipeline_id,
                pad_to_batches=steps * replicas // ctx.num_input_pipelines,
            )

        return steps, iter(strategy.distribute_datasets_from_function(fn))

    # --- steps -----------------------------------------------------------------------------
    tvars = model.trainable_variables
    wd = resolved["weight_decay"]
    smoothing = resolved["label_smoothing"]

    def outputs_of(x, training):
        out = model(x, training=training)
        if isinstance(out, dict):
            out = [out[n] for n in names]
        elif not isinstance(out, (list, tuple)):
            out = [out]
        return [tf.cast(o, tf.float32) for o in out]

    def per_example_loss(y, probs):
        if smoothing:
            onehot = tf.one_hot(y, classes)
            return keras.losses.categorical_crossentropy(onehot, probs, label_smoothing=smoothing)
        return keras.losses.sparse_categorical_crossentropy(y, probs)

    def forward_backward(x, y):
        with tf.GradientTape() as tape:
            out = outputs_of(x, True)
            data_loss = tf.add_n(
                [
                    weights.get(n, 0.0) * tf.reduce_sum(per_example_loss(y, o))
                    for n, o in zip(names, out)
                ]
            ) / float(global_batch)
            total = data_loss + l2_penalty(model, wd) / float(replicas)
            scaled = optimizer.scale_loss(total)
        grads = tape.gradient(scaled, tvars)
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(out[0], -1), tf.cast(y, tf.int64)), tf.float32)
        )
        return total, correct, grads

    if cfg.jit_compile:
        forward_backward = tf.function(forward_backward, jit_compile=True)

    def replica_step(x, y):
        total, correct, grads = forward_backward(x, y)
        grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
        optimizer.apply(grads, tvars)
        bad = 1.0 - tf.cast(tf.math.is_finite(total), tf.float32)
        return total, correct, bad

    @tf.function
    def train_step(batch):
        x, y = batch
        results = strategy.run(replica_step, args=(x, y))
        total, correct, bad = [
            strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results
        ]
        if ema_vars:
            n = tf.cast(optimizer.iterations, tf.float32)
            decay = tf.minimum(resolved["ema_decay"], (1.0 + n) / (10.0 + n))
            for e, v in zip(ema_vars, tvars):
                e.assign(decay * e + (1.0 - decay) * v.value)
        return total, correct, bad

    def replica_eval(x, y, w):
        out = outputs_of(x, False)[0]
        loss = tf.reduce_sum(w * keras.losses.sparse_categorical_crossentropy(y, out))
        hit = tf.cast(tf.equal(tf.argmax(out, -1), tf.cast(y, tf.int64)), tf.float32)
        return loss, tf.reduce_sum(w * hit), tf.reduce_sum(w)

    @tf.function
    def eval_step(batch):
        x, y, w = batch
        results = strategy.run(replica_eval, args=(x, y, w))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    def evaluate(split, swap_ema=True):
        swapped = None
        if ema_vars and swap_ema:
            swapped = [v.numpy() for v in tvars]
            for v, e in zip(tvars, ema_vars):
                v.assign(e.value())
        try:
            steps, it = eval_data(split)
            sums = np.zeros(3)
            for _ in range(steps):
                sums += [float(t) for t in eval_step(next(it))]
        finally:
            if swapped is not None:
                for v, value in zip(tvars, swapped):
                    v.assign(value)
        count = max(sums[2], 1.0)
        return sums[0] / count, sums[1] / count

    # --- loop --------------------------------------------------------------------------------
    writer = (
        tf.summary.create_file_writer(os.path.join(cfg.model_dir, "tensorboard"))
        if chief
        else tf.summary.create_noop_writer()
    )
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    sched = state["schedule"]
    step = state["step"]
    last_good = checkpointer.latest
    current_lr = None

    def set_lr(s):
        nonlocal current_lr
        lr = schedules.learning_rate(resolved, s, sched)
        if lr != current_lr:
            inner.learning_rate.assign(lr)
            current_lr = lr
            if not state["lr_changes"] or state["lr_changes"][-1][1] != lr:
                state["lr_changes"].append([s, lr])
        return lr

    def save(s):
        nonlocal last_good
        state["step"] = s
        last_good = checkpointer.save(s, state)

    def lost_worker(err):
        return strategy_lib.WorkerLostError(
            f"Multi-worker training failed at step {step} (worker {worker}): a peer stopped "
            f"answering or failed ({type(err).__name__}: {_first_cause(err)}). "
            f"Restart all workers with the same command to resume from {last_good}."
        )

    try:
        while step < total_steps:
            epoch, in_epoch = divmod(step, spe)
            it = train_data(epoch, in_epoch)
            end = min(total_steps, (epoch + 1) * spe)
            bar = None
            if chief and cfg.verbose == 1:
                bar = keras.utils.Progbar(end - epoch * spe, stateful_metrics=["lr", "img/s"])
                bar.update(in_epoch)
            sums = np.zeros(2)
            seen = 0
            pending = []
            t_epoch = time.time()
            t_mark, images_mark = None, 0
            while step < end:
                lr = set_lr(step)
                pending.append(train_step(next(it)))
                step += 1
                warm = resolved["warmup_lr"] is not None and sched["warmup_end"] is None
                log_now = step % (min(cfg.log_every, 20) if warm else cfg.log_every) == 0
                ckpt_now = step % cfg.checkpoint_every == 0 or step == end
                if not (log_now or ckpt_now):
                    continue
                values = np.array([[float(t) for t in p] for p in pending])
                n_imgs = len(pending) * global_batch
                pending = []
                if values[:, 2].max() > 0:
                    raise NonFiniteLossError(
                        f"Loss became NaN or infinite between steps {step - len(values) + 1} "
                        f"and {step} (last finite loss {sums[0] / max(seen, 1):.4g}); run "
                        f"stopped. The last good checkpoint is kept: {last_good}. Lower the "
                        "learning rate or use --precision=float32."
                    )
                sums += [values[:, 0].sum() * global_batch, values[:, 1].sum()]
                seen += n_imgs
                state["images"] += n_imgs
                if t_mark is None:  # the first steps include tracing: not timed
                    t_mark, images_mark = time.time(), state["images"]
                rate = (state["images"] - images_mark) / max(time.time() - t_mark, 1e-9)
                if schedules.update_warmup(
                    resolved, sched, step, 1.0 - values[:, 1].sum() / n_imgs
                ):
                    log(
                        f"\nWarm-up ended at step {step}: training error < "
                        f"{resolved['warmup_until_error']:.0%}."
                    )
                with writer.as_default(step=step):
                    summary_scalar("train/loss", values[:, 0].mean(), step)
                    summary_scalar("train/accuracy", values[:, 1].sum() / n_imgs, step)
                    summary_scalar("learning_rate", lr, step)
                    summary_scalar("images_per_second", rate, step)
                if bar is not None:
                    bar.update(
                        step - epoch * spe,
                        [
                            ("loss", sums[0] / seen),
                            ("acc", sums[1] / seen),
                            ("lr", lr),
                            ("img/s", rate),
                        ],
                        finalize=False,
                    )
                epoch_done = step == (epoch + 1) * spe or step == total_steps
                if ckpt_now and not epoch_done:
                    save(step)
            # --- epoch end: validation, schedule, history, checkpoint -------------------------
            train_time = time.time() - t_epoch
            state["train_seconds"] += train_time
            val_loss, val_acc = evaluate(val_split)
            reduced = schedules.update_plateau(resolved, sched, 1.0 - val_acc)
            row = {
                "epoch": round(step / spe, 4),
                "step": step,
                "learning_rate": current_lr,
                "train_loss": float(sums[0] / max(seen, 1)),
                "train_accuracy": float(sums[1] / max(seen, 1)),
                "val_loss": float(val_loss),
                "val_accuracy": float(val_acc),
                "images_per_second": float(seen / max(train_time, 1e-9)),
                "seconds": train_time,
            }
            state["history"].append(row)
            with writer.as_default(step=step):
                summary_scalar("val/loss", val_loss, step)
                summary_scalar("val/accuracy", val_acc, step)
            if bar is not None:
                bar.update(end - epoch * spe, finalize=True)
            log(
                f"epoch {row['epoch']:g} step {step}/{total_steps}: train loss "
                f"{row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | val loss "
                f"{val_loss:.4f} acc {val_acc:.4f} | lr {current_lr:g} | "
                f"{row['images_per_second']:.0f} img/s" + (" | plateau: lr /10" if reduced else "")
            )
            save(step)
            if chief:
                plots.write_csv_atomic(os.path.join(cfg.model_dir, "history.csv"), state["history"])
    except tf.errors.OpError as err:
        if n_workers > 1:
            raise lost_worker(err) from err
        raise
    writer.flush()

    # --- final model and summary -----------------------------------------------------------
    if ema_vars:  # Polyak averaging: the moving average IS the final model
        for v, e in zip(tvars, ema_vars):
            v.assign(e.value())
    test_loss, test_acc = evaluate(test_split, swap_ema=False)  # the average is in place
    summary = {
        "model": cfg.model,
        "dataset": cfg.dataset,
        "recipe": cfg.recipe,
        "steps": step,
        "epochs": step / spe,
        "resumed_from_step": resumed_from,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_acc),
        "val_accuracy": state["history"][-1]["val_accuracy"] if state["history"] else None,
        "images_per_second": float(state["images"] / max(state["train_seconds"], 1e-9)),
        "wall_seconds_this_session": time.time() - wall_start,
        "train_seconds": state["train_seconds"],
        "skipped_images": len(skipped),
        "skipped_files": skipped[:50],
        "lr_changes": state["lr_changes"],
        "warmup_end": sched.get("warmup_end"),
        "final_weights": os.path.join(cfg.model_dir, "final.weights.h5"),
    }
    if chief:
        tmp = os.path.join(cfg.model_dir, f"final.tmp{os.getpid()}.weights.h5")
        model.save_weights(tmp)
        os.replace(tmp, summary["final_weights"])
        if cfg.plots:
            plots.plot_history(
                os.path.join(cfg.model_dir, "curves.png"),
                state["history"],
                title=f"{cfg.model} on {cfg.dataset} ({cfg.recipe})",
            )
        config_lib.write_json_atomic(os.path.join(cfg.model_dir, "summary.json"), summary)
    log(
        f"Done: {step} steps ({step / spe:.2f} epochs), test accuracy {test_acc:.4f} on "
        f"{test_split.num_examples} images, {summary['images_per_second']:.0f} img/s, "
        f"skipped {len(skipped)} unreadable image(s)."
    )
    return (summary, model) if return_model else summary
