"""Inception-v4 (Szegedy et al. 2016, Fig. 9) and Inception-ResNet-v1 (Fig. 15): the figures'
grid sizes and widths, timm's parameter count, and timm's state-dict names."""

import numpy as np
import pytest

import keras_convnets
from keras_convnets.models.pretrained import convert


@pytest.fixture(scope="module")
def v4():
    return keras_convnets.InceptionV4()


def test_inception_v4_grids_are_fig_9s(v4):
    # Fig. 9: stem 35x35x384, 4 x A, Reduction-A 17x17x1024, 7 x B, Reduction-B 8x8x1536, 3 x C.
    shapes = {
        "mixed_3a": (73, 73, 160),  # Fig. 3's first filter concatenation
        "mixed_4a": (71, 71, 192),
        "mixed_5a": (35, 35, 384),
        "mixed_5e": (35, 35, 384),
        "mixed_6a": (17, 17, 1024),
        "mixed_6h": (17, 17, 1024),
        "mixed_7a": (8, 8, 1536),
        "mixed_7d": (8, 8, 1536),
    }
    for name, shape in shapes.items():
        assert tuple(v4.get_layer(name).output.shape[1:]) == shape, name
    blocks = [layer.name for layer in v4.layers if layer.name in convert.INCEPTION_V4_BLOCKS]
    assert blocks == list(convert.INCEPTION_V4_BLOCKS)
    assert sum(name.startswith("mixed_5") for name in blocks[3:]) == 4  # Inception-A
    assert sum(name.startswith("mixed_6") for name in blocks) == 1 + 7  # Reduction-A, 7 x B
    assert sum(name.startswith("mixed_7") for name in blocks) == 1 + 3  # Reduction-B, 3 x C
    assert v4.get_layer("dropout").rate == pytest.approx(0.2)  # Fig. 9: keep 0.8


def test_inception_v4_parameters_are_timms(v4):
    trainable = sum(int(np.prod(w.shape)) for w in v4.trainable_weights)
    assert trainable == 42_679_816  # timm.create_model("inception_v4"): 42,679,816 parameters
    info = keras_convnets.model_info("inception_v4")
    assert (info.params, info.trainable_params) == (v4.count_params(), trainable)
    # timm's benchmark tables print 12.28 GMACs; we count convolutions and the classifier.
    assert info.macs == pytest.approx(12.28e9, rel=0.005)


@pytest.mark.parametrize(
    "module, layer",
    [
        ("features.0.conv", "stem_1"),
        ("features.2.bn", "stem_3_bn"),
        ("features.3.conv.conv", "mixed_3a_conv"),
        ("features.4.branch1.3.bn", "mixed_4a_b1_3_bn"),
        ("features.6.branch0.conv", "mixed_5b_b0"),
        ("features.6.branch3.1.bn", "mixed_5b_b3_1_bn"),
        ("features.10.branch1.2.conv", "mixed_6a_b1_2"),
        ("features.17.branch2.4.conv", "mixed_6h_b2_4"),
        ("features.18.branch1.3.conv", "mixed_7a_b1_3"),
        ("features.19.branch1_1a.bn", "mixed_7b_b1_1a_bn"),
        ("features.21.branch2_3b.conv", "mixed_7d_b2_3b"),
        ("last_linear", "predictions"),
    ],
)
def test_timm_module_names_map_to_our_layers(v4, module, layer):
    assert convert.LAYER_NAMES["inception_v4"](module) == layer
    assert v4.get_layer(layer).weights


def test_timm_names_outside_the_network_are_refused():
    for module in ("features.22.conv", "features.6.branch9x.conv", "head.fc", "features.3.bn"):
        assert convert.LAYER_NAMES["inception_v4"](module) is None, module


def test_inception_v4_imagenet_weights_point_to_timm():
    with pytest.raises(ValueError, match="Converted ImageNet weights for inception_v4: timm:"):
        keras_convnets.InceptionV4(weights="imagenet")


def test_inception_resnet_v1_grids_are_fig_15s():
    model = keras_convnets.InceptionResNetV1()
    shapes = {
        "stem_6": (35, 35, 256),  # Fig. 14
        "block35_5_ac": (35, 35, 256),  # 5 x Inception-ResNet-A (Fig. 10)
        "mixed_6a": (17, 17, 896),  # Reduction-A, k, l, m, n = 192, 192, 256, 384
        "block17_10_ac": (17, 17, 896),  # 10 x B (Fig. 11)
        "mixed_7a": (8, 8, 1792),  # Reduction-B (Fig. 12)
        "block8_5_ac": (8, 8, 1792),  # 5 x C (Fig. 13)
    }
    for name, shape in shapes.items():
        assert tuple(model.get_layer(name).output.shape[1:]) == shape, name
    names = [layer.name for layer in model.layers]
    assert "block35_6_ac" not in names and "block17_11_ac" not in names
    assert "block8_6_ac" not in names and "conv_7b" not in names
    assert model.get_layer("block35_1_add").scale == pytest.approx(0.17)
    assert keras_convnets.model_info("inception_resnet_v1").macs == pytest.approx(6.21e9, rel=0.01)
    scaled = keras_convnets.InceptionResNetV1(input_shape=(75, 75, 3), scales=0.3, classes=3)
    assert {scaled.get_layer(f"{b}_1_add").scale for b in ("block35", "block17", "block8")} == {0.3}
