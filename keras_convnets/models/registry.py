"""The model registry: every network by name, with metadata checked by the tests.

``list_models("resnet*")``, ``get_model("resnet50", classes=10)`` and
``model_info("resnet50")``. The figures in each :class:`ModelInfo` (parameters,
multiply-adds at the default input) are written here as literals, and
``tests/test_registry.py`` rebuilds every model and recomputes them, so the
documentation cannot drift from the code.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    builder: Callable
    paper: str
    input_shape: tuple
    classes: int
    preprocessing: str  # keras.applications mode: "caffe", "tf" or "torch"
    params: int  # all parameters at the default configuration
    trainable_params: int
    macs: int  # multiply-adds of the default configuration, main path
    paper_macs: float | None = None  # what the paper prints
    paper_params: float | None = None
    hosted_weights: bool = False
    overrides: dict = field(default_factory=dict)  # fixed builder kwargs (residual=False, ...)
    outputs: tuple = ("predictions",)
    loss_weights: dict | None = None
    min_input_size: int = 32
    notes: str = ""
    paper_rows: dict | None = None  # per-block printed figures for the cost report
    paper_error: dict | None = None  # the paper's test error (%) by dataset, e.g. {"cifar10": 6.37}

    @property
    def weights(self) -> tuple:
        """The pretrained weights this model takes, directly or through its ``*_torch`` variant.

        Each :class:`keras_convnets.models.pretrained.WeightsEntry` gives the source
        (keras.applications, torchvision, timm), tag, licence, published
        top-1/top-5 with its resolution and crop, the preprocessing and the
        ``variant`` (registered name) it loads into.
        """
        from keras_convnets.models import pretrained

        return pretrained.entries_for(self.name)

    def build(self, **overrides: Any):
        kwargs = dict(self.overrides)
        for key, value in overrides.items():
            # The fixed arguments define the model (plain20 is residual=False): a
            # contradicting override would build another network under this name.
            if key in self.overrides and key != "name" and value != self.overrides[key]:
                raise ValueError(
                    f"Model {self.name!r} is defined with {key}={self.overrides[key]!r}; it "
                    f"cannot be built with {key}={value!r}. Received: {key}={value!r}"
                )
        kwargs.update(overrides)
        return self.builder(**kwargs)


_REGISTRY: dict[str, ModelInfo] = {}


def register(info: ModelInfo) -> ModelInfo:
    """Adds ``info`` to the registry; a name can be registered once (``ValueError``)."""
    if info.name in _REGISTRY:
        raise ValueError(f"Model {info.name!r} is already registered.")
    _REGISTRY[info.name] = info
    return info


def register_model(name: str, **fields: Any) -> Callable[[Callable], Callable]:
    """Decorator: registers the function below it as the builder of ``name``.

    ``fields`` are the other :class:`ModelInfo` fields. Stacked decorators
    register variants built by the same function (``overrides={"residual": False}``).
    A name already registered raises ``ValueError``; the function is returned unchanged.
    """

    def decorate(builder: Callable) -> Callable:
        register(ModelInfo(name=name, builder=builder, **fields))
        return builder

    return decorate


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted, optionally filtered by a shell pattern.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.list_models("resnet1*")
        ['resnet101', 'resnet101_torch', 'resnet110', 'resnet1202', 'resnet152', \
'resnet152_torch', 'resnet18', 'resnet18_torch']
    """
    if pattern is not None and not isinstance(pattern, str):
        raise TypeError(
            f"`pattern` must be a shell pattern string such as 'resnet*', or None. "
            f"Received: pattern={pattern!r}"
        )
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern.lower())]
    return names


def model_info(name: str) -> ModelInfo:
    """The metadata of a registered model."""
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a registry name (a string). Received: name={name!r}")
    key = name.lower()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Registered models: {', '.join(list_models())}"
        )
    return _REGISTRY[key]


def get_model(name: str, /, **overrides: Any):
    """Builds a registered model; keyword arguments override the builder's defaults.

    ``name`` is positional-only, so ``name=`` is the builder's own (the model's name).

    Example:
        >>> import keras_convnets
        >>> keras_convnets.get_model("resnet20", classes=100).output_shape
        (None, 100)
    """
    return model_info(name).build(**overrides)


def _paper_figure(value, unit, suffix):
    return "-" if value is None else f"{value / unit:g}{suffix}"


def markdown_table(pattern: str | None = None) -> str:
    """The README's model table, generated from the registry metadata."""
    lines = [
        "| model | family | input | params | multiply-adds | paper | preprocessing "
        "| ImageNet weights |",
        "| --- | --- | --- | ---: | ---: | --- | --- | --- |",
    ]
    for name in list_models(pattern):
        info = _REGISTRY[name]
        paper = []
        if info.paper_params is not None:
            paper.append(_paper_figure(info.paper_params, 1e6, "M params"))
        if info.paper_macs is not None:
            paper.append(_paper_figure(info.paper_macs, 1e9, "G mult-adds"))
        shape = "x".join(str(d) for d in info.input_shape)
        lines.append(
            f"| `{name}` | {info.family} | {shape} | {info.params:,} | "
            f"{info.macs / 1e9:.3f} G | {', '.join(paper) or '-'} | {info.preprocessing} | "
            f"{_weights_cell(info)} |"
        )
    return "\n".join(lines)


def _weights_cell(info: ModelInfo) -> str:
    cell = []
    for e in info.weights:
        if e.source == "keras.applications":
            cell.append(f"`imagenet` (keras.applications, {e.top1:.1f}%)")
        elif e.variant == info.name:
            cell.append(f"{e.source}:{e.tag} ({e.top1:.2f}%)")
    variants = sorted({e.variant for e in info.weights} - {info.name})
    cell += [f"torchvision/timm: see `{v}`" for v in variants]
    return "<br>".join(cell) or "-"
