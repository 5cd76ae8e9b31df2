"""optimize_for_inference: BN folded, ReLU fused, bf16 weights; checked on real images.

Every registered model is built small, given trained-like weights (random BN
scales, offsets and biases; moving statistics measured on real images, so
means and variances are far from 0 and 1), and its folded float32 copy must
give the same probabilities within 1e-5. The images are the shipped
Fashion-MNIST sample, resized and repeated to three channels.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_convnets
from keras_convnets.analysis import cost
from keras_convnets.data.sample_data import load_fashion_mnist_sample
from keras_convnets.models import inference

TOLERANCE = 1e-5
# Registered models that take too long to build or run on two cores for the default run.
SLOW = {
    "resnet1202",
    "resnet152",
    "resnet101",
    "plain110",
    "resnet110",
    "resnet101v2",
    "resnet152v2",
    "preact_resnet110",
    "preact_resnet164",
    "preact_resnet1001",
}
# Small inputs: the smallest each model allows (GoogLeNet keeps its aux heads at 96).
SIZES = {
    "googlenet": 96,
    "inception_v2": 75,
    "inception_v3": 75,
    "inception_v3_torch": 75,
    "inception_resnet_v2": 75,
    "inception_v4": 75,
    "inception_resnet_v1": 75,
}
IMAGENET_SIZE = 64
# Images per pass (32 unless named). A Keras functional call holds every layer's output until it
# returns: PreActResNet-1001 (333 bottleneck units, 256 channels at 32x32) held 10 GB for 32
# images in float32 and 9 GB more in float64, and was OOM-killed on a 24 GB machine. At its
# 32x32 (at 16x16 its float32 rounding alone, 1.9e-5, is past the 1e-5 tolerance) 8 images.
IMAGES = {"preact_resnet1001": 8}
BN = keras.layers.BatchNormalization
# float64 folded vs unfolded: <= 7e-10 on TensorFlow (plain110). JAX on CPU, even with
# JAX_ENABLE_X64=1, gave 1.1e-7 (ResNet-20) to 8.5e-6 (ResNet-50): part of its float64
# path runs in float32, so the exactness check is TensorFlow's.
EXACT = 1e-8


def real_images(size, count, *, split="test", offset=0, channels=3):
    """``count`` Fashion-MNIST images resized to ``size`` (float32 in [0, 255])."""
    x, _ = load_fashion_mnist_sample(split)
    x = x[offset : offset + count].astype("float32")
    x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (size, size)))
    return np.repeat(x, channels, axis=-1) if channels != 1 else x


def make_trained_like(model, images, seed=0, kernel_mean=None):
    """Random BN gamma/beta and biases, then moving statistics measured on ``images``.

    One training-mode pass with momentum 0 sets every BN's moving mean and
    variance to the batch statistics of its real input (each layer normalised
    by the previous ones' new statistics, as after training).

    Every convolution kernel first gets a common component (``KERNEL_MEAN``
    standard deviations): see ``_contracting_kernels`` for why.
    """
    rng = np.random.default_rng(seed)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    _contracting_kernels(model, KERNEL_MEAN if kernel_mean is None else kernel_mean)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype("float32"))
    branch_ends = _residual_branch_ends(model)
    for bn in bns:
        damp = RESIDUAL_SCALE if bn in branch_ends else 1.0
        if bn.scale:
            bn.gamma.assign(damp * rng.uniform(0.5, 1.5, bn.gamma.shape).astype("float32"))
        if bn.center:
            bn.beta.assign(damp * rng.normal(0, 0.3, bn.beta.shape).astype("float32"))
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(images, training=True)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    _rescale_channels(model, rng)
    return bns


# A random conv -> BN -> ReLU stack is chaotic: BN divides by the spread of the conv's output over
# the data, which a ReLU's all-positive input (its mean removed by BN) keeps small, so a
# perturbation grows by about sqrt(P(z > 0) / Var(relu(z))) = sqrt(0.5 / 0.34) = 1.2 per layer.
# Measured on plain110 with plain random kernels, six unseeded builds (BN scales in [0.3, 1.5]):
# unfolded float32 vs float64 0.026 to 0.109 in probability (a 3% feature error), folded vs unfolded
# float32 0.027 to 0.23, so at that depth no float32 comparison means anything. Trained networks are
# not like that (they run in float16 and bfloat16). A common component in each kernel that feeds a
# BN (KERNEL_MEAN standard deviations) lets the channels' shared mode take part in BN's divisor and
# damps the growth: ResNet-110's unfolded float32 is then within 3.4e-7 of float64 (1.6e-6 without).
# Too much and the deep plain network forgets its input: at 0.13 plain110 gave every image the same
# probabilities to 1e-8, at 0.1 it still told images apart but its own rounding was 1.1e-5, and with
# this test's seed it forgot its input. Such a model is named in CHAOTIC and keeps its random
# kernels: its float32 evidence is the layer-by-layer check (each folded layer fed the unfolded
# model's own activations), with float64 exactness. Inception-v4 (22 convolutions deep without a
# shortcut) forgets its input at 0.1 too: the probabilities' spread across images was 3.4e-4.
KERNEL_MEAN = 0.1
CHAOTIC = {"plain110", "inception_v4"}
# Relative to the layer's largest output: float32 rounding of a sum of ~10^3 products is ~1e-6.
LOCAL_TOLERANCE = 1e-5


# He et al. (2016), Fig. 7 and Sec. 4.2: a trained ResNet's residual functions have small
# responses, smaller the deeper the net. Random BN scales of ~1 at the end of every branch add
# up over the blocks instead: ResNet-1202's unfolded float32 was then 6.1e-6 from float64 and
# folded vs unfolded 2.2e-5; at 0.3, 3.1e-6 and 1.0e-5; at 0.15, 3.0e-6 and 4.1e-6.
RESIDUAL_SCALE = 0.15


def _residual_branch_ends(model):
    """The BN layers whose output an ``Add`` reads (the last BN of each residual branch)."""
    ends = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Add) and layer._inbound_nodes:
            for parent in layer._inbound_nodes[0].parent_nodes:
                if isinstance(parent.operation, BN):
                    ends.append(parent.operation)
    return ends


def _contracting_kernels(model, kernel_mean):
    for layer in model.layers:
        readers = layer._outbound_nodes
        if isinstance(layer, keras.layers.Conv2D) and len(readers) == 1:
            if isinstance(readers[0].operation, BN):
                kernel = np.asarray(layer.kernel)
                layer.kernel.assign((kernel + kernel_mean * kernel.std()).astype("float32"))


def folded_pairs(model, folded):
    """(original layer, its BN, folded layer) for every layer that absorbed a BN."""
    pairs = []
    for layer in folded.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            continue
        original = model.get_layer(layer.name)
        readers = original._outbound_nodes
        if len(readers) == 1 and isinstance(readers[0].operation, BN):
            pairs.append((original, readers[0].operation, layer))
    return pairs


def _inbound(layer):
    return layer._inbound_nodes[0].parent_nodes[0].operation


def _reads_a_convolution(bn):
    """True when ``bn`` is the only reader of a convolution's (or Dense's) output: foldable."""
    source = _inbound(bn)
    return isinstance(source, (keras.layers.Conv2D, keras.layers.Dense)) and (
        len(source._outbound_nodes) == 1
    )


def local_fold_error(model, folded, x):
    """Largest relative error of one folded layer fed the unfolded model's own activations."""
    pairs = folded_pairs(model, folded)
    probe = keras.Model(model.inputs, [original.input for original, _, _ in pairs])
    activations = probe(x, training=False)
    worst = 0.0
    for (original, bn, layer), a in zip(pairs, activations):
        want = np.asarray(bn(original(a), training=False), np.float64)
        if layer.get_config()["activation"] == "relu":
            want = np.maximum(want, 0.0)
        got = np.asarray(layer(a), np.float64)
        worst = max(worst, float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)))
    return worst, len(pairs)


