"""Shared fixtures. Nothing here reaches the internet: downloads go to 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# The edit-run loop (`make test-quick`): modules of unit tests that train nothing, build no
# large network and read no data set. A module can also say `pytestmark = pytest.mark.quick`.
QUICK_MODULES = {
    "test_cli.py",
    "test_cost.py",
    "test_evaluation.py",
    "test_imagenet_utils.py",
    "test_lrn.py",
    "test_plots.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in QUICK_MODULES and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.quick)
    # The deepest networks last (a stable sort): their cases repeat code that ResNet-110/164
    # already exercise, so when CI's time runs out (see DEADLINE_ENV) they are the ones left.
    items.sort(key=lambda item: any(depth in item.nodeid for depth in DEEPEST))


DEEPEST = ("1202", "1001")


# CI stops a run at 90 minutes (.ci/run). It passes the time after which no test may start as
# KERAS_CONVNETS_TEST_DEADLINE (seconds since the epoch): a test not started by then is skipped,
# and its skip reason says so, so a long suite ends in time with the gap printed in the summary
# (`-rs`) instead of being killed half-way with no result. Unset: every test runs.
DEADLINE_ENV = "KERAS_CONVNETS_TEST_DEADLINE"


def _deadline() -> float | None:
    value = os.environ.get(DEADLINE_ENV, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise pytest.UsageError(
            f"{DEADLINE_ENV}={value!r} is not a time; expected seconds since the epoch"
        ) from None


_DEADLINE = pytest.StashKey[float | None]()


def pytest_configure(config):
    config.stash[_DEADLINE] = _deadline()  # a value that is not a time stops the run here


def pytest_runtest_setup(item):
    deadline = item.config.stash.get(_DEADLINE, None)
    if deadline is not None and time.time() >= deadline:
        pytest.skip(f"CI-SKIPPED: not started, CI's time was up ({DEADLINE_ENV}); run it by hand")


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    keras.backend.clear_session()


@pytest.fixture
def local_server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "www"``.

    Yields ``(base_url, www_dir)``; the weights cache goes to a fresh folder
    (``KERAS_CONVNETS_CACHE_DIR``) and the hosted-weights address points here
    (``KERAS_CONVNETS_WEIGHTS_URL``, ``KERAS_CONVNETS_CLASS_INDEX_URL``).
    """
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args, **kwargs: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv("KERAS_CONVNETS_WEIGHTS_URL", base)
    monkeypatch.setenv("KERAS_CONVNETS_CLASS_INDEX_URL", base + "imagenet_class_index.json")
    monkeypatch.setenv("KERAS_CONVNETS_CACHE_DIR", str(tmp_path / "cache"))
    try:
        yield base, www
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_conversion(monkeypatch):
    """Fails the test if any TFLite or SavedModel conversion starts (checks done before work)."""
    from keras_convnets.deploy import savedmodel, tflite

    def forbidden(*args, **kwargs):
        raise AssertionError("conversion started although the arguments were invalid")

    monkeypatch.setattr(tflite, "convert", forbidden)
    monkeypatch.setattr(savedmodel, "write_serving_savedmodel", forbidden)


@pytest.fixture(scope="session")
def trained_resnet20_weights(tmp_path_factory):
    """Weights of ResNet-20 (option A, 32x32x3, preprocessing "tf") trained 3 epochs (~190
    steps, about a minute) on 4,000 Fashion-MNIST training images; trained once per session
    for the export and phone-app tests."""
    from keras_convnets.data import preprocessing
    from keras_convnets.deploy import datasets
    from keras_convnets.models import resnet

    keras.utils.set_random_seed(0)
    images, labels = datasets.load_images("fashion_mnist", "train", count=4000, seed=2)
    x = preprocessing.prepare_numpy(images, size=(32, 32), channels=3, mode="tf")
    model = resnet.ResNet20(input_shape=(32, 32, 3))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # a short run: moving statistics must catch up
    # The rate decays to zero (cosine): with Adam's constant 2e-3 the last step's weights
    # landed anywhere in their oscillation (62.2% on the test images, 83% on the training ones);
    # decayed, seeds 0 and 1 reach 80.4% and 81.2% (the float export target is 70%).
    steps = 3 * -(-len(x) // 64)
    rate = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)
    model.compile(keras.optimizers.Adam(rate), "sparse_categorical_crossentropy")
    model.fit(x, labels, batch_size=64, epochs=3, verbose=0)
    path = tmp_path_factory.mktemp("trained") / "resnet20.weights.h5"
    model.save_weights(path)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def pin_hosted_md5(monkeypatch):
    """``pin(arch, md5=..., notop_md5=...)``: the catalogue's keras.applications entry of
    ``arch`` pins a test file's MD5 for this test."""
    import dataclasses

    from keras_convnets.models.pretrained import sources

    def pin(arch, *, md5=None, notop_md5=None):
        changes = {k: v for k, v in (("md5", md5), ("notop_md5", notop_md5)) if v is not None}
        patched = tuple(
            dataclasses.replace(e, **changes) if e.arch == arch else e
            for e in sources.KERAS_WEIGHTS
        )
        monkeypatch.setattr(sources, "KERAS_WEIGHTS", patched)

    return pin
