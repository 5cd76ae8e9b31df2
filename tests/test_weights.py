"""Weights: hosted ImageNet files (fetched from a local server), checked loading, failures.

The real download code (``keras.utils.get_file`` with an MD5 check) runs
against the ``local_server`` fixture: a legacy Keras 2 ``.h5`` written with
tf_keras is served under the keras.applications file name.
"""

from __future__ import annotations

import hashlib
import re

import h5py
import keras
import numpy as np
import pytest

from keras_convnets.models import _compat, resnet
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.pretrained import download as fetch_module


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if "BatchNormalization" in type(layer).__name__:
            values = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()]
            layer.set_weights(values)


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


def test_default_weights_none_never_downloads(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("weights=None must not download")

    monkeypatch.setattr(fetch_module, "fetch_file", no_download)
    monkeypatch.setattr(keras.utils, "get_file", no_download)
    model = resnet.ResNet50(include_top=False, input_shape=(32, 32, 3))
    assert model.output_shape == (None, 1, 1, 2048)


def test_weights_url_names_the_keras_applications_files(monkeypatch):
    monkeypatch.delenv("KERAS_CONVNETS_WEIGHTS_URL", raising=False)
    name, url, digest = weights_lib.weights_url("resnet50", include_top=True)
    assert name == "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    assert url == (
        "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    )
    assert digest == "2cb95161c43110f7111970584f804107"
    name, url, digest = weights_lib.weights_url("resnet152", include_top=False)
    assert name == "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert digest == "ee4c566cf9a93f14d82f913c2dc6dd0c"
    assert weights_lib.hosted_models() == [
        "inception_resnet_v2",
        "inception_v3",
        "resnet101",
        "resnet101v2",
        "resnet152",
        "resnet152v2",
        "resnet50",
        "resnet50v2",
    ]
    with pytest.raises(ValueError, match="'resnet18'.*resnet101, resnet101v2, resnet152"):
        weights_lib.weights_url("resnet18", include_top=True)


def _serve_tf_keras_resnet50(www, include_top, input_shape):
    import tf_keras

    ref = tf_keras.applications.ResNet50(
        weights=None, include_top=include_top, input_shape=input_shape
    )
    randomize_bn(ref, seed=5)
    file_name, _, _ = weights_lib.weights_url("resnet50", include_top)
    (www / "resnet").mkdir(exist_ok=True)
    path = www / "resnet" / file_name
    ref.save_weights(str(path))
    return ref, path


@pytest.mark.parametrize("include_top, size", [(False, 64), (True, 224)])
def test_imagenet_weights_download_from_local_server(
    include_top, size, local_server, pin_hosted_md5, rng
):
    _, www = local_server
    ref, path = _serve_tf_keras_resnet50(www, include_top, (size, size, 3))
    pin_hosted_md5("resnet50", md5=md5(path), notop_md5=md5(path))
    kwargs = {} if include_top else {"include_top": False, "input_shape": (size, size, 3)}
    model = resnet.ResNet50(weights="imagenet", **kwargs)
    x = rng.uniform(-1, 1, size=(1, size, size, 3)).astype("float32")
    expected = ref(x).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    cached = list((www.parent / "cache").rglob(path.name))
    assert len(cached) == 1


def test_imagenet_weights_with_wrong_hash_are_refused(local_server):
    _, www = local_server
    # The catalogue keeps the real keras.applications hash: the served file differs.
    _serve_tf_keras_resnet50(www, False, (32, 32, 3))
    with pytest.raises(ValueError, match="(?i)hash|corrupt"):
        resnet.ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3))


def test_missing_file():
    with pytest.raises(ValueError) as info:
        resnet.ResNet20(weights="/nonexistent/r20.weights.h5")
    assert "`weights`" in str(info.value) and "/nonexistent/r20.weights.h5" in str(info.value)
    model = resnet.ResNet20()
    with pytest.raises(ValueError, match="does not exist"):
        weights_lib.load_weights_checked(model, "/nonexistent/r20.weights.h5")


def test_wrong_suffix_and_foreign_h5(tmp_path):
    model = resnet.ResNet20()
    other = tmp_path / "weights.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        weights_lib.load_weights_checked(model, other)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    before = snapshot(model)
    with pytest.raises(ValueError, match="legacy Keras 2"):
        weights_lib.load_weights_checked(model, foreign)
    assert_unchanged(model, before)


def test_weights_path_roundtrip_keras3_and_keras_archive(tmp_path, rng):
    source = resnet.ResNet20(shortcut="B")
    randomize_bn(source, seed=6)
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    source.save_weights(tmp_path / "r20.weights.h5")
    source.save(tmp_path / "r20.keras")
    for path in ("r20.weights.h5", "r20.keras"):
        model = resnet.ResNet20(shortcut="B", weights=str(tmp_path / path))
        np.testing.assert_allclose(model(x), source(x), rtol=1e-5, atol=1e-6)


def _keras3_file(tmp_path, model, name):
    path = tmp_path / f"{name}.weights.h5"
    model.save_weights(path)
    return path


def _legacy_file(tmp_path, name, **kwargs):
    import tf_keras

    with _compat.building_with(tf_keras):
        twin = resnet.ResNet20(**kwargs)
    path = tmp_path / f"{name}.h5"
    twin.save_weights(str(path))
    return path


