"""Cost analysis against hand arithmetic: convolutions (grouped, depthwise, separable), Dense,
per-block sums, and pooling/normalization kept out of the multiply-adds."""

from __future__ import annotations

import keras
import pytest

from keras_convnets.analysis import cost
from keras_convnets.models import resnet


def small_model():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(6, 3, padding="same", groups=2, name="conv1_grouped")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw1_conv")(x)  # 6x6x12
    x = keras.layers.SeparableConv2D(5, 3, name="sep1_conv")(x)  # 4x4x5
    x = keras.layers.MaxPooling2D(2, name="pool1_pool")(x)  # 2x2x5
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, name="predictions")(x)
    return keras.Model(inputs, outputs, name="small")


def test_layer_costs_by_hand():
    result = cost.analyze(small_model())
    grouped = result.layer("conv1_grouped")
    # 8*8 positions, 6 outputs, 3*3 kernel over 4/2 input channels per group.
    assert grouped.macs == 8 * 8 * 6 * 3 * 3 * 2 == 6912
    assert grouped.params == 3 * 3 * 2 * 6 + 6
    assert grouped.weight_params == 3 * 3 * 2 * 6
    assert cost.conv_macs(8, 8, 6, 3, 3, 4, groups=2) == 6912
    dw = result.layer("dw1_conv")
    assert dw.output_shape == (6, 6, 12)
    assert dw.macs == 6 * 6 * 12 * 3 * 3 == 3888
    assert dw.params == 3 * 3 * 6 * 2 + 12
    sep = result.layer("sep1_conv")
    assert sep.macs == 4 * 4 * 12 * 3 * 3 + 4 * 4 * 5 * 12 == 2688
    assert sep.params == 3 * 3 * 12 + 12 * 5 + 5
    dense = result.layer("predictions")
    assert dense.macs == 20 * 3 and dense.params == 20 * 3 + 3
    # Not multiply-adds: normalization and pooling go to other_ops.
    bn = result.layer("conv1_bn")
    assert bn.macs == 0 and bn.other_ops == 8 * 8 * 6 and bn.params == 4 * 6
    pool = result.layer("pool1_pool")
    assert pool.macs == 0 and pool.other_ops == 2 * 2 * 5 * 2 * 2
    assert result.layer("flatten").macs == 0
    assert result.macs == 6912 + 3888 + 2688 + 60
    assert result.other_ops == 8 * 8 * 6 + 2 * 2 * 5 * 4
    assert result.params == small_model().count_params()


def test_blocks_sum_their_layers():
    result = cost.analyze(small_model())
    conv1 = result.block("conv1")
    assert conv1["macs"] == 6912 and conv1["other_ops"] == 8 * 8 * 6
    assert conv1["params"] == (3 * 3 * 2 * 6 + 6) + 4 * 6
    assert conv1["output_shape"] == (8, 8, 6)
    assert [row["block"] for row in result.blocks()] == [
        "conv1",
        "dw1",
        "sep1",
        "pool1",
        "flatten",
        "predictions",
    ]
    assert sum(row["macs"] for row in result.blocks()) == result.macs
    with pytest.raises(KeyError):
        result.block("conv9")
    with pytest.raises(KeyError):
        result.layer("nope")


def test_global_pooling_and_activation_are_other_ops():
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Activation("relu", name="act")(inputs)
    y = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    result = cost.analyze(keras.Model(inputs, y))
    assert result.macs == 0
    assert result.layer("act").other_ops == 48 and result.layer("gap").other_ops == 48


def test_block_of_names():
    assert cost.block_of("conv2_block1_1_conv") == "conv2_block1"
    assert cost.block_of("conv1_conv") == "conv1"
    assert cost.block_of("inception_3a_5x5") == "inception_3a"
    assert cost.block_of("mixed10_branch") == "mixed10"
    assert cost.block_of("avg_pool") == "avg_pool"


def test_resnet50_blocks_by_hand():
    result = cost.analyze(resnet.ResNet50())
    # conv1: 7x7/2, 3 -> 64 channels, 112x112 output.
    assert result.block("conv1")["macs"] == 112 * 112 * 64 * 7 * 7 * 3
    # conv2_block1 at 56x56: projection 64->256, 1x1 64->64, 3x3 64->64, 1x1 64->256.
    expected = 56 * 56 * (64 * 256 + 64 * 64 + 9 * 64 * 64 + 64 * 256)
    assert result.block("conv2_block1")["macs"] == expected == 231_211_008
    # conv3_block1: stride 2 in the first 1x1 (so it runs at 28x28) and the projection.
    expected = 28 * 28 * (256 * 512 + 256 * 128 + 9 * 128 * 128 + 128 * 512)
    assert result.block("conv3_block1")["macs"] == expected
    assert result.layer("predictions").macs == 2048 * 1000
    assert result.params == 25_636_712
    table = cost.format_table(result)
    assert "conv2_block1" in table and f"{result.macs:,}" in table


def test_resnet20_docstring_figure():
    # The example in cost.analyze's docstring.
    assert cost.analyze(resnet.ResNet20()).params == 271_098


def test_worked_examples_of_the_seed():
    assert cost.naive_5x5_macs() == 120_422_400
    assert cost.reduced_5x5_macs() == 12_443_648
    assert cost.factorization_saving([(5, 5)], [(3, 3), (3, 3)]) == pytest.approx(0.28)
    assert cost.factorization_saving([(3, 3)], [(1, 3), (3, 1)]) == pytest.approx(1 / 3)
