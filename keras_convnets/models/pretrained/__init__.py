"""Pretrained ImageNet weights converted from torchvision and timm, without PyTorch.

``weights=`` of the ResNet (and torchvision-GoogLeNet) builders accepts:

* ``"torchvision"`` / ``"timm"``: that source's default weights for the
  network (torchvision's ``DEFAULT``: ``IMAGENET1K_V2`` where published);
* ``"torchvision:IMAGENET1K_V2"``, ``"timm:resnet50.a1_in1k"``: one tag;
* a local ``.pth`` / ``.safetensors`` / ``.bin`` file with a torchvision or
  timm state dict of the same network.

The checkpoint is downloaded into the Keras cache and checked by hash
(:mod:`~keras_convnets.models.pretrained.download`), read without PyTorch
(:mod:`~keras_convnets.models.pretrained.readers`: safetensors' NumPy API, or a
restricted unpickler that refuses any code), converted by layer name
(:mod:`~keras_convnets.models.pretrained.convert`) and cached converted. The
weights need the PyTorch-layout variant of the network (``style="torch"``
for the ResNets, registered as ``resnet50_torch`` ...), which the builders
select when ``weights`` names such a source.
:data:`~keras_convnets.models.pretrained.sources.SOURCES` lists every entry with
its licence, published accuracy and preprocessing;
``keras_convnets.model_info(name).weights`` gives those of one model.

Example:
    >>> from keras_convnets.models import pretrained
    >>> pretrained.is_source("timm:resnet50.a1_in1k"), pretrained.is_source("imagenet")
    (True, False)
"""

from __future__ import annotations

import os

from keras_convnets.models.pretrained import convert, download, readers, sources
from keras_convnets.models.pretrained.sources import SOURCES, WeightsEntry

SOURCE_NAMES = (sources.TORCHVISION, sources.TIMM)
FAMILY_OF_ARCH = {
    **{f"resnet{d}": "resnet" for d in (18, 34, 50, 101, 152)},
    "googlenet": "googlenet",
    "inception_v3": "inception_v3",
    "inception_v4": "inception_v4",
    "inception_resnet_v2": "inception_resnet_v2",
}


def is_source(weights) -> bool:
    """Whether ``weights`` names a torchvision/timm source or a PyTorch checkpoint file."""
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        return False
    if weights in SOURCE_NAMES or weights.startswith(tuple(f"{s}:" for s in SOURCE_NAMES)):
        return True
    return weights.endswith(readers.STATE_DICT_SUFFIXES)


STYLES = ("paper", "torch")


def resolve_style(style, weights) -> str:
    """A builder's ``style``: ``None`` becomes ``"torch"`` for torchvision/timm weights.

    ``"paper"`` is the published architecture (the default); ``"torch"`` the
    layout of torchvision's (and timm's) model, which their weights need.
    """
    torch_weights = is_source(weights)
    if style is None:
        return "torch" if torch_weights else "paper"
    if style not in STYLES:
        raise ValueError(f"`style` must be 'paper' or 'torch'. Received: style={style!r}")
    if torch_weights and style != "torch":
        raise ValueError(
            f"`weights={os.fspath(weights)!r}` need style='torch' (the torchvision/timm "
            f"architecture). Received: style={style!r}"
        )
    return style


def resolve(arch: str, weights) -> WeightsEntry | str:
    """The :class:`WeightsEntry` ``weights`` names for ``arch``, or the local file's path."""
    weights = os.fspath(weights)
    if arch not in FAMILY_OF_ARCH:
        known = ", ".join(sorted(FAMILY_OF_ARCH))
        raise ValueError(
            f"`weights={weights!r}` (torchvision/timm) is not available for {arch}; converted "
            f"PyTorch weights exist for {known}."
        )
    source, _, tag = weights.partition(":")
    if source in SOURCE_NAMES:
        return sources.lookup(arch, source, tag or None)
    if not os.path.isfile(weights):
        raise ValueError(
            f"`weights` file {weights!r} does not exist. Received: weights={weights!r}"
        )
    return weights


