"""GoogLeNet (Inception v1): structure, Table 1's figures, aux heads, round-trips, bad input.

Most tests build at small inputs (96x96 or the 65x65 minimum with aux heads);
the paper-figure tests build at 224x224, which takes a few seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_convnets.analysis import cost
from keras_convnets.models import googlenet as gn
from keras_convnets.models import heads, registry, twin
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.googlenet import GoogLeNet, InceptionV1
from keras_convnets.models.layers import LocalResponseNormalization

# Table 1 of Szegedy et al. 2014, typed from the paper (seed file), as golden data:
# module: (output size, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj, params, ops)
TABLE_1 = {
    "3a": ((28, 28, 256), 64, 96, 128, 16, 32, 32, "159K", "128M"),
    "3b": ((28, 28, 480), 128, 128, 192, 32, 96, 64, "380K", "304M"),
    "4a": ((14, 14, 512), 192, 96, 208, 16, 48, 64, "364K", "73M"),
    "4b": ((14, 14, 512), 160, 112, 224, 24, 64, 64, "437K", "88M"),
    "4c": ((14, 14, 512), 128, 128, 256, 24, 64, 64, "463K", "100M"),
    "4d": ((14, 14, 528), 112, 144, 288, 32, 64, 64, "580K", "119M"),
    "4e": ((14, 14, 832), 256, 160, 320, 32, 128, 128, "840K", "170M"),
    "5a": ((7, 7, 832), 256, 160, 320, 32, 128, 128, "1072K", "54M"),
    "5b": ((7, 7, 1024), 384, 192, 384, 48, 128, 128, "1388K", "71M"),
}
STEM_TABLE = {  # row: (output size, params, ops)
    "conv1": ((112, 112, 64), "2.7K", "34M"),
    "conv2": ((56, 56, 192), "112K", "360M"),
    "predictions": ((1000,), "1000K", "1M"),
}
SMALL = (96, 96, 3)
AUX_NAMES = ["predictions", "aux1", "aux2"]


@pytest.fixture(scope="module")
def model224():
    return GoogLeNet()


@pytest.fixture(scope="module")
def cost224(model224):
    return cost.analyze(model224)


def _expected_layer_names(*, aux=True, batch_norm=False):
    convs = ["conv1_7x7_s2", "conv2_3x3_reduce", "conv2_3x3"]
    names = {"input_layer", "pool1_3x3", "pool2_3x3", "pool3_3x3", "pool4_3x3"}
    names |= {"avg_pool", "dropout", "predictions"}
    if not batch_norm:
        names |= {"norm1", "norm2"}
    for module in gn.INCEPTION_SPECS:
        prefix = f"inception_{module}"
        convs += [f"{prefix}_{branch}" for branch in gn.BRANCH_LAYERS]
        names |= {f"{prefix}_pool", f"{prefix}_concat"}
    if aux:
        for head in ("aux1", "aux2"):
            convs.append(f"{head}_conv")
            names |= {head, f"{head}_avg_pool", f"{head}_flatten", f"{head}_fc"}
            names |= {f"{head}_fc_relu", f"{head}_dropout"}
    for conv in convs:
        names |= {conv, f"{conv}_relu"}
        if batch_norm:
            names.add(f"{conv}_bn")
    return names


def _producer(tensor):
    return tensor._keras_history[0]


# --- structure ---------------------------------------------------------------


def test_layer_names_are_the_documented_ones(model224):
    names = [layer.name for layer in model224.layers]
    assert len(names) == len(set(names))
    assert set(names) == _expected_layer_names()
    # No name Keras would generate (conv2d_3, activation_12, ...).
    auto = re.compile(r"^[a-z_]+_\d+$")
    assert [n for n in names if auto.match(n)] == []


def test_outputs_and_grid_sizes_at_224(model224):
    assert model224.output_names == AUX_NAMES
    assert [tuple(o.shape) for o in model224.outputs] == [(None, 1000)] * 3
    grid = {
        "conv1_7x7_s2": (112, 112, 64),
        "pool1_3x3": (56, 56, 64),
        "conv2_3x3": (56, 56, 192),
        "pool2_3x3": (28, 28, 192),
        "pool3_3x3": (14, 14, 480),
        "pool4_3x3": (7, 7, 832),
        "aux1_avg_pool": (4, 4, 512),
        "aux2_avg_pool": (4, 4, 528),
        "aux1_flatten": (2048,),
        "avg_pool": (1024,),
    }
    for name, shape in grid.items():
        assert tuple(model224.get_layer(name).output.shape[1:]) == shape, name
    for module, (shape, *_rest) in TABLE_1.items():
        assert tuple(model224.get_layer(f"inception_{module}_concat").output.shape[1:]) == shape


def test_inception_modules_follow_table_1(model224):
    assert set(gn.INCEPTION_SPECS) == set(TABLE_1)
    for module, row in TABLE_1.items():
        assert gn.INCEPTION_SPECS[module] == row[1:7]
        prefix = f"inception_{module}"
        kernels = {}
        for branch, filters in zip(gn.BRANCH_LAYERS, row[1:7]):
            conv = model224.get_layer(f"{prefix}_{branch}")
            assert conv.filters == filters
            kernels[branch] = conv.kernel_size
            # ReLU after every convolution, reductions and projections included.
            relu = model224.get_layer(f"{prefix}_{branch}_relu")
            assert _producer(relu.input) is conv
            assert relu.get_config()["activation"] == "relu"
        # True 5x5 convolutions (torchvision's are 3x3).
        assert kernels == {
            "1x1": (1, 1),
            "3x3_reduce": (1, 1),
            "3x3": (3, 3),
            "5x5_reduce": (1, 1),
            "5x5": (5, 5),
            "pool_proj": (1, 1),
        }
        pool = model224.get_layer(f"{prefix}_pool")
        assert isinstance(pool, keras.layers.MaxPooling2D)
        assert (pool.pool_size, pool.strides) == ((3, 3), (1, 1))
        assert _producer(model224.get_layer(f"{prefix}_pool_proj").input) is pool
        concat = model224.get_layer(f"{prefix}_concat")
        order = [_producer(t).name for t in concat.input]
        assert order == [f"{prefix}_{b}_relu" for b in ("1x1", "3x3", "5x5", "pool_proj")]


def test_stem_aux_heads_and_dropout(model224):
    conv1 = model224.get_layer("conv1_7x7_s2")
    assert (conv1.kernel_size, conv1.strides, conv1.filters) == ((7, 7), (2, 2), 64)
    for name in ("norm1", "norm2"):
        lrn = model224.get_layer(name)
        assert isinstance(lrn, LocalResponseNormalization)
        # Caffe's local_size=5, alpha=1e-4 in TensorFlow's convention.
        assert (lrn.depth_radius, lrn.bias, lrn.beta) == (2, 1.0, 0.75)
        assert lrn.alpha == pytest.approx(2e-5)
    assert _producer(model224.get_layer("norm1").input).name == "pool1_3x3"
    assert _producer(model224.get_layer("pool2_3x3").input).name == "norm2"
    assert model224.get_layer("dropout").rate == pytest.approx(0.4)
    for head, module in (("aux1", "4a"), ("aux2", "4d")):
        pool = model224.get_layer(f"{head}_avg_pool")
        assert isinstance(pool, keras.layers.AveragePooling2D)
        assert (pool.pool_size, pool.strides, pool.padding) == ((5, 5), (3, 3), "valid")
        assert _producer(pool.input).name == f"inception_{module}_concat"
        assert model224.get_layer(f"{head}_conv").filters == 128
        assert model224.get_layer(f"{head}_fc").units == 1024
        assert model224.get_layer(f"{head}_dropout").rate == pytest.approx(0.7)
        out = model224.get_layer(head)
        assert out.units == 1000 and out.get_config()["activation"] == "softmax"


# --- Table 1's figures -------------------------------------------------------


def test_registry_entry_matches_the_built_model(model224, cost224):
    info = registry.model_info("googlenet")
    assert info.builder is GoogLeNet and InceptionV1 is GoogLeNet
    assert info.outputs == tuple(AUX_NAMES)
    assert info.loss_weights == {"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}
    assert heads.loss_weights("googlenet") == info.loss_weights
    assert info.preprocessing == "caffe"
    assert info.paper_macs == 1.5e9
    assert info.min_input_size == 65
    assert info.hosted_weights is False
    assert info.params == model224.count_params() == cost224.params
    assert info.trainable_params == sum(int(np.prod(v.shape)) for v in model224.trainable_weights)
    # macs: the main path, i.e. the inference model without the aux heads.
    main = cost.analyze(heads.inference_model(model224))
    assert info.macs == main.macs == 1_582_671_872
    aux = sum(r["macs"] for r in cost224.blocks() if r["block"] in ("aux1", "aux2"))
    assert cost224.macs == main.macs + aux


def test_main_path_multiply_adds_against_the_paper(model224, cost224):
    """The paper's 1.5e9 is the sum of its printed ops; ours exceeds it by conv1 alone."""
    main = cost.analyze(heads.inference_model(model224)).macs
    assert main == 1_582_671_872
    assert main / 1.5e9 - 1 == pytest.approx(0.0551, abs=1e-4)
    printed_sum = sum(gn.printed_value(r["macs"])[0] for r in gn.PAPER_ROWS.values())
    assert printed_sum == 1_502e6
    # conv1: 118,013,952 built vs 34M printed. With the printed conv1 figure we
    # would be at 1.4987e9: -0.09% from 1.5e9, -0.22% from the rows' sum (5a: 51.1M
    # built vs 54M printed is most of the rest).
    conv1 = cost224.block("conv1")["macs"]
    assert conv1 == 112 * 112 * 64 * 7 * 7 * 3 == 118_013_952
    assert (main - conv1 + 34e6) / 1.5e9 - 1 == pytest.approx(-0.0009, abs=1e-4)
    assert (main - conv1 + 34e6) / printed_sum - 1 == pytest.approx(-0.0022, abs=1e-4)


