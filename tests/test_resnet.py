"""ResNet family: the architecture of He et al. 2015 and keras.applications compatibility.

Table 1 structure (stages, blocks, strides), the shortcut options A/B/C, the
plain counterparts, the keras.applications signature and layer layout, weight
files in both directions (Keras 3 ``.weights.h5`` and legacy Keras 2 ``.h5``),
argument validation, a fine-tuning example and a run on the JAX backend.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_convnets.models import layers as custom_layers
from keras_convnets.models import resnet
from keras_convnets.models.pretrained import download as fetch_module

# Table 1: blocks per stage conv2_x..conv5_x, and the block type.
TABLE1 = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}
CIFAR_N = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
BUILDERS = {
    "resnet18": resnet.ResNet18,
    "resnet34": resnet.ResNet34,
    "resnet50": resnet.ResNet50,
    "resnet101": resnet.ResNet101,
    "resnet152": resnet.ResNet152,
    "resnet20": resnet.ResNet20,
    "resnet32": resnet.ResNet32,
    "resnet44": resnet.ResNet44,
    "resnet56": resnet.ResNet56,
    "resnet110": resnet.ResNet110,
    "resnet1202": resnet.ResNet1202,
}
KERAS_APPS = {
    "resnet50": keras.applications.ResNet50,
    "resnet101": keras.applications.ResNet101,
    "resnet152": keras.applications.ResNet152,
}


def randomize_bn_and_biases(model, seed=0):
    """Gives BN statistics and biases non-trivial values, so weight transfers are visible."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for variable, value in zip(layer.weights, layer.get_weights()):
            name = variable.name
            if "variance" in name or "gamma" in name:
                value = rng.uniform(0.5, 1.5, value.shape)
            elif "kernel" not in name:
                value = rng.normal(0.0, 0.1, value.shape)
            values.append(value.astype("float32"))
        if values:
            layer.set_weights(values)
    return model


def assert_close(actual, expected, tol=1e-4):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def conv_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


# --- Table 1 and the CIFAR networks ---------------------------------------------------------


@pytest.mark.parametrize(
    "arch",
    [
        "resnet18",
        "resnet34",
        "resnet50",
        pytest.param("resnet101", marks=pytest.mark.slow),
        pytest.param("resnet152", marks=pytest.mark.slow),
    ],
)
def test_table1_stages_blocks_and_output_sizes(arch):
    block, blocks = TABLE1[arch]
    model = BUILDERS[arch]()
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert model.get_layer("conv1_conv").kernel_size == (7, 7)
    assert model.get_layer("conv1_conv").strides == (2, 2)
    assert model.get_layer("pool1_pool").pool_size == (3, 3)
    assert model.get_layer("pool1_pool").strides == (2, 2)
    expansion = 4 if block == "bottleneck" else 1
    for stage, (n, size, filters) in enumerate(
        zip(blocks, (56, 28, 14, 7), (64, 128, 256, 512)), start=2
    ):
        names = {layer.name for layer in model.layers}
        assert f"conv{stage}_block{n}_out" in names
        assert f"conv{stage}_block{n + 1}_out" not in names
        out = model.get_layer(f"conv{stage}_block{n}_out").output.shape
        assert tuple(out[1:]) == (size, size, filters * expansion)
    # Weighted layers on the main path = depth (convs without shortcuts + the FC).
    main_convs = [c for c in conv_layers(model) if "_0_conv" not in c.name]
    assert len(main_convs) + 1 == int(arch[len("resnet") :])


