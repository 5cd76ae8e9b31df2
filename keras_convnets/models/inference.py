"""A faster inference model: batch normalisation folded, ReLU fused, weights stored once in bf16.

:func:`optimize_for_inference` rewrites a trained functional model into one
that computes the same function with less work:

* every convolution (``Conv1D/2D/3D``) or ``Dense`` layer whose output is read
  only by a ``BatchNormalization`` over the last axis becomes one layer whose
  kernel and bias hold the normalisation (``kernel * s``, ``(bias - mean) * s +
  beta`` with ``s = gamma / sqrt(variance + epsilon)``, computed in float64);
* a ReLU (``Activation("relu")`` or a plain ``ReLU``) that is the only reader
  of that result becomes the layer's ``activation="relu"`` (TensorFlow then
  runs convolution, bias and ReLU as one fused kernel);
* auxiliary heads are dropped (:func:`keras_convnets.models.heads.inference_model`);
* with ``dtype="bfloat16"`` the folded weights are stored in bfloat16 once
  (``"bfloat16"`` dtype policy, not ``"mixed_bfloat16"``, which casts every
  float32 kernel on every call); the classifier (``Dense``, global pooling and
  what follows them) stays float32, so the probabilities are float32.

Everything else (pools, concatenations, additions, option-A shortcuts, LRN,
dropout) is copied with its name and weights. The surviving layers keep their
names (a folded convolution keeps the convolution's), so ``get_layer`` and
:func:`keras_convnets.analysis.cost.analyze` work on the result; the folded-away BN and
ReLU layers are gone. Only Keras layers and ``keras.ops`` are used: the result
runs on every backend.
"""

from __future__ import annotations

import collections

import keras
import numpy as np

DTYPES = ("float32", "bfloat16", "float16")

# Exact types: subclasses (transposed, depthwise, separable) scale other kernel axes.
_FOLDABLE = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)
# Layers that run in float32 under a reduced dtype, with everything after them.
_FLOAT32_TAIL = (
    keras.layers.Dense,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
    keras.layers.Softmax,
)


class _Graph:
    """The nodes of a functional model in execution order, with who reads each tensor."""

    def __init__(self, model):
        # `_nodes_by_depth` holds only the nodes of this model (a layer shared with
        # a bigger model, e.g. the one with auxiliary heads, has more inbound nodes).
        by_depth = model._nodes_by_depth
        self.nodes = [n for d in sorted(by_depth, reverse=True) for n in by_depth[d]]
        self.nodes = [n for n in self.nodes if n.operation is not None and not n.is_input]
        self.readers = collections.defaultdict(list)
        self.calls = collections.Counter()
        for node in self.nodes:
            self.calls[id(node.operation)] += 1
            for tensor in node.input_tensors:
                self.readers[id(tensor)].append(node)
        self.output_ids = {id(t) for t in model.outputs}

    def only_reader(self, node):
        """The one node reading ``node``'s single output, or None (several, none, or an output)."""
        if len(node.outputs) != 1 or id(node.outputs[0]) in self.output_ids:
            return None
        readers = self.readers[id(node.outputs[0])]
        if len(readers) != 1 or len(readers[0].input_tensors) != 1:
            return None
        return readers[0]

    def single_call(self, node):
        return self.calls[id(node.operation)] == 1


def _is_relu(layer) -> bool:
    if type(layer) is keras.layers.Activation:
        return keras.activations.serialize(layer.activation) == "relu"
    if type(layer) is keras.layers.ReLU:
        cfg = layer.get_config()
        return cfg["max_value"] is None and cfg["negative_slope"] == 0 and cfg["threshold"] == 0
    return False


def _foldable_bn(layer, rank) -> bool:
    if type(layer) is not keras.layers.BatchNormalization:
        return False
    return layer.axis in (-1, rank - 1)


def _plan(graph):
    """``{id(conv node): (conv node, bn node or None, relu node or None)}``, skipped node ids."""
    plan, skipped = {}, set()
    for node in graph.nodes:
        layer = node.operation
        if type(layer) not in _FOLDABLE or not graph.single_call(node) or id(node) in skipped:
            continue
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            continue
        if keras.activations.serialize(layer.activation) != "linear":
            continue
        bn = graph.only_reader(node)
        rank = len(node.outputs[0].shape)
        if bn is None or not graph.single_call(bn) or not _foldable_bn(bn.operation, rank):
            bn = None
        relu = graph.only_reader(bn or node)
        if relu is not None and (not graph.single_call(relu) or not _is_relu(relu.operation)):
            relu = None
        if bn is None and relu is None:
            continue
        plan[id(node)] = (node, bn, relu)
        skipped.update(id(n) for n in (bn, relu) if n is not None)
    return plan, skipped


def _numpy64(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), np.float64)


