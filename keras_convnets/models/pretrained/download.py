"""Downloads checked by hash into the Keras cache, and the converted weights cached beside.

``fetch(entry)`` returns the checkpoint's path in ``<cache>/models/``
(``KERAS_CONVNETS_CACHE_DIR``, else ``$KERAS_HOME``, else ``~/.keras``). A
file already there is reused when its SHA-256 matches. Otherwise
``keras.utils.get_file`` downloads it under a temporary name; it is moved to
its final name only after its SHA-256 (the full digest, or the leading hex
digits that torch.hub file names carry) matched, so neither a partial
download nor a wrong file is ever cached. ``KERAS_CONVNETS_WEIGHTS_URL``
replaces every entry's base address with a mirror (the tests point it at
127.0.0.1): a keras.applications file is looked for under its host's
sub-folder (``<mirror>/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5``,
so a copy of that bucket serves), every other file at the mirror's top
(``<mirror>/resnet50-0676ba61.pth``). The former ``KERAS_CONVNETS_PRETRAINED_URL``
still works, with a deprecation warning.

``converted(entry, path)`` reads the checkpoint (no PyTorch), converts it
and caches the result as ``<file stem>.keras_convnets.h5`` beside it (one
HDF5 group per Keras layer), written atomically.
"""

from __future__ import annotations

import hashlib
import os
import warnings

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


def file_digest(path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (``hashlib`` algorithm name), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path) -> str:
    return file_digest(path, "sha256")


def hash_matches(path, expected: str | None) -> bool:
    return expected is None or sha256_of(path).startswith(expected.lower())


MIRROR_VARIABLE = "KERAS_CONVNETS_WEIGHTS_URL"
_OLD_MIRROR_VARIABLE = "KERAS_CONVNETS_PRETRAINED_URL"


def mirror() -> str | None:
    """The mirror's base address (``KERAS_CONVNETS_WEIGHTS_URL``), or ``None``."""
    base = os.environ.get(MIRROR_VARIABLE)
    if not base and os.environ.get(_OLD_MIRROR_VARIABLE):
        warnings.warn(
            f"{_OLD_MIRROR_VARIABLE} is deprecated: set {MIRROR_VARIABLE} (one mirror for every "
            "weights file).",
            DeprecationWarning,
            stacklevel=3,
        )
        base = os.environ[_OLD_MIRROR_VARIABLE]
    return base.rstrip("/") + "/" if base else None


def url_of(entry, file_name: str | None = None) -> str:
    """Where ``entry``'s file (or its ``file_name`` sibling, e.g. the no-top file) is fetched."""
    file_name = file_name or entry.file_name
    base = mirror()
    if base:
        return f"{base}{entry.folder}{file_name}"
    return entry.url.rsplit("/", 1)[0] + "/" + file_name


def offline_message(what: str, url: str, file_name: str, cause, home_url=None) -> str:
    """The one sentence of a failed download: what, the URL, and where to put the file by hand.

    ``home_url``: the file's own address, when ``url`` was a mirror's.

    Example:
        >>> offline_message("resnet50", "https://x/r.h5", "r.h5", OSError("no route"))[:47]
        'Could not download resnet50 from https://x/r.h5'
    """
    text = str(cause).strip()
    reason = text.splitlines()[0] if text else type(cause).__name__
    return (
        f"Could not download {what} from {url} ({reason}). Without network, download "
        f"{home_url or url} "
        f"elsewhere and place it as {os.path.join(cache_folder(), file_name)}, or pass "
        f"weights='/path/to/{file_name}'."
    )


def md5_of(path) -> str:
    return file_digest(path, "md5")


def fetch_file(file_name: str, url: str, *, sha256=None, md5=None, what=None, home_url=None) -> str:
    """The one fetch: ``file_name`` in the cache, downloaded from ``url`` if it is not there.

    A cached file is reused when its hash matches (``sha256``: the full digest or
    its leading hex digits; or ``md5``), else fetched again. The download goes to
    a temporary name and is moved to ``file_name`` only after its hash matched,
    so neither a partial download nor a wrong file is ever cached. A failed
    download raises ``OSError`` with :func:`offline_message`; a wrong hash,
    ``ValueError`` (the file is deleted).
    """

    def matches(path):
        if sha256 is not None:
            return hash_matches(path, sha256)
        return md5 is None or md5_of(path) == md5.lower()

    folder = cache_folder()
    final = os.path.join(folder, file_name)
    if os.path.exists(final):
        if matches(final):
            return final
        os.remove(final)  # a stale or tampered file: fetched again below
    os.makedirs(folder, exist_ok=True)
    partial = f"{file_name}.partial"
    if os.path.exists(os.path.join(folder, partial)):
        os.remove(os.path.join(folder, partial))
    try:
        path = keras.utils.get_file(
            partial, url, cache_subdir="models", cache_dir=os.path.dirname(folder)
        )
    except Exception as err:  # get_file raises a bare Exception on URL errors
        message = offline_message(what or file_name, url, file_name, err, home_url)
        raise OSError(message) from None
    if not matches(path):
        found = sha256_of(path) if sha256 is not None else md5_of(path)
        kind = "SHA-256" if sha256 is not None else "MD5"
        os.remove(path)
        raise ValueError(
            f"The file downloaded for {what or file_name} from {url} does not match its pinned "
            f"hash ({kind} {found}, expected {sha256 or md5}); it was deleted, nothing was "
            "cached or loaded."
        )
    atomic.replace_path(path, final)  # the checked download takes its final name
    return final


def fetch(entry) -> str:
    """The checkpoint of a catalogue entry (:mod:`.sources`), through :func:`fetch_file`."""
    return fetch_file(
        entry.file_name, url_of(entry), sha256=entry.sha256, what=entry.id, home_url=entry.url
    )


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