def _rescale_channels(model, rng):
    """Multiplies each convolution's output channels by c in [1/8, 8] and its BN's statistics
    by c and c^2: the network's function is unchanged, its statistics no longer near 0/1."""
    for layer in model.layers:
        node = layer._inbound_nodes[0] if layer._inbound_nodes else None
        if not isinstance(layer, keras.layers.Conv2D) or node is None:
            continue
        readers = layer._outbound_nodes
        if len(readers) != 1 or not isinstance(readers[0].operation, BN):
            continue
        bn = readers[0].operation
        c = np.exp(rng.uniform(np.log(1 / 8), np.log(8), layer.filters))
        layer.kernel.assign((np.asarray(layer.kernel) * c).astype("float32"))
        if layer.use_bias:
            layer.bias.assign((np.asarray(layer.bias) * c).astype("float32"))
        bn.moving_mean.assign((np.asarray(bn.moving_mean) * c).astype("float32"))
        variance = (np.asarray(bn.moving_variance) + bn.epsilon) * c**2 - bn.epsilon
        bn.moving_variance.assign(variance.astype("float32"))


def build_small(name, **overrides):
    keras.utils.set_random_seed(0)
    info = keras_convnets.model_info(name)
    size = SIZES.get(name, info.input_shape[0] if info.input_shape[0] < 64 else IMAGENET_SIZE)
    overrides.setdefault("input_shape", (size, size, 3))
    overrides.setdefault("classes", 10)
    if name.startswith(("inception_v2", "inception_v3")):
        overrides.setdefault("aux_logits", False)  # the head needs 299 (tested below, slow)
    return info.build(**overrides)