@pytest.mark.parametrize("row", list(gn.PAPER_ROWS))
def test_paper_rows_and_their_flags(cost224, row):
    """Every row recomputed from the built model; exactly the disagreements are flagged."""
    paper = gn.PAPER_ROWS[row]
    if row.startswith("inception_"):
        shape, *columns, params, ops = TABLE_1[row.split("_")[1]]
        assert [cost224.layer(layer).output_shape[-1] for layer in paper["columns"].values()] == (
            columns
        )
    else:
        shape, params, ops = STEM_TABLE[row]
    assert (paper["params"], paper["macs"]) == (params, ops)
    block = cost224.block(row)
    assert tuple(block["output_shape"]) == shape
    assert cost.block_depth(cost224, row) == paper["depth"]
    weights, macs = block["weight_params"], block["macs"]
    # weights are kernels only; every weight is applied once per output position.
    positions = shape[0] * shape[1] if len(shape) == 3 else 1
    assert macs == weights * positions
    for kind, computed, printed, scale, unit in (
        ("params", weights, params, 1024, "K"),
        ("ops", macs, ops, 1e6, "M"),
    ):
        flagged = [n for n in paper["notes"] if n.startswith(f"{kind}:")]
        if gn.agrees(computed, printed):
            assert flagged == [], (row, kind, computed)
        else:
            assert flagged == [
                f"{kind}: {computed:,} = {computed / scale:.1f}{unit}, printed {printed}"
            ]


