"""The registry: lookup, and every registered model rebuilt and checked.

Parametrized over ``registry.list_models()``: the metadata (parameters,
trainable parameters, multiply-adds) is recomputed from the real model; output
shapes with and without the top, every pooling, custom inputs, 1 and 4
channels; gradients reach every trainable weight; ``.keras`` files load back
with ``safe_mode=True``. The paper's figures are checked as golden values.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_convnets.analysis import cost  # noqa: F401  (registers the ResNets)
from keras_convnets.models import heads, registry, resnet  # noqa: F401  (registers the ResNets)
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.saving import load_model

# Every registered model (the metadata test), and the ResNet family's entries for the
# per-model behaviour tests (the other families are exercised by their own test files).
ALL = registry.list_models()
RESNETS = [n for n in ALL if registry.model_info(n).family in ("resnet", "plain")]
SLOW = {"resnet1202", "preact_resnet1001"}
# The deepest builds (hundreds of layers each), checked at the default configuration
# by the fast metadata test; their input/gradient/save variants go to the slow run.
# Shallower members of the same families (same code paths) run by default.
BIG = {"resnet101", "resnet152", "resnet110", "plain110"}


def params_of(names, slow=frozenset()):
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


def small_shape(info, channels=None):
    """A small input for the ImageNet nets, the default one for the CIFAR nets."""
    h, w, c = info.input_shape
    if h > 64:
        h = w = 64
    return (h, w, channels or c)


_COSTS: dict = {}


def measured(name):
    """Builds ``name`` at its defaults once per session: (params, trainable, macs)."""
    if name not in _COSTS:
        model = registry.get_model(name)
        # ModelInfo.macs counts the main path: auxiliary heads (GoogLeNet, Inception v3)
        # are left out; for single-output models inference_model(model) is model.
        result = cost.analyze(heads.inference_model(model))
        trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
        assert cost.analyze(model).params == model.count_params()
        _COSTS[name] = (model.count_params(), trainable, result.macs, model.output_shape)
    return _COSTS[name]


# --- Lookup ----------------------------------------------------------------------------------


def test_list_models_and_patterns():
    assert ALL == sorted(ALL)
    expected = {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
        "plain18", "plain34", "plain20", "plain32", "plain44", "plain56", "plain110",
    }  # fmt: skip
    assert expected <= set(ALL)
    assert registry.list_models("resnet2*") == ["resnet20"]
    assert registry.list_models("plain*") == [
        "plain110", "plain18", "plain20", "plain32", "plain34", "plain44", "plain56"
    ]  # fmt: skip
    assert registry.list_models("RESNET5?") == ["resnet50", "resnet56"]
    assert registry.list_models("nothing*") == []


def test_model_info_and_get_model_overrides():
    info = registry.model_info("ResNet50")
    assert info.name == "resnet50" and info.family == "resnet"
    assert info.input_shape == (224, 224, 3) and info.classes == 1000
    assert info.hosted_weights and "He et al. 2015" in info.paper
    assert not registry.model_info("resnet18").hosted_weights
    plain = registry.model_info("plain20")
    assert plain.family == "plain" and plain.overrides["residual"] is False
    model = registry.get_model("resnet20", classes=7, shortcut="B")
    assert model.output_shape == (None, 7) and model.name == "resnet20"
    assert "conv3_block1_0_conv" in {layer.name for layer in model.layers}
    model = registry.get_model("plain20", classes=3)
    assert model.name == "plain20" and model.output_shape == (None, 3)
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)
    with pytest.raises(ValueError) as info:
        registry.get_model("resnet7")
    assert "'resnet7'" in str(info.value) and "resnet50" in str(info.value)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.model_info("resnet20"))


def test_register_model_decorator_registers_at_definition_and_refuses_duplicates():
    assert registry.model_info("resnet50").builder is resnet.ResNet50
    assert registry.model_info("plain20").builder is resnet.ResNet20
    assert registry.model_info("resnet50_torch").builder is resnet.ResNet50
    fields = dict(registry.model_info("resnet20").__dict__)
    fields.pop("name"), fields.pop("builder")
    with pytest.raises(ValueError, match="'resnet20' is already registered"):

        @registry.register_model("resnet20", **fields)
        def again(**kwargs):  # pragma: no cover - never registered, never called
            return None

    assert registry.model_info("resnet20").builder is resnet.ResNet20
    try:

        @registry.register_model("_test_only_resnet20", **fields)
        def builder(**kwargs):
            return kwargs

        assert registry.get_model("_test_only_resnet20", classes=3) == {"classes": 3}
        assert registry.model_info("_test_only_resnet20").builder is builder
    finally:
        registry._REGISTRY.pop("_test_only_resnet20", None)


@pytest.mark.parametrize("name", ALL)
def test_preprocessing_mode(name):
    info = registry.model_info(name)
    assert info.preprocessing in ("caffe", "tf", "torch")
    if info.family in ("resnet", "plain"):
        # The hosted ResNet weights of keras.applications expect "caffe".
        assert info.preprocessing == "caffe"


def test_markdown_table_from_metadata():
    table = registry.markdown_table("resnet5*")
    assert "`resnet50`" in table and "25,636,712" in table and "3.8G mult-adds" in table


# --- Metadata recomputed from the models -----------------------------------------------------


@pytest.mark.parametrize("name", params_of(ALL, SLOW))
def test_metadata_matches_the_built_model(name):
    info = registry.model_info(name)
    params, trainable, macs, output_shape = measured(name)
    assert params == info.params
    assert trainable == info.trainable_params
    assert macs == info.macs
    if len(info.outputs) == 1:
        assert output_shape == (None, info.classes)
    if info.hosted_weights:
        assert name in weights_lib.hosted_models()


PAPER_GMACS = {
    "resnet18": 1.8,
    "resnet34": 3.6,
    "resnet50": 3.8,
    "resnet101": 7.6,
    "resnet152": 11.3,
}


@pytest.mark.parametrize("name", sorted(PAPER_GMACS))
def test_paper_multiply_adds_within_2_percent(name):
    # Table 1, "FLOPs" row (multiply-adds), at 224x224.
    _, _, macs, _ = measured(name)
    assert macs == pytest.approx(PAPER_GMACS[name] * 1e9, rel=0.02)
    assert registry.model_info(name).paper_macs == PAPER_GMACS[name] * 1e9


CIFAR_TRAINABLE = {
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
}


@pytest.mark.parametrize("name", params_of(sorted(CIFAR_TRAINABLE), SLOW))
def test_cifar_option_a_trainable_params_exact(name):
    # §4.2 / Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M, 19.4M; exact counts of option A.
    _, trainable, _, _ = measured(name)
    assert trainable == CIFAR_TRAINABLE[name]
    info = registry.model_info(name)
    assert trainable == pytest.approx(info.paper_params, rel=0.02)


# --- Every model: shapes, inputs, gradients, saving ------------------------------------------


@pytest.mark.parametrize("name", params_of(RESNETS, SLOW | BIG))
def test_output_shapes_poolings_and_inputs(name, rng):
    info = registry.model_info(name)
    shape = small_shape(info)
    stride = info.min_input_size
    feat = (shape[0] // stride, shape[1] // stride)

    top = registry.get_model(name, input_shape=shape, classes=5)
    assert top.input_shape == (None, *shape) and top.output_shape == (None, 5)
    # Training mode (batch statistics): at initialization the moving statistics are the
    # identity and ResNet-1202's 600 residual additions overflow float32 in inference mode.
    y = np.asarray(top(rng.uniform(0, 1, size=(2, *shape)).astype("float32"), training=True))
    assert y.shape == (2, 5) and np.allclose(y.sum(axis=1), 1.0, atol=1e-5)

    # No top, no pooling, given an input tensor.
    tensor = keras.Input(shape=shape, name="my_input")
    features = registry.get_model(name, include_top=False, input_tensor=tensor)
    assert features.inputs[0] is tensor
    assert features.output_shape[1:3] == feat
    channels = features.output_shape[-1]
    assert not any(layer.name == "predictions" for layer in features.layers)

    # Average pooling, 1 channel; max pooling, 4 channels.
    for pooling, c in (("avg", 1), ("max", 4)):
        model = registry.get_model(
            name, include_top=False, pooling=pooling, input_shape=small_shape(info, c)
        )
        assert model.output_shape == (None, channels)
        assert model.get_layer(f"{pooling}_pool") is not None
        x = rng.uniform(0, 1, size=(1, *small_shape(info, c))).astype("float32")
        assert np.asarray(model(x)).shape == (1, channels)


@pytest.mark.parametrize("name", params_of(RESNETS, SLOW | BIG))
def test_gradients_reach_every_trainable_weight(name, rng):
    info = registry.model_info(name)
    shape = small_shape(info)
    model = registry.get_model(name, input_shape=shape, classes=4, classifier_activation=None)
    x = tf.constant(rng.normal(size=(4, *shape)).astype("float32"))
    labels = tf.constant([0, 1, 2, 3])
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == len(model.trainable_weights) > 0
    nonzero = 0
    for variable, grad in zip(model.trainable_weights, grads):
        assert grad is not None, variable.path
        grad = grad.numpy()
        assert np.isfinite(grad).all(), variable.path
        nonzero += bool(np.any(grad != 0))
    assert nonzero >= 0.9 * len(grads)


@pytest.mark.parametrize("name", params_of(RESNETS, SLOW | BIG))
def test_keras_file_roundtrip_safe_mode_and_no_lambda(name, tmp_path, rng):
    info = registry.model_info(name)
    shape = small_shape(info)
    model = registry.get_model(name, input_shape=shape)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Lambda" not in kinds
    # Only built-in Keras layers or this package's registered ones.
    for layer in model.layers:
        module = type(layer).__module__
        assert module.startswith(("keras.", "keras_convnets.")), (layer.name, module)
        if module.startswith("keras_convnets."):
            registered = keras.saving.get_registered_name(type(layer))
            assert registered.startswith("keras_convnets>"), registered
    path = tmp_path / f"{name}.keras"
    model.save(path)
    if name == "resnet1202":
        # keras.models.load_model exceeds Python's default recursion limit on this graph;
        # keras_convnets.models.saving.load_model raises the limit (still safe_mode=True).
        loaded = load_model(path, safe_mode=True)
    else:
        loaded = keras.models.load_model(path, safe_mode=True)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    x = rng.uniform(0, 1, size=(2, *shape)).astype("float32")
    for training in (False, True):
        np.testing.assert_array_equal(
            np.asarray(loaded(x, training=training)), np.asarray(model(x, training=training))
        )
    assert np.isfinite(np.asarray(loaded(x, training=True))).all()