def check_fold(model, *, calibrate=32, compare=32, kernel_mean=None):
    """Folds ``model`` (trained-like first); returns (folded, max |dprob|, BN layers, probs)."""
    size = model.input_shape[1]
    calib = keras_convnets.preprocess_input(real_images(size, calibrate), mode="caffe")
    x = keras_convnets.preprocess_input(real_images(size, compare, offset=500), mode="caffe")
    bns = make_trained_like(model, calib, kernel_mean=kernel_mean)
    reference = keras_convnets.inference_model(model)
    folded = keras_convnets.optimize_for_inference(model)
    expected = np.asarray(reference(x, training=False))
    got = np.asarray(folded(x, training=False))
    return folded, float(np.abs(expected - got).max()), bns, expected


@contextlib.contextmanager
def dtype_policy(name):
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def float64_twin(name, model, **overrides):
    """The same network built in float64, with ``model``'s weights."""
    with dtype_policy("float64"):
        twin = build_small(name, **overrides)
    twin.set_weights([w.astype("float64") for w in model.get_weights()])
    return twin


def probabilities(model, x):
    return np.asarray(keras_convnets.inference_model(model)(x, training=False), np.float64)


def assert_stats_trained_like(bns):
    means = np.concatenate([np.asarray(bn.moving_mean) for bn in bns])
    variances = np.concatenate([np.asarray(bn.moving_variance) for bn in bns])
    assert np.mean(np.abs(means) > 0.1) > 0.5, "moving means should be far from 0"
    assert np.mean(np.abs(np.log(variances)) > np.log(1.5)) > 0.5, "variances far from 1"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
        for n in keras_convnets.list_models()
    ],
)
def test_folded_float32_matches_every_registered_model(name):
    model = build_small(name)
    count = IMAGES.get(name, 32)
    kernel_mean = 0.0 if name in CHAOTIC else None
    folded, diff, bns, probs = check_fold(
        model, calibrate=count, compare=count, kernel_mean=kernel_mean
    )
    # Not a vacuous comparison: the probabilities are not all one-hot or uniform.
    assert 0.01 < float(np.std(probs)) and float(np.min(probs.max(-1))) < 0.999
    # ... and they depend on the image (a network that forgot its input would pass anything).
    assert float(np.std(probs, axis=0).max()) > 1e-3, "every image gets the same probabilities"
    # Exactness of the rewrite, free of float32 rounding: the same weights in float64.
    twin = float64_twin(name, model)
    images = real_images(model.input_shape[1], count, offset=500)
    x = keras_convnets.preprocess_input(images, "caffe")
    exact = probabilities(twin, x.astype("float64"))
    folded64 = keras_convnets.optimize_for_inference(twin)
    assert folded64.get_layer("predictions").kernel.dtype == "float64"
    if keras.backend.backend() == "tensorflow":
        assert np.abs(probabilities(folded64, x.astype("float64")) - exact).max() <= EXACT
    # float32, layer by layer: each fold only rounds (see LOCAL_TOLERANCE).
    if bns:
        local, folds = local_fold_error(model, folded, x[:4])
        assert local <= LOCAL_TOLERANCE, f"{name}: a folded layer is off by {local:.3g}"
        foldable = [bn for bn in bns if _reads_a_convolution(bn)]
        assert folds >= len(foldable) - 2 * len(model.outputs), (folds, len(foldable))
    # float32, end to end: within 1e-5 of the unfolded model, whose own rounding (against
    # float64) is within that too, except for the CHAOTIC ones (see KERNEL_MEAN).
    noise = float(np.abs(probs - exact).max())
    # Folded and unfolded each carry their own rounding: comparing them to 1e-5 is meaningful
    # when each is within half of that of the exact result.
    if noise <= TOLERANCE / 2:
        assert diff <= TOLERANCE, f"{name}: max |dprob| {diff:.3g} (rounding: {noise:.3g})"
    elif name not in CHAOTIC:
        # A deep network whose float32 rounding alone is past half the tolerance (ResNet-1202:
        # unfolded 5.7e-6 from float64) but is not chaotic: the folded model must be no further
        # from the exact result than the unfolded one (measured 2.9e-6), and still within 1e-5
        # of it (measured 3.9e-6).
        folded_error = float(np.abs(probabilities(folded, x) - exact).max())
        assert folded_error <= noise, f"{name}: folded {folded_error:.3g}, unfolded {noise:.3g}"
        assert diff <= TOLERANCE, f"{name}: max |dprob| {diff:.3g} (rounding: {noise:.3g})"
    if bns:
        assert_stats_trained_like(bns)
        # Only the BNs that read no convolution stay: pre-activation ResNets' ``preact_bn`` and
        # ``post_bn`` follow an addition, and a ReLU separates them from the next convolution.
        kept = {layer.name for layer in folded.layers if isinstance(layer, BN)}
        assert kept == {bn.name for bn in bns if not _reads_a_convolution(bn)}, kept
    # Every ReLU was fused into a convolution except those that read no convolution: after an
    # addition (ResNet's `_out`, Inception-ResNet's `_add`) or a BN that follows one.
    relus = [layer for layer in folded.layers if type(layer) is keras.layers.Activation]
    unfused = [r.name for r in relus if _inbound(r).__class__.__name__ in ("Conv2D", "Dense")]
    assert not unfused, unfused
    assert len(folded.outputs) == 1


