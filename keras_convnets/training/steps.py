"""The compiled steps of the training loop: optimizer, loss, train and evaluation steps.

``keras.Model.fit`` under ``MultiWorkerMirroredStrategy`` fails with Keras 3.15
("Attempt to convert a value (PerReplica...)"), so the step is written here
with ``strategy.run``: the loss of each replica is summed over its examples
and divided by the GLOBAL batch, gradients are summed across replicas by the
loop itself (so that gradient clipping sees the global gradient, as on one
device) and applied by a Keras 3 optimizer. Auxiliary outputs add their
losses with the registry's weights.
"""

from __future__ import annotations

import numpy as np

from keras_convnets.training import config as config_lib


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


def make_optimizer(resolved: config_lib.Resolved):
    """The recipe's Keras 3 optimizer (call inside ``strategy.scope()``).

    Example:
        >>> from keras_convnets.training import steps
        >>> from keras_convnets.training.config import Resolved
        >>> opt = steps.make_optimizer(Resolved(optimizer="sgd", learning_rate=0.1))
        >>> float(opt.momentum)
        0.9
    """
    import keras

    kwargs = {"learning_rate": resolved.learning_rate, "global_clipnorm": resolved.clip_global_norm}
    if resolved.optimizer == "sgd":
        opt = _pre_reduced(keras.optimizers.SGD)(
            momentum=resolved.momentum, nesterov=resolved.nesterov, **kwargs
        )
    elif resolved.optimizer == "rmsprop":
        opt = _pre_reduced(keras.optimizers.RMSprop)(
            rho=resolved.rho, epsilon=resolved.epsilon, momentum=resolved.momentum, **kwargs
        )
    else:
        raise ValueError(
            f"`optimizer` must be one of {', '.join(config_lib.OPTIMIZERS)}. "
            f"Received: optimizer={resolved.optimizer!r}"
        )
    if resolved.precision == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def zero_init_residual(model) -> list:
    """Sets gamma = 0 in the last BatchNorm of every residual branch; returns their names.

    A branch is an input of an ``Add`` layer that comes straight from a
    BatchNormalization layer; a projection shortcut (``..._0_bn``) is not a
    branch. Each residual block then starts as its shortcut (Goyal et al. 2017
    §5.1; He et al. 2019 "zero gamma"). Models without such blocks are unchanged.

    Example:
        >>> import keras_convnets
        >>> from keras_convnets.training import steps
        >>> m = keras_convnets.ResNet20(weights=None, input_shape=(28, 28, 1))
        >>> len(steps.zero_init_residual(m))
        9
    """
    import keras

    zeroed = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Add):
            continue
        for tensor in layer._inbound_nodes[0].input_tensors:
            source = tensor._keras_history.operation
            is_bn = isinstance(source, keras.layers.BatchNormalization)
            if is_bn and source.scale and not source.name.endswith("_0_bn"):
                source.gamma.assign(np.zeros(source.gamma.shape, source.gamma.dtype))
                zeroed.append(source.name)
    return zeroed


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


def all_finite(variables) -> bool:
    """Whether every value of every variable is finite (checked before a checkpoint)."""
    return all(np.isfinite(np.asarray(v.numpy(), np.float64)).all() for v in variables)


class Steps:
    """The ``tf.function`` steps of one run: a train step per trainable set, one eval step."""

    def __init__(self, *, model, optimizer, strategy, resolved, output_names, ema_vars):
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy
        self.resolved = resolved
        self.names = list(output_names)
        self.ema_vars = ema_vars
        self._train_steps = {}
        self.eval_step = self._make_eval_step()

    def outputs(self, x, training):
        import tensorflow as tf

        out = self.model(x, training=training)
        if isinstance(out, dict):
            out = [out[n] for n in self.names]
        elif not isinstance(out, (list, tuple)):
            out = [out]
        return [tf.cast(o, tf.float32) for o in out]

    def per_example_loss(self, y, probs):
        import keras
        import tensorflow as tf

        smoothing = self.resolved.label_smoothing
        if smoothing:
            onehot = tf.one_hot(y, self.resolved.classes)
            return keras.losses.categorical_crossentropy(onehot, probs, label_smoothing=smoothing)
        return keras.losses.sparse_categorical_crossentropy(y, probs)

    def train_step(self, key):
        """The train step for the current trainable variables (``key`` names that set)."""
        if key not in self._train_steps:
            self._train_steps[key] = self._make_train_step(list(self.model.trainable_variables))
        return self._train_steps[key]

    def _make_train_step(self, tvars):
        import tensorflow as tf

        r = self.resolved
        weights = r.loss_weights

        def forward_backward(x, y):
            with tf.GradientTape() as tape:
                out = self.outputs(x, True)
                data_loss = tf.add_n(
                    [
                        weights.get(n, 0.0) * tf.reduce_sum(self.per_example_loss(y, o))
                        for n, o in zip(self.names, out)
                    ]
                ) / float(r.global_batch)
                total = data_loss + l2_penalty(self.model, r.weight_decay) / float(r.num_replicas)
                scaled = self.optimizer.scale_loss(total)
            grads = tape.gradient(scaled, tvars)
            hits = tf.equal(tf.argmax(out[0], -1), tf.cast(y, tf.int64))
            return total, tf.reduce_sum(tf.cast(hits, tf.float32)), grads

        if r.jit_compile:
            forward_backward = tf.function(forward_backward, jit_compile=True)

        def replica_step(x, y):
            total, correct, grads = forward_backward(x, y)
            ctx = tf.distribute.get_replica_context()
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            self.optimizer.apply(grads, tvars)
            return total, correct, 1.0 - tf.cast(tf.math.is_finite(total), tf.float32)

        @tf.function
        def train_step(batch):
            x, y = batch
            results = self.strategy.run(replica_step, args=(x, y))
            sums = [self.strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in results]
            self._update_ema()
            return sums

        return train_step

    def _update_ema(self):
        import tensorflow as tf

        if not self.ema_vars:
            return
        n = tf.cast(self.optimizer.iterations, tf.float32)
        decay = tf.minimum(self.resolved.ema_decay, (1.0 + n) / (10.0 + n))
        for e, v in self.ema_vars:  # (average, variable) pairs
            e.assign(decay * e + (1.0 - decay) * v.value)

    def _make_eval_step(self):
        import keras
        import tensorflow as tf

        def replica_eval(x, y, w):
            out = self.outputs(x, False)[0]
            loss = tf.reduce_sum(w * keras.losses.sparse_categorical_crossentropy(y, out))
            hit = tf.cast(tf.equal(tf.argmax(out, -1), tf.cast(y, tf.int64)), tf.float32)
            return loss, tf.reduce_sum(w * hit), tf.reduce_sum(w)

        @tf.function
        def eval_step(batch):
            x, y, w = batch
            results = self.strategy.run(replica_eval, args=(x, y, w))
            return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in results]

        return eval_step