@pytest.mark.parametrize("arch", ["resnet50", "resnet18"])
def test_downsampling_stride_position(arch):
    model = BUILDERS[arch](include_top=False, input_shape=(64, 64, 3))
    first = model.get_layer("conv3_block1_1_conv")
    second = model.get_layer("conv3_block1_2_conv")
    if arch == "resnet50":
        # Bottleneck: the stride sits in the first 1x1 convolution (paper, v1).
        assert first.kernel_size == (1, 1) and first.strides == (2, 2)
        assert second.kernel_size == (3, 3) and second.strides == (1, 1)
        assert model.get_layer("conv3_block1_3_conv").kernel_size == (1, 1)
    else:
        assert first.kernel_size == (3, 3) and first.strides == (2, 2)
        assert second.kernel_size == (3, 3) and second.strides == (1, 1)
    for stage in (3, 4, 5):
        assert model.get_layer(f"conv{stage}_block1_1_conv").strides == (2, 2)
        assert model.get_layer(f"conv{stage}_block2_1_conv").strides == (1, 1)
    assert model.get_layer("conv2_block1_1_conv").strides == (1, 1)


@pytest.mark.parametrize("arch", sorted(CIFAR_N))
def test_cifar_resnets(arch):
    n = CIFAR_N[arch]
    model = BUILDERS[arch]()
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 10)
    assert model.get_layer("conv1_conv").kernel_size == (3, 3)
    assert model.get_layer("conv1_conv").filters == 16
    for stage, (size, filters) in zip((2, 3, 4), ((32, 16), (16, 32), (8, 64))):
        assert f"conv{stage}_block{n + 1}_out" not in {layer.name for layer in model.layers}
        out = model.get_layer(f"conv{stage}_block{n}_out").output.shape
        assert tuple(out[1:]) == (size, size, filters)
    # depth 6n + 2: 6n + 1 convolutions and the FC layer; option A adds no convs.
    assert len(conv_layers(model)) == 6 * n + 1
    assert not any(layer.name.endswith("_0_conv") for layer in model.layers)
    assert not any(c.use_bias for c in conv_layers(model))


@pytest.mark.slow
def test_resnet1202_depth():
    model = resnet.ResNet1202()
    assert model.output_shape == (None, 10)
    assert len(conv_layers(model)) == 6 * 200 + 1


def test_defaults_shortcut_b_imagenet_a_cifar():
    sig50 = inspect.signature(resnet.ResNet50).parameters
    sig20 = inspect.signature(resnet.ResNet20).parameters
    assert sig50["shortcut"].default == "B" and sig20["shortcut"].default == "A"
    assert sig50["weights"].default is None and sig20["weights"].default is None
    assert sig50["classes"].default == 1000 and sig20["classes"].default == 10
    r20 = resnet.ResNet20()
    assert "conv3_block1_0_pad" in {layer.name for layer in r20.layers}
    r18 = resnet.ResNet18(include_top=False, input_shape=(32, 32, 3))
    names = {layer.name for layer in r18.layers}
    # B: projections only where the shape changes (first block of stages 3-5).
    assert {"conv3_block1_0_conv", "conv4_block1_0_conv", "conv5_block1_0_conv"} <= names
    assert "conv2_block1_0_conv" not in names and "conv3_block2_0_conv" not in names


@pytest.mark.parametrize("fn", [resnet.ResNet50, resnet.ResNet18, resnet.ResNet20])
def test_keras_applications_signature_and_keyword_only_extras(fn):
    ours = list(inspect.signature(fn).parameters.values())
    ref = list(inspect.signature(keras.applications.ResNet50).parameters)
    assert [p.name for p in ours[: len(ref)]] == ref
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in ours[: len(ref)])
    extras = ours[len(ref) :]
    names = ["shortcut", "residual", "conv_bias", "style"]
    assert [p.name for p in extras] == names
    assert all(p.kind is p.KEYWORD_ONLY for p in extras)
    with pytest.raises(TypeError):
        fn(True, None, None, (32, 32, 3), None, 10, "softmax", "x", "A")
    assert fn.__doc__ and ">>>" in fn.__doc__


# --- Shortcut options ------------------------------------------------------------------------


