"""Pretrained weights: the files keras.applications hosts, and checked loading.

``weights="imagenet"`` fetches the very files (same names, same MD5 hashes)
that ``keras.applications`` downloads; they are entries of the one catalogue
(:mod:`.pretrained.sources`) and come through the one fetch
(:mod:`.pretrained.download`), which refuses a file whose hash differs. The
base address can be redirected to a mirror with the ``KERAS_CONVNETS_WEIGHTS_URL``
environment variable (the tests point it at a server on 127.0.0.1), and the
cache folder (default: Keras's, ``~/.keras``) with ``KERAS_CONVNETS_CACHE_DIR``.

:func:`load_weights_checked` compares a weights file with the model, layer by
layer, *before* assigning anything, and names the first layer whose variables
differ. If loading still fails, the model's previous weights are restored.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile

import h5py
import keras

WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")


def hosted_models() -> list[str]:
    """Registry names whose ImageNet weights are hosted (the catalogue's keras.applications
    entries, :data:`.pretrained.sources.KERAS_WEIGHTS`)."""
    from keras_convnets.models.pretrained import sources

    return sorted(e.arch for e in sources.KERAS_WEIGHTS)


def _hosted_entry(arch: str):
    from keras_convnets.models.pretrained import sources

    entry = sources.keras_entry(arch)
    if entry is None:
        raise ValueError(
            f"No ImageNet weights are hosted for {arch!r}; they are for "
            f"{', '.join(hosted_models())}."
        )
    return entry


def weights_url(arch: str, include_top: bool) -> tuple[str, str, str]:
    """``(file name, URL, md5)`` of the hosted ImageNet weights of ``arch`` (mirror applied)."""
    from keras_convnets.models.pretrained import download

    entry = _hosted_entry(arch)
    file_name, _, md5 = entry.hosted_file(include_top)
    return file_name, download.url_of(entry, file_name), md5


def fetch_imagenet_weights(arch: str, *, include_top: bool) -> str:
    """The hosted file in the cache (downloaded if needed), MD5-checked: the one fetch,
    :func:`.pretrained.download.fetch_file`."""
    from keras_convnets.models.pretrained import download

    entry = _hosted_entry(arch)
    file_name, home, md5 = entry.hosted_file(include_top)
    url = download.url_of(entry, file_name)
    return download.fetch_file(file_name, url, md5=md5, home_url=home)


def _snake_case(name: str) -> str:
    # The naming keras.saving uses for the groups of a `.weights.h5` file.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _shape(variable) -> tuple:
    return tuple(int(d) for d in variable.shape)


def _mismatch(path, model, layer, file_name, expected, found):
    return ValueError(
        f"Weights file {os.fspath(path)!r} does not match model {model.name!r}: "
        f"layer {layer.name!r} (stored as {file_name!r}) has variables of shapes {expected}, "
        f"the file has {found}. Nothing was loaded."
    )


def _check_keras3_file(model, path):
    with h5py.File(path, "r") as f:
        if "layers" not in f:
            raise ValueError(
                f"Weights file {os.fspath(path)!r} has no 'layers' group: it is not a Keras "
                "`.weights.h5` file. Nothing was loaded."
            )
        group = f["layers"]
        used: dict[str, int] = {}
        missing: list[str] = []
        for layer in model.layers:
            base = _snake_case(type(layer).__name__)
            if base in used:
                used[base] += 1
                key = f"{base}_{used[base]}"
            else:
                used[base] = 0
                key = base
            expected = [_shape(v) for v in layer.weights]
            if key not in group:
                if expected:
                    raise _mismatch(path, model, layer, f"layers/{key}", expected, "nothing")
                if type(layer).__name__ in _MERGE_LAYERS:
                    missing.append(layer.name)
                continue
            stored = group[key].get("vars")
            found = [tuple(stored[str(i)].shape) for i in range(len(stored))] if stored else []
            if found != expected:
                raise _mismatch(path, model, layer, f"layers/{key}", expected, found)
        if len(used) and sum(c + 1 for c in used.values()) < len(group):
            extra = len(group) - sum(c + 1 for c in used.values())
            raise ValueError(
                f"Weights file {os.fspath(path)!r} holds {extra} layer(s) more than model "
                f"{model.name!r} has. Nothing was loaded."
            )
    _warn_other_architecture(path, model, missing)


# Weightless layers that make the architecture (residual additions, branch concatenations):
# missing from a file with matching variable shapes, they reveal another network.
_MERGE_LAYERS = ("Add", "Concatenate", "Multiply", "Subtract", "Average", "Maximum", "Minimum")


def _warn_other_architecture(path, model, missing):
    # Same variable shapes, other network: plain-20 weights fit ResNet-20 exactly,
    # but the file has none of its weightless `Add` layers.
    if missing:
        warnings.warn(
            f"Weights file {os.fspath(path)!r} was saved from another architecture than model "
            f"{model.name!r}: its layers {missing[:3]} (of {len(missing)}) are absent from the "
            "file (e.g. a plain network's weights loaded into a residual one). Loading anyway: "
            "the variable shapes match.",
            stacklevel=3,
        )


def _check_keras_archive(model, path):
    """The layer names in a ``.keras`` archive's config against ``model``'s."""
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"`weights` file {os.fspath(path)!r} is not a valid `.keras` archive (truncated or "
            "corrupt?). Nothing was loaded."
        )
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    stored = {layer.get("name") for layer in config.get("config", {}).get("layers", [])}
    ours = [layer.name for layer in model.layers if type(layer).__name__ in _MERGE_LAYERS]
    if stored:
        _warn_other_architecture(path, model, [n for n in ours if n not in stored])


def _check_legacy_file(model, path):
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise ValueError(
                f"Weights file {os.fspath(path)!r} is neither a Keras `.weights.h5` file nor a "
                "legacy Keras 2 HDF5 weights file. Nothing was loaded."
            )
        names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs["layer_names"]]
        merges = [ly.name for ly in model.layers if type(ly).__name__ in _MERGE_LAYERS]
        missing = [n for n in merges if n not in set(names)]
        stored = []
        for name in names:
            weight_names = root[name].attrs.get("weight_names", [])
            weight_names = [w.decode() if isinstance(w, bytes) else w for w in weight_names]
            if weight_names:
                stored.append((name, [tuple(root[name][w].shape) for w in weight_names]))
        ours = [layer for layer in model.layers if layer.weights]
        # Pairs first, so that a file of another depth is reported at the first
        # layer that differs (which layer, which shapes), not only by its length.
        for layer, (file_layer, found) in zip(ours, stored):
            expected = [_shape(v) for v in layer.trainable_weights + layer.non_trainable_weights]
            if expected != found:
                raise _mismatch(path, model, layer, file_layer, expected, found)
        if len(stored) != len(ours):
            first = (
                f"the model's layer {ours[len(stored)].name!r} has no counterpart"
                if len(ours) > len(stored)
                else f"the file's layer {stored[len(ours)][0]!r} has no counterpart"
            )
            raise ValueError(
                f"Weights file {os.fspath(path)!r} holds {len(stored)} layers with weights, "
                f"model {model.name!r} has {len(ours)}: {first}. Nothing was loaded."
            )
    _warn_other_architecture(path, model, missing)


def load_weights_checked(model, path):
    """Loads ``path`` into ``model`` after checking every layer's variable shapes.

    Accepts Keras 3 ``.weights.h5`` files, legacy Keras 2 ``.h5`` files (such as
    the hosted keras.applications files; matched in layer order, as Keras does)
    and ``.keras`` archives. Raises ``ValueError`` naming the first layer that
    differs; on any failure the model keeps the weights it had.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"`weights` file {path!r} does not exist.")
    if not path.endswith(WEIGHT_SUFFIXES):
        raise ValueError(
            f"`weights` must be a file ending in {', '.join(WEIGHT_SUFFIXES)}. Received: {path!r}"
        )
    is_keras3_model = isinstance(model, keras.Model)
    try:
        if path.endswith(".weights.h5") and is_keras3_model:
            _check_keras3_file(model, path)
        elif path.endswith(".h5") and not path.endswith(".weights.h5"):
            _check_legacy_file(model, path)
        elif path.endswith(".keras"):
            _check_keras_archive(model, path)
    except (OSError, KeyError, json.JSONDecodeError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"`weights` file {path!r} cannot be read (truncated or corrupt?): {err}. "
            "Nothing was loaded."
        ) from None
    before = model.get_weights()
    try:
        model.load_weights(path)
    except Exception as err:
        model.set_weights(before)
        raise ValueError(
            f"Loading weights file {path!r} into model {model.name!r} failed; the model keeps "
            f"the weights it had. Cause: {err}"
        ) from err
    return model