def test_layer_names_kept_and_cost_report_works():
    model = keras_convnets.ResNet50(input_shape=(64, 64, 3), classes=10)
    folded = keras_convnets.optimize_for_inference(model)
    kept = {layer.name for layer in folded.layers}
    original = {layer.name for layer in model.layers}
    gone = original - kept
    assert kept <= original
    assert all(n.endswith(("_bn", "_relu")) for n in gone), sorted(gone)[:5]
    conv = folded.get_layer("conv2_block1_1_conv")
    assert conv.get_config()["activation"] == "relu" and conv.use_bias
    assert folded.get_layer("conv2_block1_3_conv").get_config()["activation"] == "linear"
    assert folded.get_layer("conv2_block1_add") is not None
    before, after = cost.analyze(model), cost.analyze(folded)
    assert after.macs == before.macs
    assert after.block("conv3_block2")["macs"] == before.block("conv3_block2")["macs"]
    bn_params = sum(
        layer.count_params()
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert after.params == before.params - bn_params


def test_googlenet_aux_heads_dropped_and_lrn_kept():
    model = keras_convnets.GoogLeNet(input_shape=(96, 96, 3), classes=10)
    folded = keras_convnets.optimize_for_inference(model)
    names = [layer.name for layer in folded.layers]
    assert not any(n.startswith("aux") for n in names)
    assert "norm1" in names and "norm2" in names
    assert folded.get_layer("inception_3a_5x5").get_config()["activation"] == "relu"
    assert folded.output_shape == (None, 10)


def test_bn_googlenet_folds():
    model = keras_convnets.GoogLeNet(input_shape=(96, 96, 3), classes=10, batch_norm=True)
    folded, diff, bns, _ = check_fold(model)
    assert diff <= TOLERANCE
    assert_stats_trained_like(bns)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception_v3", "inception_v2"])
def test_inception_with_aux_head_at_299(name):
    model = keras_convnets.get_model(name, classes=10)
    folded, diff, _, _ = check_fold(model, calibrate=8, compare=8)
    assert diff <= TOLERANCE, diff
    assert not any(layer.name.startswith("aux") for layer in folded.layers)


def _tiny_model():
    """conv->BN->relu, a conv whose output a second branch also reads, dense->BN, scale=False."""
    inputs = keras.Input((8, 8, 3), name="pixels")
    a = keras.layers.Conv2D(4, 3, padding="same", name="a_conv")(inputs)
    a = keras.layers.BatchNormalization(name="a_bn")(a)
    a = keras.layers.ReLU(name="a_relu")(a)
    b = keras.layers.Conv2D(4, 1, use_bias=False, name="b_conv")(a)
    b_bn = keras.layers.BatchNormalization(scale=False, name="b_bn")(b)
    side = keras.layers.Activation("relu", name="side_relu")(b)  # reads the pre-BN tensor
    x = keras.layers.Add(name="add")([b_bn, side])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(6, name="fc")(x)
    x = keras.layers.BatchNormalization(center=False, name="fc_bn")(x)
    x = keras.layers.Activation("relu", name="fc_relu")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x))