def test_shortcut_a_subsamples_and_pads_zero_channels_without_params(rng):
    model = resnet.ResNet20(shortcut="A")
    pool = model.get_layer("conv3_block1_0_pool")
    pad = model.get_layer("conv3_block1_0_pad")
    assert isinstance(pool, keras.layers.MaxPooling2D)
    assert pool.pool_size == (1, 1) and pool.strides == (2, 2)
    assert isinstance(pad, custom_layers.ChannelPadding) and pad.padding == 16
    assert not pool.weights and not pad.weights
    probe = keras.Model(model.input, [model.get_layer("conv2_block3_out").output, pad.output])
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    before, shortcut = (np.asarray(t) for t in probe(x))
    assert shortcut.shape == (2, 16, 16, 32)
    np.testing.assert_array_equal(shortcut[..., :16], before[:, ::2, ::2, :])
    np.testing.assert_array_equal(shortcut[..., 16:], 0.0)
    assert model.count_params() - sum(
        int(np.prod(v.shape)) for v in model.non_trainable_weights
    ) == (269_722)


def test_shortcut_b_and_c_projections():
    b = resnet.ResNet20(shortcut="B")
    c = resnet.ResNet20(shortcut="C")
    a = resnet.ResNet20(shortcut="A")
    b_proj = sorted(layer.name for layer in b.layers if layer.name.endswith("_0_conv"))
    c_proj = sorted(layer.name for layer in c.layers if layer.name.endswith("_0_conv"))
    assert b_proj == ["conv3_block1_0_conv", "conv4_block1_0_conv"]
    assert len(c_proj) == 9  # every block of 3 stages x 3 blocks
    assert not any(isinstance(layer, custom_layers.ChannelPadding) for layer in b.layers)

    # Each 1x1 projection adds cin * cout weights (no bias in the CIFAR nets) and a BN
    # of 4 * cout (gamma, beta, moving mean and variance); A has no parameters.
    def cost(projections):
        return sum(cin * cout + 4 * cout for cin, cout in projections)

    assert b.count_params() == a.count_params() + cost([(16, 32), (32, 64)])
    c_extra = cost(3 * [(16, 16)] + [(16, 32)] + 2 * [(32, 32)] + [(32, 64)] + 2 * [(64, 64)])
    assert c.count_params() == a.count_params() + c_extra
    r50 = resnet.ResNet50(include_top=False, input_shape=(32, 32, 3), shortcut="B")
    # In a bottleneck net conv2_block1 changes 64 -> 256 channels, so B projects there too.
    proj = [layer.name for layer in r50.layers if layer.name.endswith("_0_conv")]
    assert proj == [f"conv{s}_block1_0_conv" for s in (2, 3, 4, 5)]


def test_plain_nets_have_no_shortcuts():
    for fn in (resnet.ResNet18, resnet.ResNet20):
        kwargs = {"input_shape": (32, 32, 3)}
        plain = fn(residual=False, shortcut="B", **kwargs)
        residual = fn(shortcut="B", **kwargs)
        kinds = {type(layer).__name__ for layer in plain.layers}
        assert "Add" not in kinds and "ChannelPadding" not in kinds
        assert not any("_0_" in layer.name for layer in plain.layers)
        main = [c.name for c in conv_layers(residual) if "_0_conv" not in c.name]
        assert [c.name for c in conv_layers(plain)] == main


# --- keras.applications compatibility --------------------------------------------------------


def _check_same_structure(arch):
    ours = BUILDERS[arch]()
    ref = KERAS_APPS[arch](weights=None)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in ref.layers]
    assert [type(layer).__name__ for layer in ours.layers] == [
        type(layer).__name__ for layer in ref.layers
    ]
    assert ours.count_params() == ref.count_params()
    assert [tuple(v.shape) for v in ours.weights] == [tuple(v.shape) for v in ref.weights]
    return ours, ref