def check_args(arch, weights, *, include_top, classes, classifier_activation):
    """Validates a torchvision/timm ``weights`` value before anything is built."""
    resolve(arch, weights)
    if include_top and classes != 1000:
        raise ValueError(
            f"With `weights={os.fspath(weights)!r}` and `include_top=True`, `classes` must be "
            f"1000. Received: classes={classes}"
        )
    if include_top and classifier_activation not in ("softmax", None):
        raise ValueError(
            f"With `weights={os.fspath(weights)!r}`, `classifier_activation` must be 'softmax' "
            f"or None. Received: classifier_activation={classifier_activation!r}"
        )


def arrays_for(arch: str, weights) -> tuple[dict, str]:
    """``({keras layer: [arrays]}, description)``: downloaded/cached or read from a file."""
    resolved = resolve(arch, weights)
    if isinstance(resolved, WeightsEntry):
        path = download.fetch(resolved)
        return download.converted(resolved, path), f"Weights {resolved.id}"
    state_dict = readers.read_state_dict(resolved)
    return convert.to_keras(state_dict, FAMILY_OF_ARCH[arch]), f"Weights file {resolved!r}"


def load_into(model, arch: str, weights, *, include_top: bool):
    """Loads torchvision/timm ``weights`` into ``model`` (built as the matching variant)."""
    arrays, what = arrays_for(arch, weights)
    return convert.assign(model, arrays, include_top=include_top, what=what)


def conversion_target(source: str, *, model: str | None = None) -> tuple[str, str]:
    """``(variant, weights source)`` for converting ``source`` once into a Keras file.

    ``source`` is a full id (``"timm:resnet50.a1_in1k"``,
    ``"torchvision:resnet50.IMAGENET1K_V2"``), or, with ``model`` (a registered
    name such as ``"resnet50_torch"``), ``"torchvision[:TAG]"``, ``"timm[:TAG]"``
    or a local ``.pth``/``.safetensors`` file. ``python -m keras_convnets
    convert`` builds ``get_model(variant, weights=source)`` and saves its weights.
    """
    if model is None:
        if source.endswith(readers.STATE_DICT_SUFFIXES) or source in SOURCE_NAMES:
            raise ValueError(f"Converting {source!r} needs --model (e.g. resnet50_torch).")
        entry = sources.find_by_id(source)
        return entry.variant, f"{entry.source}:{entry.tag}"
    return model, source


def entry_for_model(weights, model: str) -> WeightsEntry | None:
    """The entry torchvision/timm ``weights`` name for the registered ``model`` (``None``: other
    weights, e.g. ``"imagenet"`` or a Keras file).

    ``"torchvision"``, ``"timm:resnet50.a1_in1k"``, or a local ``.pth``/``.safetensors`` file
    (taken to have the layout and transform of ``model``'s default converted weights). Raises
    ``ValueError`` naming what ``model`` can take when it has no such weights.
    """
    if weights is None or not is_source(weights):
        return None
    weights = os.fspath(weights)
    entries = [e for e in entries_for(model) if e.source in SOURCE_NAMES]
    if not entries:
        raise ValueError(
            f"`weights`={weights!r}: model {model!r} has no torchvision/timm weights; converted "
            f"weights exist for {', '.join(sorted(FAMILY_OF_ARCH))} (and their *_torch "
            f"variants). Received: model={model!r}"
        )
    source, _, tag = weights.partition(":")
    if source in SOURCE_NAMES:
        return sources.lookup(entries[0].arch, source, tag or None)
    if not os.path.isfile(weights):
        raise ValueError(
            f"`weights` file {weights!r} does not exist. Received: weights={weights!r}"
        )
    return next((e for e in entries if e.default), entries[0])


def entries_for(name: str) -> tuple[WeightsEntry, ...]:
    """The weights a registered model can take: keras.applications' ``"imagenet"`` file
    (the paper-style model), and the converted torchvision/timm ones, whose ``variant``
    (``resnet50_torch`` ...) is the model they load into."""
    if name.endswith("_torch"):
        return tuple(sources.entries(variant=name))
    return tuple(sources.entries(arch=name))


__all__ = [
    "SOURCES",
    "WeightsEntry",
    "arrays_for",
    "check_args",
    "convert",
    "conversion_target",
    "download",
    "entries_for",
    "entry_for_model",
    "is_source",
    "load_into",
    "readers",
    "resolve",
    "resolve_style",
    "sources",
]
