"""Downloads checked by hash into the Keras cache, and the converted weights cached beside.

``fetch(entry)`` returns the checkpoint's path in ``<cache>/models/``
(``KERAS_CONVNETS_CACHE_DIR``, else ``$KERAS_HOME``, else ``~/.keras``). A
file already there is reused when its SHA-256 matches. Otherwise
``keras.utils.get_file`` downloads it under a temporary name; it is moved to
its final name only after its SHA-256 (the full digest, or the leading hex
digits that torch.hub file names carry) matched, so neither a partial
download nor a wrong file is ever cached. ``KERAS_CONVNETS_PRETRAINED_URL``
replaces every entry's base address with a mirror (the tests point it at
127.0.0.1).

``converted(entry, path)`` reads the checkpoint (no PyTorch), converts it
and caches the result as ``<file stem>.keras_convnets.h5`` beside it (one
HDF5 group per Keras layer), written atomically.
"""

from __future__ import annotations

import hashlib
import os

import h5py
import keras

from keras_convnets import atomic
from keras_convnets.models.pretrained import convert, readers

CONVERTED_SUFFIX = ".keras_convnets.h5"
_FORMAT_VERSION = 1


def cache_folder() -> str:
    base = os.environ.get("KERAS_CONVNETS_CACHE_DIR") or os.environ.get("KERAS_HOME")
    base = base or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(base, "models")


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_matches(path, expected: str | None) -> bool:
    return expected is None or sha256_of(path).startswith(expected.lower())


def url_of(entry) -> str:
    mirror = os.environ.get("KERAS_CONVNETS_PRETRAINED_URL")
    return mirror.rstrip("/") + "/" + entry.file_name if mirror else entry.url


def _offline_message(entry, folder, cause):
    return (
        f"Could not download {entry.id} from {url_of(entry)} ({cause}). Without network, "
        f"download {entry.url} elsewhere and place it as {os.path.join(folder, entry.file_name)}"
        f", or pass weights='/path/to/{entry.file_name}'."
    )


def fetch(entry) -> str:
    """The checkpoint's path in the cache, downloaded and hash-checked if needed."""
    folder = cache_folder()
    final = os.path.join(folder, entry.file_name)
    if os.path.exists(final):
        if hash_matches(final, entry.sha256):
            return final
        os.remove(final)  # a stale or tampered file: fetched again below
    os.makedirs(folder, exist_ok=True)
    partial = f"{entry.file_name}.partial"
    if os.path.exists(os.path.join(folder, partial)):
        os.remove(os.path.join(folder, partial))
    try:
        path = keras.utils.get_file(
            partial, url_of(entry), cache_subdir="models", cache_dir=os.path.dirname(folder)
        )
    except Exception as err:  # get_file raises a bare Exception on URL errors
        raise OSError(_offline_message(entry, folder, err)) from err
    if not hash_matches(path, entry.sha256):
        found = sha256_of(path)
        os.remove(path)
        raise ValueError(
            f"The file downloaded for {entry.id} from {url_of(entry)} has SHA-256 {found}, "
            f"expected {entry.sha256}...; it was deleted, nothing was cached or loaded."
        )
    os.replace(path, final)
    return final


def write_converted(path, converted: dict) -> None:
    """Writes ``{layer: [arrays]}`` to an HDF5 file atomically (:mod:`keras_convnets.atomic`)."""
    with atomic.Staging() as staging:
        with h5py.File(staging.path(path, suffix=".h5"), "w") as f:
            f.attrs["keras_convnets_format"] = _FORMAT_VERSION
            for layer, arrays in converted.items():
                group = f.create_group(layer)
                for i, array in enumerate(arrays):
                    group.create_dataset(str(i), data=array)


def read_converted(path) -> dict:
    with h5py.File(path, "r") as f:
        if f.attrs.get("keras_convnets_format") != _FORMAT_VERSION:
            raise ValueError(f"{path!r} is not a converted-weights file of this version.")
        return {name: [g[str(i)][()] for i in range(len(g))] for name, g in f.items()}


def converted(entry, path) -> dict:
    """The Keras arrays of ``entry``'s checkpoint at ``path``, from the cache when there."""
    stem = path[: -len(os.path.splitext(path)[1])]
    cached = stem + CONVERTED_SUFFIX
    if os.path.exists(cached) and os.path.getmtime(cached) >= os.path.getmtime(path):
        try:
            return read_converted(cached)
        except (OSError, ValueError, KeyError):
            pass  # unreadable or older format: converted again
    arrays = convert.to_keras(readers.read_state_dict(path), entry.family)
    write_converted(cached, arrays)
    return arrays