def _check_weights_both_ways(ours, ref, tmp_path, rng, size):
    randomize_bn_and_biases(ref, seed=1)
    x = rng.uniform(-1, 1, size=(1, size, size, 3)).astype("float32")
    path = tmp_path / "ref.weights.h5"
    ref.save_weights(path)
    from keras_convnets.models import weights as weights_lib

    weights_lib.load_weights_checked(ours, path)
    assert_close(ours(x), ref(x))
    randomize_bn_and_biases(ours, seed=2)
    path2 = tmp_path / "ours.weights.h5"
    ours.save_weights(path2)
    ref.load_weights(path2)
    assert_close(ref(x), ours(x))


def test_resnet50_is_keras_applications_resnet50(tmp_path, rng):
    ours, ref = _check_same_structure("resnet50")
    assert ours.name == ref.name == "resnet50"
    _check_weights_both_ways(ours, ref, tmp_path, rng, 224)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["resnet101", "resnet152"])
def test_resnet101_152_are_keras_applications(arch, tmp_path, rng):
    ours, ref = _check_same_structure(arch)
    _check_weights_both_ways(ours, ref, tmp_path, rng, 224)


def test_keras3_weights_file_loads_through_builder(tmp_path, rng):
    ref = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    randomize_bn_and_biases(ref, seed=3)
    path = tmp_path / "notop.weights.h5"
    ref.save_weights(path)
    ours = resnet.ResNet50(include_top=False, input_shape=(64, 64, 3), weights=str(path))
    x = rng.uniform(-1, 1, size=(2, 64, 64, 3)).astype("float32")
    assert_close(ours(x), ref(x))


def _legacy_h5_check(arch, tmp_path, rng, **kwargs):
    import tf_keras

    ref = getattr(
        tf_keras.applications,
        {"resnet50": "ResNet50", "resnet101": "ResNet101"}.get(arch, "ResNet152"),
    )(weights=None, **kwargs)
    randomize_bn_and_biases(ref, seed=4)
    path = tmp_path / "legacy.h5"
    ref.save_weights(str(path))
    ours = BUILDERS[arch](weights=str(path), **kwargs)
    size = kwargs.get("input_shape", (224, 224, 3))[0]
    x = rng.uniform(-1, 1, size=(1, size, size, 3)).astype("float32")
    assert_close(ours(x), ref(x).numpy())


def test_legacy_keras2_h5_from_tf_keras_loads_into_resnet50(tmp_path, rng):
    _legacy_h5_check("resnet50", tmp_path, rng)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["resnet101", "resnet152"])