def test_paper_arithmetic_worked_rows(cost224):
    # conv1: 7*7*3*64 = 9,408 weights = 9.2K, not the printed 2.7K.
    assert cost224.block("conv1")["weight_params"] == 7 * 7 * 3 * 64 == 9_408
    assert not gn.agrees(9_408, "2.7K")
    # conv2 (1x1 64 then 3x3 192): 4,096 + 110,592 = 114,688 = 112.0K exactly.
    assert cost224.block("conv2")["weight_params"] == 64 * 64 + 9 * 64 * 192 == 112 * 1024
    # 3a from its filter columns on 192 input channels: 163,328 = 159.5K, 128.0M ops.
    w3a = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    assert cost224.block("inception_3a")["weight_params"] == w3a == 163_328
    assert cost224.block("inception_3a")["macs"] == 28 * 28 * w3a == 128_049_152
    # 4c: 497.5K from its columns, printed 463K.
    w4c = 512 * 128 + 512 * 128 + 9 * 128 * 256 + 512 * 24 + 25 * 24 * 64 + 512 * 64
    assert cost224.block("inception_4c")["weight_params"] == w4c == 509_440
    assert not gn.agrees(w4c, "463K")
    flagged = {r for r, p in gn.PAPER_ROWS.items() if p["notes"]}
    assert flagged == {"conv1"} | {f"inception_{m}" for m in TABLE_1} - {"inception_3a"}


def test_printed_values():
    assert gn.printed_value("2.7K") == (pytest.approx(2.7 * 1024), pytest.approx(102.4))
    assert gn.printed_value("1072K") == (1072 * 1024, 1024)
    assert gn.printed_value("34M") == (34e6, 1e6)
    assert gn.agrees(163_328, "159K") and gn.agrees(73_608_192, "73M")
    assert not gn.agrees(388_096, "380K")
    with pytest.raises(ValueError, match="2.7K"):
        gn.printed_value("2.7G")