def folded_weights(layer, bn):
    """``(kernel, bias)`` of ``layer`` (a convolution or Dense) with BN ``bn`` folded in, float64.

    ``bn=None`` returns the layer's own kernel and bias (zeros without one).
    """
    kernel = _numpy64(layer.kernel)
    units = kernel.shape[-1]
    bias = _numpy64(layer.bias) if layer.use_bias else np.zeros(units)
    if bn is None:
        return kernel, bias
    gamma = _numpy64(bn.gamma) if bn.scale else np.ones(units)
    beta = _numpy64(bn.beta) if bn.center else np.zeros(units)
    scale = gamma / np.sqrt(_numpy64(bn.moving_variance) + bn.epsilon)
    return kernel * scale, (bias - _numpy64(bn.moving_mean)) * scale + beta


def _assign(variable, value):
    variable.assign(keras.ops.cast(keras.ops.convert_to_tensor(value), variable.dtype))


def _folded_layer(conv, bn, relu, policy):
    config = conv.get_config()
    config.update(use_bias=True, activation="relu" if relu is not None else "linear", dtype=policy)
    return type(conv).from_config(config)


def _copied_layer(layer, policy):
    if not isinstance(layer, keras.layers.Layer):
        return layer  # a keras.ops operation: stateless
    if isinstance(layer, keras.Model):
        raise ValueError(
            "optimize_for_inference() rewrites a flat functional model; it does not descend "
            f"into nested models. Received a model containing the model {layer.name!r}."
        )
    config = layer.get_config()
    if "dtype" in config and policy is not None:
        config["dtype"] = policy
    return type(layer).from_config(config)


def _check_model(model, dtype):
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(
            f"`dtype` must be None or one of {', '.join(DTYPES)}. Received: dtype={dtype!r}"
        )
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise TypeError(
            "`model` must be a Keras 3 functional model (tf_keras and subclassed models are "
            f"not rewritten). Received: model of type {type(model).__name__}"
        )


def optimize_for_inference(model, dtype=None, *, output="predictions"):
    """A new inference model computing ``model``'s main output with BN folded and ReLU fused.

    ``dtype``: ``None`` keeps each layer's dtype policy (a float64 model folds
    in float64); ``"float32"``; or ``"bfloat16"`` (``"float16"``) to store the
    convolutions' folded weights in that type once, the classifier staying
    float32. ``output``: the output kept when ``model`` has auxiliary
    heads (see :func:`keras_convnets.models.heads.inference_model`). ``model`` is not
    changed and shares nothing with the result (weights are copied).

    Example:
        >>> import keras_convnets
        >>> model = keras_convnets.ResNet20()
        >>> fast = keras_convnets.optimize_for_inference(model)
        >>> fast.get_layer("conv1_conv").get_config()["activation"]
        'relu'
        >>> "conv1_bn" in [layer.name for layer in fast.layers]
        False
    """
    from keras_convnets.models import _common, heads

    _check_model(model, dtype)
    model = heads.inference_model(model, output)
    graph = _Graph(model)
    plan, skipped = _plan(graph)
    tensors, float32_ids = {}, set()
    inputs = []
    for tensor in model.inputs:
        new = keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=tensor.name)
        tensors[id(tensor)] = new
        inputs.append(new)
    with _common.deep_recursion():
        for node in graph.nodes:
            if id(node) not in skipped:
                _rebuild_node(node, plan.get(id(node)), tensors, float32_ids, dtype)
        outputs = [tensors[id(t)] for t in model.outputs]
        return keras.Model(
            inputs[0] if len(inputs) == 1 else inputs,
            outputs[0] if len(outputs) == 1 else outputs,
            name=model.name,
        )


def _policy(layer, dtype, tail):
    """The new layer's dtype policy: its own (dtype None), float32 in the tail, else ``dtype``."""
    if dtype is None:
        policy = getattr(layer, "dtype_policy", None)
        return None if policy is None else policy.name
    if tail or dtype == "float32":
        return "float32"
    if isinstance(layer, keras.layers.BatchNormalization):
        return f"mixed_{dtype}"  # one left unfolded keeps float32 statistics
    return dtype


def _rebuild_node(node, fusion, tensors, float32_ids, dtype):
    """Calls the new layer for ``node`` (or its fused chain) on the new tensors."""
    layer = node.operation
    in_float32 = any(id(t) in float32_ids for t in node.input_tensors)
    tail = dtype is not None and (in_float32 or isinstance(layer, _FLOAT32_TAIL) and not fusion)
    policy = _policy(layer, dtype, tail)
    args, kwargs = node.arguments.fill_in(tensors)
    if fusion is not None:
        _, bn, relu = fusion
        new_layer = _folded_layer(layer, bn, relu, policy)
        result = new_layer(*args, **kwargs)
        kernel, bias = folded_weights(layer, bn and bn.operation)
        _assign(new_layer.kernel, kernel)
        _assign(new_layer.bias, bias)
        last = relu or bn or node
    else:
        new_layer = _copied_layer(layer, policy)
        result = new_layer(*args, **kwargs)
        if new_layer is not layer:
            for new_var, old_var in zip(new_layer.weights, layer.weights, strict=True):
                _assign(new_var, keras.ops.convert_to_numpy(old_var))
        last = node
    results = keras.tree.flatten(result)
    for old, new in zip(last.outputs, results, strict=True):
        tensors[id(old)] = new
        if tail:
            float32_ids.add(id(old))