def test_legacy_keras2_h5_loads_into_resnet101_152(arch, tmp_path, rng):
    _legacy_h5_check(arch, tmp_path, rng, include_top=False, input_shape=(64, 64, 3))


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"pooling": "sum", "include_top": False}, ["`pooling`", "'sum'", "'avg'", "'max'"]),
        ({"shortcut": "D"}, ["`shortcut`", "'D'", "'A'", "'B'", "'C'"]),
        ({"shortcut": "a"}, ["`shortcut`", "'a'"]),
        ({"classes": 0}, ["`classes`", "classes=0", ">= 1"]),
        ({"classes": 2.5}, ["`classes`", "2.5", "integer"]),
        ({"classes": "10"}, ["`classes`", "'10'", "integer"]),
        ({"residual": "no"}, ["`residual`", "'no'", "True or False"]),
        ({"input_shape": (32, 32)}, ["`input_shape`", "(32, 32)", "rank 3"]),
        ({"input_shape": (1, 32, 32, 3)}, ["`input_shape`", "(1, 32, 32, 3)", "rank 3"]),
        ({"input_shape": (3, 3, 3)}, ["`input_shape`", "(3, 3, 3)", "at least 4"]),
        ({"input_shape": (32, 32, 0)}, ["`input_shape`", "channels"]),
        ({"weights": "/no/such/file.weights.h5"}, ["`weights`", "/no/such/file.weights.h5"]),
        ({"weights": 3}, ["`weights`", "weights=3", "'imagenet'"]),
    ],
)
def test_bad_arguments_cifar(kwargs, words):
    with pytest.raises(ValueError) as info:
        resnet.ResNet20(**kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"input_shape": (31, 64, 3)}, ["`input_shape`", "(31, 64, 3)", "at least 32"]),
        ({"input_shape": (64, 16, 3)}, ["(64, 16, 3)", "at least 32"]),
        ({"weights": "imagenet", "classes": 10}, ["`classes`", "1000", "classes=10"]),
        (
            {"weights": "imagenet", "input_shape": (64, 64, 3)},
            ["`input_shape`", "(224, 224, 3)", "(64, 64, 3)"],
        ),
        (
            {"weights": "imagenet", "include_top": False, "input_shape": (64, 64, 1)},
            ["3-channel", "(64, 64, 1)"],
        ),
        ({"weights": "imagenet", "shortcut": "C"}, ["shortcut='C'", "'B'"]),
        ({"weights": "imagenet", "residual": False}, ["residual=False"]),
        ({"weights": "imagenet", "conv_bias": False}, ["conv_bias=False"]),
    ],
)
def test_bad_arguments_imagenet(kwargs, words, monkeypatch):
    # Nothing may be fetched before the arguments are checked.

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded before checking the arguments")

    monkeypatch.setattr(fetch_module, "fetch_file", no_download)
    with pytest.raises(ValueError) as info:
        resnet.ResNet50(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_unknown_arch():
    with pytest.raises(ValueError, match="`arch` must be one of .*resnet50.*arch='resnet7'"):
        resnet.ResNet("resnet7")


@pytest.mark.parametrize("fn", [resnet.ResNet18, resnet.ResNet20])
def test_imagenet_weights_refused_for_unhosted(fn):
    with pytest.raises(ValueError) as info:
        fn(weights="imagenet")
    message = str(info.value)
    assert "weights='imagenet'" in message
    for hosted in ("resnet50", "resnet101", "resnet152"):
        assert hosted in message


# --- Use -------------------------------------------------------------------------------------


def test_feature_extractor_and_fine_tuning_example(rng):
    base = resnet.ResNet20(include_top=False, pooling="avg")
    assert base.output_shape == (None, 64)
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(5, activation="softmax", name="head")(base(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = rng.uniform(0, 1, size=(8, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 5, size=(8,))
    before = [w.copy() for w in model.get_layer("head").get_weights()]
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = model.get_layer("head").get_weights()
    assert not np.allclose(before[0], after[0])


def test_no_lambda_layers_and_only_known_layer_types():
    allowed = {
        "InputLayer",
        "Conv2D",
        "BatchNormalization",
        "Activation",
        "ZeroPadding2D",
        "MaxPooling2D",
        "Add",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling2D",
        "Dense",
        "ChannelPadding",
    }
    for model in (
        resnet.ResNet20(shortcut="A"),
        resnet.ResNet20(shortcut="C", residual=False),
        resnet.ResNet50(include_top=False, pooling="max", input_shape=(32, 32, 3)),
    ):
        kinds = {type(layer).__name__ for layer in model.layers}
        assert kinds <= allowed, kinds - allowed
        assert "Lambda" not in kinds


def test_jax_backend_runs_a_cifar_net():
    pytest.importorskip("jax")
    script = textwrap.dedent(
        """
        import numpy as np, keras
        assert keras.backend.backend() == "jax", keras.backend.backend()
        from keras_convnets.models.resnet import ResNet20
        for shortcut in ("A", "B"):
            model = ResNet20(shortcut=shortcut)
            y = np.asarray(model(np.ones((2, 32, 32, 3), "float32")))
            assert y.shape == (2, 10) and np.allclose(y.sum(axis=1), 1.0, atol=1e-5)
        print("jax ok")
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "jax ok" in result.stdout