def test_summary_command_prints_the_paper_rows(capsys):
    from keras_convnets.__main__ import main

    assert main(["summary", "googlenet"]) == 0
    out = capsys.readouterr().out
    assert "Paper rows" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("inception_4c ") and "/" in ln)
    assert "14x14x512" in line and "128/128/256/24/64/64" in line
    assert "509,440" in line and "463K" in line and "99,850,240" in line
    assert "printed 463K" in line
    assert "main path (all but aux* blocks): 1,582,671,872" in out


# --- the seed's worked examples, from real layers ----------------------------


def _macs_of(input_shape, *convs):
    inputs = keras.Input(input_shape)
    x = inputs
    for i, (filters, kernel) in enumerate(convs):
        x = keras.layers.Conv2D(filters, kernel, padding="same", name=f"c{i}")(x)
    return cost.analyze(keras.Model(inputs, x)).macs


def test_worked_examples_from_real_layers():
    naive = _macs_of((28, 28, 192), (32, 5))
    reduced = _macs_of((28, 28, 192), (16, 1), (32, 5))
    assert naive == cost.naive_5x5_macs() == 120_422_400
    assert reduced == cost.reduced_5x5_macs() == 12_443_648
    assert 2_408_448 + 10_035_200 == reduced


def test_factorization_savings_from_formula_and_real_layers():
    assert cost.factorization_saving([(5, 5)], [(3, 3), (3, 3)]) == pytest.approx(0.28)
    assert cost.factorization_saving([(3, 3)], [(1, 3), (3, 1)]) == pytest.approx(1 / 3)
    c = 32
    five = _macs_of((17, 17, c), (c, 5))
    two_threes = _macs_of((17, 17, c), (c, 3), (c, 3))
    assert 1 - two_threes / five == pytest.approx(0.28)
    three = _macs_of((17, 17, c), (c, 3))
    inputs = keras.Input((17, 17, c))
    x = keras.layers.Conv2D(c, (1, 3), padding="same")(inputs)
    x = keras.layers.Conv2D(c, (3, 1), padding="same")(x)
    asym = cost.analyze(keras.Model(inputs, x)).macs
    assert 1 - asym / three == pytest.approx(1 / 3)


# --- building at small sizes -------------------------------------------------


def test_small_input_outputs_with_and_without_aux():
    model = GoogLeNet(input_shape=SMALL, classes=7)
    assert model.output_names == AUX_NAMES
    assert [tuple(o.shape) for o in model.outputs] == [(None, 7)] * 3
    x = np.random.default_rng(0).normal(size=(2, *SMALL)).astype("float32")
    outs = model.predict(x, verbose=0)
    assert len(outs) == 3
    for out in outs:
        assert out.shape == (2, 7)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    single = GoogLeNet(input_shape=SMALL, classes=7, aux_logits=False)
    assert single.output_names == ["predictions"]
    assert single.output_shape == (None, 7)
    assert not any(layer.name.startswith("aux") for layer in single.layers)
    assert {layer.name for layer in single.layers} == _expected_layer_names(aux=False)


@pytest.mark.parametrize(
    "pooling,shape", [(None, (None, 2, 2, 1024)), ("avg", (None, 1024)), ("max", (None, 1024))]
)
def test_pooling_modes_without_top_have_no_aux_heads(pooling, shape):
    # 64 is below the aux heads' minimum (65): without top there are none.
    model = GoogLeNet(include_top=False, pooling=pooling, input_shape=(64, 64, 3))
    assert model.output_shape == shape
    assert len(model.outputs) == 1
    assert not any(layer.name.startswith(("aux", "predictions")) for layer in model.layers)


@pytest.mark.parametrize("channels", [1, 4])
def test_other_channel_counts(channels):
    model = GoogLeNet(input_shape=(65, 65, channels), classes=3)
    assert model.get_layer("conv1_7x7_s2").kernel.shape == (7, 7, channels, 64)
    x = np.ones((1, 65, 65, channels), "float32")
    assert [o.shape for o in model.predict(x, verbose=0)] == [(1, 3)] * 3


def test_input_tensor():
    tensor = keras.Input((80, 80, 3), name="images")
    model = GoogLeNet(input_tensor=tensor, classes=4)
    assert model.inputs[0] is tensor
    assert model.input_shape == (None, 80, 80, 3)
    model = GoogLeNet(input_tensor=tensor, include_top=False, pooling="avg")
    assert model.output_shape == (None, 1024)