def test_folding_rules_on_a_hand_built_graph():
    model = _tiny_model()
    x = real_images(8, 16)
    make_trained_like(model, x)
    folded = keras_convnets.optimize_for_inference(model)
    names = [layer.name for layer in folded.layers]
    # b_conv's output is also read by side_relu: its BN cannot be folded into it.
    assert "b_bn" in names and "side_relu" in names
    assert "a_bn" not in names and "a_relu" not in names and "fc_bn" not in names
    assert folded.get_layer("fc").get_config()["activation"] == "relu"
    assert folded.get_layer("a_conv").get_config()["activation"] == "relu"
    np.testing.assert_allclose(folded(x), model(x, training=False), atol=TOLERANCE)


def test_folded_weights_formula():
    conv = keras.layers.Conv2D(3, 1, name="c")
    bn = keras.layers.BatchNormalization(epsilon=0.5)
    bn(conv(np.ones((1, 2, 2, 2), "float32")))
    conv.kernel.assign(np.full((1, 1, 2, 3), 2.0, "float32"))
    conv.bias.assign(np.array([1.0, 2.0, 3.0], "float32"))
    bn.gamma.assign(np.array([1.0, 2.0, 3.0], "float32"))
    bn.beta.assign(np.array([0.0, 1.0, -1.0], "float32"))
    bn.moving_mean.assign(np.array([1.0, 0.0, 3.0], "float32"))
    bn.moving_variance.assign(np.array([3.5, 0.5, 0.0], "float32"))
    kernel, bias = inference.folded_weights(conv, bn)
    scale = np.array([1 / 2, 2 / 1, 3 / np.sqrt(0.5)])
    np.testing.assert_allclose(kernel[0, 0], 2.0 * np.stack([scale, scale]))
    np.testing.assert_allclose(bias, [0.0, 2.0 * 2 + 1, 0.0 * scale[2] - 1])


def test_bfloat16_stores_weights_once_and_keeps_the_classifier_float32():
    model = keras_convnets.ResNet20(classes=10)
    fast = keras_convnets.optimize_for_inference(model, dtype="bfloat16")
    conv = fast.get_layer("conv2_block1_1_conv")
    assert conv.dtype_policy.name == "bfloat16"
    assert conv.kernel.dtype == "bfloat16" and conv.bias.dtype == "bfloat16"
    head = fast.get_layer("predictions")
    assert head.dtype_policy.name == "float32" and head.kernel.dtype == "float32"
    assert fast.get_layer("avg_pool").dtype_policy.name == "float32"
    assert str(fast.output.dtype) == "float32"
    assert not any("mixed" in layer.dtype_policy.name for layer in fast.layers)