@pytest.mark.parametrize("fmt", ["keras3", "legacy"])
def test_deeper_model_refuses_shallower_file_and_keeps_weights(fmt, tmp_path):
    if fmt == "keras3":
        path = _keras3_file(tmp_path, resnet.ResNet20(), "r20")
    else:
        path = _legacy_file(tmp_path, "r20")
    model = resnet.ResNet32()
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        weights_lib.load_weights_checked(model, path)
    message = str(info.value)
    assert str(path) in message and "'resnet32'" in message and "Nothing was loaded" in message
    # Names the first layer that differs and both shapes (stage 2 is longer in ResNet-32).
    assert "layer 'conv2_block4_1_conv'" in message
    assert "(3, 3, 16, 16)" in message and "(3, 3, 16, 32)" in message
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="does not match|layers with weights"):
        resnet.ResNet32(weights=str(path))


@pytest.mark.parametrize("fmt", ["keras3", "legacy"])
def test_classes_mismatch_names_layer_and_shapes_and_keeps_weights(fmt, tmp_path):
    if fmt == "keras3":
        path = _keras3_file(tmp_path, resnet.ResNet20(classes=10), "c10")
    else:
        path = _legacy_file(tmp_path, "c10", classes=10)
    model = resnet.ResNet20(classes=5)
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        weights_lib.load_weights_checked(model, path)
    message = str(info.value)
    assert "'predictions'" in message
    assert "(64, 5)" in message and "(64, 10)" in message
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="'predictions'"):
        resnet.ResNet20(classes=5, weights=str(path))


def test_shallower_model_refuses_deeper_legacy_file(tmp_path):
    import tf_keras

    with _compat.building_with(tf_keras):
        twin = resnet.ResNet32()
    path = tmp_path / "r32.h5"
    twin.save_weights(str(path))
    model = resnet.ResNet20()
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        weights_lib.load_weights_checked(model, path)
    message = str(info.value)
    assert "layer 'conv3_block1_1_conv'" in message and "'conv2_block4_1_conv'" in message
    assert "(3, 3, 16, 32)" in message and "(3, 3, 16, 16)" in message
    assert_unchanged(model, before)


def test_keras3_file_with_extra_layers_refused(tmp_path):
    # Same layers plus a Dense head: the model has fewer layers than the file.
    base = resnet.ResNet20(include_top=False, pooling="avg")
    path = _keras3_file(tmp_path, resnet.ResNet20(), "top")
    before = snapshot(base)
    with pytest.raises(ValueError, match="more than model"):
        weights_lib.load_weights_checked(base, path)
    assert_unchanged(base, before)


def test_legacy_file_of_other_length_names_the_unmatched_layer(tmp_path):
    notop = _legacy_file(tmp_path, "notop", include_top=False)
    top = _legacy_file(tmp_path, "top")
    model = resnet.ResNet20()
    before = snapshot(model)
    with pytest.raises(ValueError, match="the model's layer 'predictions' has no counterpart"):
        weights_lib.load_weights_checked(model, notop)
    assert_unchanged(model, before)
    features = resnet.ResNet20(include_top=False)
    before = snapshot(features)
    with pytest.raises(ValueError, match="the file's layer 'predictions' has no counterpart"):
        weights_lib.load_weights_checked(features, top)
    assert_unchanged(features, before)


def test_one_catalogue_pins_a_hash_for_every_file():
    from keras_convnets.models.pretrained import sources

    for entry in sources.KERAS_WEIGHTS:
        assert re.fullmatch("[0-9a-f]{32}", entry.md5) and re.fullmatch(
            "[0-9a-f]{32}", entry.notop_md5
        )
        name, url, _ = entry.hosted_file(include_top=False)
        assert url == f"{sources.KERAS_APPLICATIONS_URL}{entry.folder}{name}"
    # torchvision and timm: SHA-256 (the full digest, or torch.hub's leading hex digits), except
    # the Hugging Face files, whose digest is published nowhere this package can read offline.
    for entry in sources.SOURCES:
        assert entry.sha256 or entry.url.startswith("https://huggingface.co/"), entry.id


def test_the_former_mirror_variable_still_works_with_a_deprecation_warning(monkeypatch):
    from keras_convnets.models.pretrained import download, sources

    monkeypatch.delenv("KERAS_CONVNETS_WEIGHTS_URL", raising=False)
    monkeypatch.setenv("KERAS_CONVNETS_PRETRAINED_URL", "http://127.0.0.1:9/m")
    entry = sources.SOURCES[0]
    with pytest.warns(DeprecationWarning, match="KERAS_CONVNETS_WEIGHTS_URL"):
        assert download.url_of(entry) == "http://127.0.0.1:9/m/" + entry.file_name
    # One variable for both kinds of file: keras.applications' keep their sub-folder.
    monkeypatch.setenv("KERAS_CONVNETS_WEIGHTS_URL", "http://127.0.0.1:9/w/")
    _, url, _ = weights_lib.weights_url("resnet50v2", include_top=True)
    assert url == "http://127.0.0.1:9/w/resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels.h5"
    assert download.url_of(entry) == "http://127.0.0.1:9/w/" + entry.file_name
