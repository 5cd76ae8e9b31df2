"""ResNet v2 (pre-activation): identical to keras.applications' ResNet50V2/101V2/152V2.

A keras.applications model with random weights (BN statistics included) is
saved, loaded into ours and the outputs compared; and ours saved and loaded
into keras.applications'. Same weight-bearing layers, names, shapes and order.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_convnets
from keras_convnets.models import _common, registry, resnet_v2
from keras_convnets.models import weights as weights_lib

BUILDERS = {
    "resnet50v2": (keras_convnets.ResNet50V2, keras.applications.ResNet50V2),
    "resnet101v2": (keras_convnets.ResNet101V2, keras.applications.ResNet101V2),
    "resnet152v2": (keras_convnets.ResNet152V2, keras.applications.ResNet152V2),
}
DEEP = {"resnet101v2", "resnet152v2"}


def _randomize(model, seed):
    """Random weights everywhere, BN moving statistics included (variance > 0)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for var in layer.weights:
            shape = tuple(var.shape)
            if "variance" in var.path:
                var.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            else:
                var.assign(rng.normal(0, 0.05, shape).astype("float32"))


def _weighted(model):
    return [
        (layer.name, [tuple(w.shape) for w in layer.weights])
        for layer in model.layers
        if layer.weights
    ]


@pytest.mark.parametrize(
    "name", [n if n not in DEEP else pytest.param(n, marks=pytest.mark.slow) for n in BUILDERS]
)
@pytest.mark.parametrize("include_top", [True, False])
def test_keras_applications_weights_load_both_ways(name, include_top, tmp_path):
    ours_fn, theirs_fn = BUILDERS[name]
    kwargs = {"weights": None, "include_top": include_top}
    if not include_top:
        kwargs["input_shape"] = (96, 96, 3)
    theirs = theirs_fn(**kwargs)
    ours = ours_fn(**kwargs)
    assert _weighted(ours) == _weighted(theirs)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    x = (
        np.random.default_rng(1)
        .uniform(-1, 1, (2,) + tuple(ours.input_shape[1:]))
        .astype("float32")
    )

    _assert_loads_into(theirs, ours, x, tmp_path / "theirs.weights.h5", seed=3)
    _assert_loads_into(ours, theirs, x, tmp_path / "ours.weights.h5", seed=4)


def _assert_loads_into(source, target, x, path, *, seed):
    """Random weights saved from ``source`` load into ``target``: same outputs within 1e-5."""
    _randomize(source, seed=seed)
    source.save_weights(path)
    target.load_weights(path)
    expected = np.asarray(source(x, training=False))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(
        np.asarray(target(x, training=False)), expected, atol=1e-5 * max(scale, 1)
    )


def test_structure_is_pre_activation():
    model = keras_convnets.ResNet50V2(input_shape=(64, 64, 3), include_top=False, pooling="avg")
    names = [layer.name for layer in model.layers]
    # No BN or ReLU in the stem, none after an addition; one post_bn/post_relu at the end.
    assert names[:6] == ["input_layer", "conv1_pad", "conv1_conv", "pool1_pad", "pool1_pool",
                         "conv2_block1_preact_bn"]  # fmt: skip
    assert names[-3:] == ["post_bn", "post_relu", "avg_pool"]
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 16
    for add in adds:
        consumers = [n.operation for n in add._outbound_nodes]
        assert all(not isinstance(c, keras.layers.Activation) for c in consumers)
    # The stride sits in the last unit of conv2..conv4: 64 -> 16 (stem) -> 8 -> 4 -> 2 -> 2.
    assert model.get_layer("conv2_block3_out").output.shape[1:3] == (8, 8)
    assert model.get_layer("conv4_block6_out").output.shape[1:3] == (2, 2)
    assert model.get_layer("conv5_block3_out").output.shape[1:3] == (2, 2)


def test_registry_and_public_api():
    assert set(registry.list_models("resnet*v2")) == set(BUILDERS)
    for name in BUILDERS:
        info = registry.model_info(name)
        assert info.family == "resnet_v2"
        assert info.preprocessing == "tf"
        assert "Identity Mappings" in info.paper
        assert info.hosted_weights
    model = registry.get_model("resnet50v2", input_shape=(64, 64, 3), classes=7)
    assert model.output_shape == (None, 7)
    assert model.name == "resnet50v2"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pooling": "mean", "include_top": False}, "pooling.*'mean'"),
        ({"classes": 10, "weights": "imagenet"}, "classes"),
        ({"input_shape": (16, 16, 3), "include_top": False}, "16"),
        ({"include_top": "yes"}, "include_top"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_convnets.ResNet50V2(**kwargs)


def test_imagenet_weights_hash_mismatch_refused(local_server):
    _, www = local_server
    (www / "resnet").mkdir()
    file_name, _, _ = weights_lib.weights_url("resnet50v2", include_top=False)
    (www / "resnet" / file_name).write_bytes(b"not the keras.applications file")
    with pytest.raises(ValueError, match="(?i)hash|corrupt"):
        resnet_v2.ResNet50V2(weights="imagenet", include_top=False, input_shape=(64, 64, 3))


# ----------------------------------------------------------------------------- CIFAR (Tables 2, 3)

CIFAR = {
    "preact_resnet110": (keras_convnets.PreActResNet110, 110),
    "preact_resnet164": (keras_convnets.PreActResNet164, 164),
    "preact_resnet1001": (keras_convnets.PreActResNet1001, 1001),
}


def _cifar_params(name):
    return [pytest.param(name, marks=pytest.mark.slow) if name.endswith("1001") else name]


def _weight_layers(model):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]


