"""ImageNet preprocessing (as keras.applications) and label decoding (class index served
from 127.0.0.1 with its MD5 checked, or read from a local file)."""

from __future__ import annotations

import hashlib
import json

import keras
import numpy as np
import pytest

from keras_convnets.data import imagenet  # noqa: F401  (registers the ResNets)
from keras_convnets.models import registry, resnet  # noqa: F401  (registers the ResNets)
from keras_convnets.models.pretrained import download as fetch_module

MEAN_BGR = np.array([103.939, 116.779, 123.68])
MEAN_RGB = np.array([0.485, 0.456, 0.406])
STD_RGB = np.array([0.229, 0.224, 0.225])


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(2, 5, 4, 3)).astype("float32")


def test_caffe_mode_equals_keras_applications_resnet(images):
    ours = imagenet.preprocess_input(images.copy(), mode="caffe")
    ref = keras.applications.resnet50.preprocess_input(images.copy())
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    # By hand: RGB -> BGR, ImageNet mean subtracted, no scaling.
    np.testing.assert_allclose(ours, images[..., ::-1] - MEAN_BGR, rtol=1e-5, atol=1e-4)


def test_tf_mode_equals_keras_applications_inception_v3(images):
    ours = imagenet.preprocess_input(images.copy(), mode="tf")
    ref = keras.applications.inception_v3.preprocess_input(images.copy())
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    np.testing.assert_allclose(ours, images / 127.5 - 1.0, rtol=1e-5, atol=1e-6)


def test_torch_mode_equals_keras_applications_densenet(images):
    ours = imagenet.preprocess_input(images.copy(), mode="torch")
    ref = keras.applications.densenet.preprocess_input(images.copy())
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    np.testing.assert_allclose(ours, (images / 255.0 - MEAN_RGB) / STD_RGB, rtol=1e-5, atol=1e-5)


def test_integer_images_and_bad_mode(images):
    as_uint8 = imagenet.preprocess_input(images.astype("uint8"), mode="caffe")
    np.testing.assert_allclose(as_uint8, imagenet.preprocess_input(images.copy()), rtol=1e-6)
    with pytest.raises(ValueError, match="`mode`.*caffe, tf, torch.*mode='bgr'"):
        imagenet.preprocess_input(images, mode="bgr")


def test_registry_preprocessing_modes_are_valid_for_preprocess_input(images):
    for name in registry.list_models():
        mode = registry.model_info(name).preprocessing
        assert imagenet.preprocess_input(images.copy(), mode=mode).shape == images.shape
    assert registry.model_info("resnet50").preprocessing == "caffe"


def write_class_index(path):
    index = {str(i): [f"n{i:08d}", f"label_{i}"] for i in range(1000)}
    path.write_text(json.dumps(index))
    return hashlib.md5(path.read_bytes()).hexdigest()


def predictions(rng):
    preds = rng.uniform(0, 1, size=(2, 1000)).astype("float32")
    preds[0, 7], preds[0, 3] = 5.0, 4.0
    preds[1, 999] = 9.0
    return preds


def test_decode_predictions_from_local_server(local_server, monkeypatch, rng):
    _, www = local_server
    digest = write_class_index(www / "imagenet_class_index.json")
    monkeypatch.setattr(imagenet, "CLASS_INDEX_MD5", digest)
    monkeypatch.setattr(imagenet, "_class_index", None)
    decoded = imagenet.decode_predictions(predictions(rng), top=2)
    assert decoded[0][0] == ("n00000007", "label_7", 5.0)
    assert decoded[0][1] == ("n00000003", "label_3", 4.0)
    assert decoded[1][0][:2] == ("n00000999", "label_999") and len(decoded[1]) == 2
    # Cached in memory: the server file may go away.
    (www / "imagenet_class_index.json").unlink()
    assert imagenet.decode_predictions(predictions(rng), top=1)[1][0][1] == "label_999"


def test_decode_predictions_refuses_a_wrong_hash(local_server, monkeypatch, rng):
    _, www = local_server
    write_class_index(www / "imagenet_class_index.json")
    monkeypatch.setattr(imagenet, "_class_index", None)
    # CLASS_INDEX_MD5 is the real file's hash; the served file differs.
    with pytest.raises(ValueError, match="(?i)hash|corrupt"):
        imagenet.decode_predictions(predictions(rng))


def test_decode_predictions_from_class_index_path(tmp_path, monkeypatch, rng):
    path = tmp_path / "index.json"
    write_class_index(path)

    def no_download(*args, **kwargs):
        raise AssertionError("class_index_path must not download")

    monkeypatch.setattr(fetch_module, "fetch_file", no_download)
    decoded = imagenet.decode_predictions(predictions(rng), top=3, class_index_path=path)
    assert [label for _, label, _ in decoded[0][:2]] == ["label_7", "label_3"]
    assert len(decoded) == 2 and len(decoded[0]) == 3
    scores = [score for _, _, score in decoded[0]]
    assert scores == sorted(scores, reverse=True)


def test_decode_predictions_bad_arguments(tmp_path, rng):
    path = tmp_path / "index.json"
    write_class_index(path)
    with pytest.raises(ValueError, match=r"`preds`.*\(samples, 1000\).*\(2, 10\)"):
        imagenet.decode_predictions(np.zeros((2, 10)), class_index_path=path)
    with pytest.raises(ValueError, match="`top`.*top=0"):
        imagenet.decode_predictions(predictions(rng), top=0, class_index_path=path)