def test_minimum_sizes():
    assert gn.MIN_SIZE_AUX == 65 and gn.MIN_SIZE == 32
    model = GoogLeNet(input_shape=(65, 65, 3), classes=2)
    assert model.get_layer("inception_4a_concat").output.shape[1:3] == (5, 5)
    assert model.get_layer("aux1_avg_pool").output.shape[1:3] == (1, 1)
    with pytest.raises(ValueError, match=r"at least 65.*minimum is 32.*\(64, 64, 3\)"):
        GoogLeNet(input_shape=(64, 64, 3))
    assert GoogLeNet(input_shape=(32, 32, 3), aux_logits=False).output_shape == (None, 1000)
    GoogLeNet(input_shape=(32, 32, 3), include_top=False)
    with pytest.raises(ValueError, match=r"at least 32.*aux.*65.*\(31, 40, 3\)"):
        GoogLeNet(input_shape=(31, 40, 3), aux_logits=False)
    with pytest.raises(ValueError, match="fixed"):
        GoogLeNet(input_shape=(None, None, 3))
    variable = GoogLeNet(input_shape=(None, None, 3), aux_logits=False, classes=3)
    assert variable.predict(np.ones((1, 70, 90, 3), "float32"), verbose=0).shape == (1, 3)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"pooling": "sum", "include_top": False}, "pooling.*'sum'"),
        ({"classes": 0}, "classes.*0"),
        ({"classes": True}, "classes.*True"),
        ({"classes": 2.5}, "classes.*2.5"),
        ({"aux_logits": "yes"}, "aux_logits.*'yes'"),
        ({"batch_norm": 1}, "batch_norm.*1"),
        ({"input_shape": (96, 96)}, "input_shape.*rank 3"),
        ({"weights": "nothing.weights.h5"}, "weights.*does not exist"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs.setdefault("input_shape", SMALL)
    with pytest.raises(ValueError, match=match):
        GoogLeNet(**kwargs)


def test_no_imagenet_weights_names_hosted_models():
    hosted = weights_lib.hosted_models()
    assert hosted and "googlenet" not in hosted
    with pytest.raises(ValueError, match="googlenet") as err:
        GoogLeNet(weights="imagenet")
    for name in hosted:
        assert name in str(err.value)


# --- training with the aux heads ---------------------------------------------


def _batch(n=4, size=65, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, size, size, 3)).astype("float32")
    y = rng.integers(0, classes, size=(n,)).astype("int32")
    return x, y


def test_gradients_reach_every_weight_and_aux_losses_stop_at_their_module():
    keras.utils.set_random_seed(0)
    model = GoogLeNet(input_shape=(65, 65, 3), classes=3, classifier_activation=None)
    x, y = _batch()
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape(persistent=True) as tape:
        main, aux1, aux2 = model(x, training=True)
        losses = {"predictions": ce(y, main), "aux1": ce(y, aux1), "aux2": ce(y, aux2)}
        total = losses["predictions"] + 0.3 * losses["aux1"] + 0.3 * losses["aux2"]
    weights = model.trainable_weights
    grads = tape.gradient(total, weights)
    dead = [w.path for w, g in zip(weights, grads) if g is None or not np.any(g.numpy())]
    assert dead == []
    # Each aux loss reaches its own head and the trunk below its module, nothing above.
    reach = {"aux1": "inception_4a_", "aux2": "inception_4d_"}
    above = {"aux1": ("inception_4b_", "aux2", "predictions"), "aux2": ("inception_4e_", "aux1")}
    for head, module in reach.items():
        grads = dict(zip([w.path for w in weights], tape.gradient(losses[head], weights)))
        reached = {p for p, g in grads.items() if g is not None and np.any(g.numpy())}
        assert any(p.startswith(f"{head}_fc/") for p in reached)
        assert any(p.startswith(module) for p in reached)
        assert any(p.startswith("conv1_7x7_s2/") for p in reached)
        assert not any(p.startswith(above[head]) for p in reached), head
    del tape