@pytest.mark.parametrize("name", [p for n in CIFAR for p in _cifar_params(n)])
def test_cifar_depth_and_the_papers_parameter_counts(name):
    builder, depth = CIFAR[name]
    model = builder()
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    weighted = _weight_layers(model)
    # Depth counts the convolutions and the classifier on the main path (not the 1x1 projections).
    assert sum(not layer.name.endswith("_0_conv") for layer in weighted) == depth
    assert resnet_v2.CIFAR_PREACT_SPECS[name].depth == depth
    # The paper's 1.7M / 1.7M / 10.2M count the convolution and classifier weights, not BN's:
    # ResNet-1001: 17 w^2 per unit x 111 units for w = 16, 32, 64, plus the projections,
    # the stem and the classifier = 10.18M; with BN's gamma and beta 10.33M trainable.
    info = registry.model_info(name)
    no_bn = sum(int(np.prod(w.shape)) for layer in weighted for w in layer.weights)
    assert no_bn == pytest.approx(info.paper_params, rel=0.02)
    # ... to the digit the paper prints: 1,730,714 -> 1.7M, 1,679,034 -> 1.7M, 10,178,490 -> 10.2M.
    assert round(no_bn / 1e5) / 10 == info.paper_params / 1e6
    assert info.paper_error == resnet_v2.TABLE_3_ERRORS[name]


# conv2_block2 of ResNet-110 in each ordering of Fig. 4: (layer suffix, layer type).
FIG_4 = {
    "original": "1_conv 1_bn 1_relu 2_conv 2_bn add out:Activation",
    "bn_after_addition": "1_conv 1_bn 1_relu 2_conv add add_bn out:Activation",
    "relu_before_addition": "1_conv 1_bn 1_relu 2_conv 2_bn 2_relu out:Add",
    "relu_only_preact": "preact_relu 1_conv 1_bn 1_relu 2_conv 2_bn out:Add",
    "full_preact": "preact_bn preact_relu 1_conv 1_bn 1_relu 2_conv out:Add",
}


@pytest.mark.parametrize("unit", resnet_v2.UNITS)
def test_fig_4_unit_orderings(unit):
    model = keras_convnets.PreActResNet110(unit=unit, classes=3)
    prefix = "conv2_block2_"
    order = [layer for layer in model.layers if layer.name.startswith(prefix)]
    expected = FIG_4[unit].split()
    assert [layer.name[len(prefix) :] for layer in order] == [e.split(":")[0] for e in expected]
    out_type = expected[-1].split(":")[1]
    assert type(model.get_layer(prefix + "out")).__name__ == out_type
    # The pre-activation orderings end with the activation their last unit lacks.
    names = {layer.name for layer in model.layers}
    assert ("post_bn" in names) == (unit == "full_preact")
    assert ("post_relu" in names) == (unit in resnet_v2.PREACT_UNITS)
    # The first unit of the down-sampling stages projects (1x1/2) the pre-activated input.
    projection = model.get_layer("conv3_block1_0_conv")
    assert projection.strides == (2, 2) and projection.kernel.shape[:2] == (1, 1)
    if unit == "full_preact":
        assert projection.input is model.get_layer("conv3_block1_preact_relu").output
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    y = np.asarray(model(x, training=True))
    assert np.isfinite(y).all() and np.allclose(y.sum(-1), 1.0, atol=1e-5)
    arch, kwargs = _common.build_spec(model)
    assert arch == "preact_resnet110" and kwargs["unit"] == unit  # the tf_keras twin's recipe
    assert unit in resnet_v2.TABLE_2_ERRORS["preact_resnet110"]


def test_cifar_bottleneck_unit_and_bad_unit():
    model = keras_convnets.PreActResNet164(include_top=False, pooling="avg", unit="original")
    assert model.output_shape == (None, 256)
    prefix = "conv3_block1_"
    names = [layer.name[len(prefix) :] for layer in model.layers if layer.name.startswith(prefix)]
    main_path = [n for n in names if not n.startswith("0_")]  # in order; the shortcut beside it
    assert main_path == [
        "1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn", "add", "out"
    ]  # fmt: skip
    assert sorted(set(names) - set(main_path)) == ["0_bn", "0_conv"]
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)  # the stride in the 3x3
    with pytest.raises(ValueError, match=r"`unit` must be one of 'original'.*Received: unit='e'"):
        keras_convnets.PreActResNet110(unit="e")
    with pytest.raises(ValueError, match="weights"):
        keras_convnets.PreActResNet110(weights="imagenet")
