"""Inception-ResNet-v2: identical to keras.applications' InceptionResNetV2.

A keras.applications model with random weights (BN statistics included) is
saved, loaded into ours and the outputs compared; and ours saved and loaded
into keras.applications'. keras.applications leaves most layers unnamed, so
the structure is compared by the weight-bearing layers' classes and weight
shapes, in order (which is how Keras matches a ``.weights.h5`` file).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest

import keras_convnets
from keras_convnets.models import inception_resnet, registry
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.layers import ScaledResidual


def _randomize(model, seed):
    """Random weights everywhere, BN moving statistics included (variance > 0)."""
    rng = np.random.default_rng(seed)
    for var in model.weights:
        shape = tuple(var.shape)
        if "variance" in var.path:
            var.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            var.assign(rng.normal(0, 0.05, shape).astype("float32"))


def _weighted(model):
    return [
        (type(layer).__name__, [tuple(w.shape) for w in layer.weights])
        for layer in model.layers
        if layer.weights
    ]


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


@pytest.mark.parametrize(
    "kwargs",
    [
        {"include_top": False, "input_shape": (75, 75, 3)},
        {"include_top": True, "input_shape": (75, 75, 3), "classes": 10},
        pytest.param({"include_top": True}, marks=pytest.mark.slow, id="default-299"),
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_keras_applications_weights_load_both_ways(kwargs, tmp_path):
    theirs = keras.applications.InceptionResNetV2(weights=None, **kwargs)
    ours = keras_convnets.InceptionResNetV2(weights=None, **kwargs)
    assert _weighted(ours) == _weighted(theirs)
    assert ours.count_params() == theirs.count_params()
    assert ours.output_shape == theirs.output_shape
    x = (
        np.random.default_rng(1)
        .uniform(-1, 1, (2,) + tuple(ours.input_shape[1:]))
        .astype("float32")
    )
    _assert_loads_into(theirs, ours, x, tmp_path / "theirs.weights.h5", seed=3)
    _assert_loads_into(ours, theirs, x, tmp_path / "ours.weights.h5", seed=4)


def test_structure_blocks_and_names():
    model = keras_convnets.InceptionResNetV2(input_shape=(75, 75, 3), include_top=False)
    adds = [layer for layer in model.layers if isinstance(layer, ScaledResidual)]
    assert [a.name for a in adds[:2]] == ["block35_1_add", "block35_2_add"]
    assert len(adds) == sum(inception_resnet.BLOCKS) == 40
    assert [a.scale for a in adds] == [0.17] * 10 + [0.1] * 20 + [0.2] * 9 + [1.0]
    # Widths the up-projections restore: 320 (A), 1088 (B), 2080 (C); conv_7b gives 1536.
    for block, width in (("block35_10", 320), ("block17_20", 1088), ("block8_10", 2080)):
        assert model.get_layer(f"{block}_conv").output.shape[-1] == width
    assert model.get_layer("block8_10_add")._outbound_nodes[0].operation.name == "conv_7b"
    assert model.output_shape[-1] == 1536
    # At 299: 35x35 (A), 17x17 (B), 8x8 (C), as the paper's figures.
    full = keras_convnets.InceptionResNetV2(include_top=False)
    assert full.get_layer("mixed_5b").output.shape[1:] == (35, 35, 320)
    assert full.get_layer("mixed_6a").output.shape[1:] == (17, 17, 1088)
    assert full.get_layer("mixed_7a").output.shape[1:] == (8, 8, 2080)


def test_scales_argument():
    model = keras_convnets.InceptionResNetV2(
        input_shape=(75, 75, 3), include_top=False, scales=(0.3, 0.2, 0.1)
    )
    assert model.get_layer("block35_1_add").scale == 0.3
    assert model.get_layer("block17_1_add").scale == 0.2
    assert model.get_layer("block8_1_add").scale == 0.1
    assert model.get_layer("block8_10_add").scale == 1.0  # the last block is added unscaled
    one = keras_convnets.InceptionResNetV2(input_shape=(75, 75, 3), include_top=False, scales=0.25)
    assert {one.get_layer(f"{b}_1_add").scale for b in ("block35", "block17", "block8")} == {0.25}


@pytest.mark.parametrize("scales", [0, -0.1, (0.1, 0.2), "0.1", True, (0.1, None, 0.2)])
def test_bad_scales_named(scales):
    with pytest.raises(ValueError, match=r"`scales`.*Received: scales="):
        keras_convnets.InceptionResNetV2(input_shape=(75, 75, 3), include_top=False, scales=scales)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pooling": "mean", "include_top": False}, "pooling.*'mean'"),
        ({"classes": 10, "weights": "imagenet"}, "classes"),
        ({"input_shape": (74, 74, 3), "include_top": False}, "74"),
        ({"include_top": "yes"}, "include_top"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_convnets.InceptionResNetV2(**kwargs)


def test_registry_entry_matches_the_model():
    info = registry.model_info("inception_resnet_v2")
    assert info.family == "inception_resnet"
    assert info.preprocessing == "tf"
    assert "Inception-ResNet" in info.paper
    assert info.hosted_weights
    model = registry.get_model("inception_resnet_v2", input_shape=(75, 75, 3), classes=7)
    assert model.output_shape == (None, 7)
    assert model.name == "inception_resnet_v2"


def test_keras_file_round_trip(tmp_path):
    """The ``.keras`` format keeps ScaledResidual and its scale."""
    model = keras_convnets.InceptionResNetV2(input_shape=(75, 75, 3), classes=3, scales=0.3)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 75, 75, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("block35_1_add").scale == 0.3
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_imagenet_weights_hash_mismatch_refused(local_server):
    _, www = local_server
    file_name, _, _ = weights_lib.weights_url("inception_resnet_v2", include_top=False)
    folder = www / "inception_resnet_v2"
    folder.mkdir()
    (folder / file_name).write_bytes(b"not the keras.applications file")
    with pytest.raises(ValueError, match="(?i)hash|corrupt"):
        keras_convnets.InceptionResNetV2(
            weights="imagenet", include_top=False, input_shape=(75, 75, 3)
        )


@pytest.mark.parametrize(
    "module, layer",
    [
        ("conv2d_1a.conv", "stem_1"),
        ("conv2d_4a.bn", "stem_5_bn"),
        ("mixed_5b.branch0.conv", "mixed_5b_b0_1"),
        ("mixed_5b.branch2.2.bn", "mixed_5b_b2_3_bn"),
        ("mixed_5b.branch3.1.conv", "mixed_5b_b3_1"),
        ("repeat.0.branch1.1.conv", "block35_1_b1_2"),
        ("repeat.9.conv2d", "block35_10_conv"),
        ("mixed_6a.branch0.conv", "mixed_6a_b0_1"),
        ("mixed_6a.branch1.2.bn", "mixed_6a_b1_3_bn"),
        ("repeat_1.19.branch1.2.conv", "block17_20_b1_3"),
        ("mixed_7a.branch2.2.conv", "mixed_7a_b2_3"),
        ("repeat_2.8.conv2d", "block8_9_conv"),
        ("block8.branch1.2.bn", "block8_10_b1_3_bn"),
        ("block8.conv2d", "block8_10_conv"),
        ("conv2d_7b.bn", "conv_7b_bn"),
        ("classif", "predictions"),
    ],
)
def test_timm_module_names_map_to_our_layers(module, layer):
    from keras_convnets.models.pretrained import convert

    assert convert.LAYER_NAMES["inception_resnet_v2"](module) == layer
    model = _small_model()
    assert model.get_layer(layer).weights


@functools.cache
def _small_model():
    return inception_resnet.InceptionResNetV2(input_shape=(75, 75, 3))


def test_timm_batch_norm_with_a_scale_is_refused():
    from keras_convnets.models.pretrained import convert

    bn = {
        "weight": np.full(4, 1.5, "float32"),
        "bias": np.zeros(4, "float32"),
        "running_mean": np.zeros(4, "float32"),
        "running_var": np.ones(4, "float32"),
    }
    state = {f"conv2d_1a.bn.{k}": v for k, v in bn.items()}
    with pytest.raises(ValueError, match=r"'conv2d_1a.bn' has a scale \(weight\) up to 0.5"):
        convert.to_keras(state, "inception_resnet_v2")
    state["conv2d_1a.bn.weight"] = np.ones(4, "float32")
    arrays = convert.to_keras(state, "inception_resnet_v2")["stem_1_bn"]
    assert len(arrays) == 3  # beta, moving mean, moving variance: keras.applications' BN


def test_timm_weights_are_listed():
    info = keras_convnets.model_info("inception_resnet_v2")
    ids = [entry.id for entry in info.weights]
    assert "timm:inception_resnet_v2.tf_in1k" in ids and "keras.applications:" in " ".join(ids)