def test_total_loss_is_main_plus_0_3_times_each_aux_loss():
    keras.utils.set_random_seed(1)
    model = GoogLeNet(input_shape=(65, 65, 3), classes=3)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss={name: "sparse_categorical_crossentropy" for name in AUX_NAMES},
        loss_weights=heads.loss_weights("googlenet"),
    )
    x, y = _batch(n=6)
    dataset = heads.with_aux_targets(tf.data.Dataset.from_tensor_slices((x, y)).batch(6), model)
    _, targets = next(iter(dataset))
    assert sorted(targets) == sorted(AUX_NAMES)
    # Our own per-output losses from the model's outputs (dropout off in predict).
    outputs = model.predict(x, verbose=0)
    ce = keras.losses.SparseCategoricalCrossentropy()
    per_output = {n: float(ce(y, o)) for n, o in zip(AUX_NAMES, outputs)}
    expected = per_output["predictions"] + 0.3 * per_output["aux1"] + 0.3 * per_output["aux2"]
    assert per_output["aux1"] > 0.1 and per_output["aux2"] > 0.1  # the weights matter
    result = model.evaluate(dataset, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    # Keras reports each output's unweighted loss beside the weighted total.
    for name in AUX_NAMES:
        assert result[f"{name}_loss"] == pytest.approx(per_output[name], rel=1e-5)
    # The same total is what a training step reports (computed before its update).
    logs = model.train_on_batch(x, {n: y for n in AUX_NAMES}, return_dict=True)
    assert np.isfinite(logs["loss"])
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_inference_model_shares_layers():
    model = GoogLeNet(input_shape=(65, 65, 3), classes=3)
    inference = heads.inference_model(model)
    assert len(inference.outputs) == 1 and inference.output_shape == (None, 3)
    assert not any(layer.name.startswith("aux") for layer in inference.layers)
    for layer in inference.layers:
        assert layer is model.get_layer(layer.name)
    x, _ = _batch(n=2)
    np.testing.assert_allclose(
        inference.predict(x, verbose=0), model.predict(x, verbose=0)[0], atol=1e-6
    )


# --- round-trips -------------------------------------------------------------


@pytest.mark.parametrize("batch_norm", [False, True])
def test_keras_file_round_trip(tmp_path, batch_norm):
    model = GoogLeNet(input_shape=(65, 65, 3), classes=3, batch_norm=batch_norm)
    path = tmp_path / "googlenet.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.output_names == AUX_NAMES
    x, _ = _batch(n=2)
    for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_tf_keras_twin_outputs_equal(batch_norm):
    model = GoogLeNet(input_shape=(65, 65, 3), classes=3, batch_norm=batch_norm)
    if batch_norm:  # non-trivial moving statistics, so that BN inference is exercised
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                n = layer.moving_mean.shape[0]
                layer.moving_mean.assign(np.linspace(-0.1, 0.1, n))
                layer.moving_variance.assign(np.linspace(0.5, 2.0, n))
    legacy = twin.tf_keras_twin(model)
    assert type(legacy).__module__.startswith("tf_keras")
    assert list(legacy.output_names) == AUX_NAMES
    x, _ = _batch(n=2)
    got = legacy.predict(x, verbose=0)
    assert heads.inference_model(legacy).output_shape == (None, 3)
    for a, b in zip(model.predict(x, verbose=0), got):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_batch_norm_variant():
    model = GoogLeNet(input_shape=SMALL, classes=5, batch_norm=True)
    assert {layer.name for layer in model.layers} == _expected_layer_names(batch_norm=True)
    assert not any(isinstance(layer, LocalResponseNormalization) for layer in model.layers)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            assert layer.use_bias is False
            assert _producer(model.get_layer(f"{layer.name}_bn").input) is layer
            assert _producer(model.get_layer(f"{layer.name}_relu").input).name == (
                f"{layer.name}_bn"
            )
    assert GoogLeNet(input_shape=SMALL, classes=5).get_layer("conv1_7x7_s2").use_bias is True


def test_backend_neutral_with_jax():
    pytest.importorskip("jax")
    code = textwrap.dedent(
        """
        import numpy as np
        import keras
        assert keras.backend.backend() == "jax"
        from keras_convnets.models.googlenet import GoogLeNet
        model = GoogLeNet(input_shape=(65, 65, 3), classes=3)
        outs = model.predict(np.ones((2, 65, 65, 3), "float32"), verbose=0)
        assert [o.shape for o in outs] == [(2, 3)] * 3
        assert all(np.isfinite(o).all() for o in outs)
        print("ok")
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_docstring_examples_run():
    import doctest

    from keras_convnets.models import layers

    for module in (gn, layers):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        tests = [t for t in finder.find(module) if t.examples]
        assert tests
        for test in tests:
            if module is layers and "LocalResponse" not in test.name:
                continue
            runner.run(test, out=lambda _text: None)
        assert runner.failures == 0, module.__name__
