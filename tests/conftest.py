"""Shared fixtures. Nothing here reaches the internet: downloads go to 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import os
import threading

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


@pytest.fixture
def rng():
    return np.random.default_rng(0)