def test_bfloat16_graph_has_no_per_call_kernel_casts():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("graph inspection is TensorFlow's")
    model = keras_convnets.ResNet20(classes=10)
    fast = keras_convnets.optimize_for_inference(model, dtype="bfloat16")
    fn = tf.function(lambda t: fast(t, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec((1, 32, 32, 3), tf.float32)).graph
    casts = [op for op in graph.get_operations() if op.type == "Cast"]
    # One cast of the image into bf16 and one of the features back to float32.
    assert len(casts) == 2, [(c.name, c.inputs[0].dtype.name) for c in casts]
    mixed = keras.mixed_precision.DTypePolicy("mixed_bfloat16")
    assert mixed.variable_dtype == "float32"  # what the mixed policy would re-cast every call


def test_bfloat16_agrees_with_float32_on_trained_like_resnet20():
    model = keras_convnets.ResNet20(classes=10)
    calib = keras_convnets.preprocess_input(real_images(32, 64), mode="caffe")
    make_trained_like(model, calib)
    x = keras_convnets.preprocess_input(real_images(32, 1000), mode="caffe")
    f32 = keras_convnets.optimize_for_inference(model)
    b16 = keras_convnets.optimize_for_inference(model, dtype="bfloat16")
    p32 = np.asarray(f32.predict(x, batch_size=250, verbose=0))
    p16 = np.asarray(b16.predict(x, batch_size=250, verbose=0))
    agreement = float(np.mean(p32.argmax(-1) == p16.argmax(-1)))
    # Random weights leave small top-1 margins (TensorFlow: 99.x%, JAX: 98.7%); the
    # issue's 99.5% is checked on a trained model below.
    assert agreement >= 0.98, agreement


@pytest.fixture(scope="module")
def trained_resnet20():
    """ResNet-20 trained 2 epochs on the 5,000 shipped Fashion-MNIST training images."""
    keras.utils.set_random_seed(0)
    x, y = load_fashion_mnist_sample("train")
    model = keras_convnets.ResNet20(input_shape=(28, 28, 1), classes=10)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    model.fit(x.astype("float32") / 255.0, y, batch_size=64, epochs=2, verbose=0)
    return model


@pytest.mark.slow
def test_bfloat16_top1_agreement_on_1000_real_images_of_a_trained_model(trained_resnet20):
    x, y = load_fashion_mnist_sample("test")
    x = x.astype("float32") / 255.0
    reference = trained_resnet20.predict(x, batch_size=250, verbose=0)
    accuracy = float(np.mean(reference.argmax(-1) == y))
    assert accuracy > 0.7, accuracy  # it did learn: the agreement below is meaningful
    f32 = keras_convnets.optimize_for_inference(trained_resnet20)
    b16 = keras_convnets.optimize_for_inference(trained_resnet20, dtype="bfloat16")
    p32 = f32.predict(x, batch_size=250, verbose=0)
    assert np.abs(p32 - reference).max() <= TOLERANCE
    p16 = b16.predict(x, batch_size=250, verbose=0)
    agreement = float(np.mean(p16.argmax(-1) == p32.argmax(-1)))
    assert len(x) == 1000 and agreement >= 0.995, agreement


def test_bad_arguments_are_named():
    model = keras_convnets.ResNet20()
    with pytest.raises(ValueError, match="`dtype` must be None or one of .*Received: dtype='int8'"):
        keras_convnets.optimize_for_inference(model, dtype="int8")
    with pytest.raises(TypeError, match="functional model"):
        keras_convnets.optimize_for_inference("resnet20")


def test_original_model_unchanged_and_independent():
    model = keras_convnets.ResNet20()
    before = [np.array(w) for w in model.get_weights()]
    folded = keras_convnets.optimize_for_inference(model)
    folded.get_layer("conv1_conv").kernel.assign(
        np.zeros(folded.get_layer("conv1_conv").kernel.shape, "float32")
    )
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_folded_model_saves_and_loads(tmp_path):
    model = keras_convnets.ResNet20(classes=10)
    folded = keras_convnets.optimize_for_inference(model, dtype="bfloat16")
    path = str(tmp_path / "folded.keras")
    folded.save(path)
    loaded = keras_convnets.load_model(path)
    x = real_images(32, 4)
    np.testing.assert_allclose(loaded(x), folded(x), atol=1e-6)
    assert loaded.get_layer("conv1_conv").kernel.dtype == "bfloat16"


# ----------------------------------------------------------------------------- export, evaluate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _trained_like_resnet20():
    model = keras_convnets.ResNet20(classes=10)
    make_trained_like(model, keras_convnets.preprocess_input(real_images(32, 32), mode="caffe"))
    return model


def test_savedmodel_serves_the_folded_graph_and_reports_the_fold(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from keras_convnets.deploy import export_model

    model = _trained_like_resnet20()
    images = real_images(32, 16).astype(np.uint8)
    labels = np.arange(16) % 10
    reports = {}
    for fold in (True, False):
        out = tmp_path / f"sm_{fold}"
        reports[fold] = export_model(
            model, out, format="savedmodel", arch="resnet20", eval_images=images,
            eval_labels=labels, fold=fold, verbose=False,
        )  # fmt: skip
        reports[fold]["variables"] = len(tf.saved_model.load(str(out)).variables)
    folded, plain = reports[True], reports[False]
    assert 0 < folded["fold_max_abs_diff_prob"] <= TOLERANCE
    assert folded["max_abs_diff_prob"] <= TOLERANCE and folded["top1_agreement"] == 100.0
    assert plain["fold_max_abs_diff_prob"] is None
    # Folded: a kernel and a bias per convolution; unfolded: + 4 BN variables each.
    n_bn = sum(isinstance(layer, BN) for layer in model.layers)
    assert plain["variables"] - folded["variables"] == 4 * n_bn - sum(
        1 for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias
    )
    meta = json.loads((tmp_path / "sm_True.json").read_text())
    assert meta["fold_max_abs_diff_prob"] == folded["fold_max_abs_diff_prob"]


def _run(module, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_export_cli_no_fold_flag(tmp_path):
    for flag, folded in (("--top_k=5", True), ("--no_fold", False)):
        out = tmp_path / f"sm{folded}"
        proc = _run("export", "--model=resnet20", "--format=savedmodel", "--eval_count=8",
                    f"--output={out}", flag)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        report = json.loads((tmp_path / f"sm{folded}.parity.json").read_text())
        assert (report["fold_max_abs_diff_prob"] is not None) is folded
        assert ("BN folded" in proc.stdout) is folded


@pytest.mark.slow
def test_evaluate_cli_fold_gives_the_same_accuracy(tmp_path):
    model = _trained_like_resnet20()
    path = str(tmp_path / "m.keras")
    model.save(path)
    reports = {}
    for flag in ("--fold", "--nofold"):
        out = tmp_path / f"{flag}.json"
        proc = _run("recipes.evaluate", "--model_file", path, "--dataset", "fashion_mnist_sample",
                    "--max_images", "64", "--resize", "32", "--output", str(out), flag)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        reports[flag] = json.loads(out.read_text())
    assert reports["--fold"]["fold"] is True and reports["--nofold"]["fold"] is False
    for key in ("top1_accuracy", "top5_accuracy"):
        assert reports["--fold"][key] == pytest.approx(reports["--nofold"][key])


@pytest.mark.slow
def test_benchmark_folded_quick(tmp_path):
    from benchmarks import bench_inference

    assert bench_inference.main(["--folded", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "inference_folded.json").read_text())
    assert [row[2] for row in report["rows"]] == ["float32", "bf16"]
    diffs = {(row[1], row[2]): float(row[3]) for row in report["parity"]}
    assert diffs[("folded", "float32")] <= TOLERANCE  # the same weights as keras.applications
