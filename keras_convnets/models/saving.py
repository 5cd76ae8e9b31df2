"""Loading `.keras` files of this package's models."""

from __future__ import annotations

import os
import zipfile

import keras

from keras_convnets.models import _common, layers


def load_model(path, *, safe_mode=True, compile=True, **kwargs):
    """``keras.models.load_model`` with this package's custom layers and deep graphs.

    Plain ``keras.models.load_model`` works too once ``keras_convnets`` is
    imported (the layers are registered); this wrapper also allows the
    recursion depth that rebuilding ResNet-1202's graph needs. A missing,
    truncated or non-archive file raises ``ValueError`` naming the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path. Received: path={path!r}")
    if str(path).endswith(".keras"):
        if not os.path.isfile(path):
            raise ValueError(
                f"`path`: the model file {os.fspath(path)!r} does not exist or is not a file."
            )
        if not zipfile.is_zipfile(path):
            # Keras would say "File not found" about a file that is there.
            raise ValueError(
                f"`path`: the model file {os.fspath(path)!r} is not a valid `.keras` archive "
                "(truncated or corrupt?)."
            )
    try:
        with _common.deep_recursion():
            return keras.models.load_model(
                path,
                custom_objects=layers.custom_objects(),
                safe_mode=safe_mode,
                compile=compile,
                **kwargs,
            )
    except OSError as err:
        # h5py's message lacks the path ("file signature not found").
        raise ValueError(
            f"`path`: the model file {os.fspath(path)!r} cannot be read as a Keras model: {err}"
        ) from None
