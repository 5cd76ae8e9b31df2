"""The tf_keras twin: same architecture in legacy Keras, weights copied, same outputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tf_keras

import keras_convnets
from keras_convnets.models import _compat, registry, resnet
from keras_convnets.models.twin import copy_weights, tf_keras_twin


def randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # Non-trivial but trained-like statistics: scale ~1, small shifts, so
            # activations stay O(1) and the 1e-5 comparison is not swamped by
            # float32 rounding of exploding logits.
            # BN without gamma (scale=False, Inception-ResNet) has three weights.
            shape = layer.get_weights()[0].shape
            gamma = [rng.uniform(0.5, 1.5, shape)] if layer.scale else []
            beta = [rng.normal(0.0, 0.1, shape)] if layer.center else []
            stats = [rng.normal(0.0, 0.1, shape), rng.uniform(0.5, 1.5, shape)]
            layer.set_weights([w.astype("float32") for w in gamma + beta + stats])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape).astype("float32")])


@pytest.mark.parametrize(
    "builder, kwargs",
    [
        (resnet.ResNet20, {"shortcut": "A"}),
        (resnet.ResNet20, {"shortcut": "B"}),
        (resnet.ResNet20, {"shortcut": "C"}),
        (resnet.ResNet20, {"residual": False}),
        (resnet.ResNet32, {"classes": 7, "classifier_activation": None}),
        (resnet.ResNet18, {"input_shape": (64, 64, 3)}),
        (resnet.ResNet18, {"input_shape": (64, 64, 3), "residual": False}),
        (resnet.ResNet18, {"input_shape": (64, 64, 3), "shortcut": "C"}),
        (resnet.ResNet50, {"include_top": False, "pooling": "avg", "input_shape": (48, 48, 1)}),
        (keras_convnets.ResNet50V2, {"input_shape": (64, 64, 3), "classes": 5}),
        (keras_convnets.InceptionResNetV2, {"input_shape": (75, 75, 3), "classes": 5}),
    ],
)
def test_twin_outputs_equal_keras3(builder, kwargs, rng):
    keras.utils.set_random_seed(0)  # the same weights every run: no run-to-run lottery
    model = builder(**kwargs)
    randomize_bn(model, seed=1)
    twin = tf_keras_twin(model)
    assert isinstance(twin, tf_keras.Model)
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    assert twin.count_params() == model.count_params()
    assert twin.output_shape == model.output_shape
    x = rng.normal(size=(2, *model.input_shape[1:])).astype("float32")
    expected = np.asarray(model(x))
    # 1e-5 relative to the output's scale (features without a head reach ~1e3).
    atol = 1e-5 * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(twin(x).numpy(), expected, rtol=1e-5, atol=atol)


def test_twin_of_registry_plain_entry_and_explicit_arch(rng):
    model = registry.get_model("plain20")
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)
    twin = tf_keras_twin(model)
    assert not any(isinstance(layer, tf_keras.layers.Add) for layer in twin.layers)
    x = rng.normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(twin(x).numpy(), np.asarray(model(x)), rtol=1e-5, atol=1e-5)


def test_twin_of_loaded_model_needs_no_arch(tmp_path, rng):
    model = resnet.ResNet20(shortcut="B")
    randomize_bn(model, seed=2)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)  # its config holds the build args
    x = rng.normal(size=(1, 32, 32, 3)).astype("float32")
    for twin in (tf_keras_twin(loaded), tf_keras_twin(loaded, "resnet20", shortcut="B")):
        np.testing.assert_allclose(twin(x).numpy(), np.asarray(model(x)), rtol=1e-5, atol=1e-5)
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="`arch`"):
        tf_keras_twin(plain)  # not built by keras_convnets: it must be told


def legacy(builder, **kwargs):
    """``builder(**kwargs)`` built with tf_keras (a twin without copied weights)."""
    with _compat.building_with(tf_keras):
        return builder(**kwargs)


def test_building_with_refuses_anything_but_keras_or_tf_keras_and_restores():
    for bad, shown in ((np, "'numpy'"), ("tf_keras", "\"'tf_keras'\""), (5, "'5'")):
        with pytest.raises(ValueError) as info:
            with _compat.building_with(bad):
                pass
        message = str(info.value)
        assert "`keras_module`" in message and "tf_keras" in message
        assert f"Received: keras_module={shown}" in message, message
    assert _compat.current().is_keras3
    with pytest.raises(RuntimeError):
        with _compat.building_with(tf_keras) as api:
            assert not api.is_keras3 and _compat.current() is api
            raise RuntimeError("fails mid-build")
    assert _compat.current().is_keras3  # restored after the failure
    assert isinstance(resnet.ResNet20(), keras.Model)
    with _compat.building_with(keras):
        assert isinstance(resnet.ResNet20(), keras.Model)


def test_build_spec_never_names_the_keras_module():
    from keras_convnets.models import _common

    model = resnet.ResNet20(classes=4)
    twin = tf_keras_twin(model)
    assert isinstance(twin, tf_keras.Model) and _compat.current().is_keras3
    for built in (model, twin):
        arch, kwargs = _common.build_spec(built)
        assert arch == "resnet20" and kwargs["classes"] == 4
        assert "keras_module" not in kwargs
    assert "keras_module" not in str(model.get_config())


def test_copy_weights_refuses_mismatches_before_assigning():
    source = resnet.ResNet20(classes=10)
    target = legacy(resnet.ResNet20, classes=5)
    before = [w.copy() for w in target.get_weights()]
    with pytest.raises(ValueError) as info:
        copy_weights(source, target)
    assert "'predictions'" in str(info.value)
    assert "(64, 5)" in str(info.value) and "(64, 10)" in str(info.value)
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(a, b)

    deeper = legacy(resnet.ResNet32)
    with pytest.raises(ValueError, match="no namesake"):
        copy_weights(source, deeper)
    projected = resnet.ResNet20(shortcut="B")
    with pytest.raises(ValueError, match="no namesake.*conv3_block1_0"):
        copy_weights(projected, legacy(resnet.ResNet20, shortcut="A"))
