"""What a builder needs from "the Keras it builds with": Keras 3 or legacy tf_keras.

The public builders build Keras 3 models and know nothing of tf_keras: they ask
:func:`current` for the API to build with. Inside :func:`building_with`
``(tf_keras)`` the same architecture code produces the model's legacy-Keras
twin instead. tensorflow-model-optimization's quantization-aware training only
accepts tf_keras models, so the twin (:func:`keras_convnets.models.twin.tf_keras_twin`,
the only caller) is what the export path quantizes.

Only this module and :mod:`keras_convnets.models.layers` know how the two differ.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import keras


@dataclass(frozen=True)
class KerasAPI:
    """The handful of entry points a builder uses, resolved for one Keras."""

    module: ModuleType
    layers: Any
    Model: Any
    Input: Any
    custom: Any  # namespace of this package's custom layers for that Keras
    is_keras3: bool

    def image_data_format(self) -> str:
        return self.module.backend.image_data_format()

    def is_keras_tensor(self, x) -> bool:
        return self.module.backend.is_keras_tensor(x)

    def get_source_inputs(self, tensor):
        return self.module.utils.get_source_inputs(tensor)


# The API of the Keras the builders in this context build with (None: Keras 3).
_BUILDING_WITH: contextvars.ContextVar = contextvars.ContextVar(
    "keras_convnets_building_with", default=None
)


def current() -> KerasAPI:
    """The API of the Keras being built with: Keras 3 unless inside :func:`building_with`."""
    api = _BUILDING_WITH.get()
    return _keras3() if api is None else api


@contextlib.contextmanager
def building_with(keras_module) -> Iterator[KerasAPI]:
    """Builders called inside build with ``keras_module`` (``None``, ``keras`` or ``tf_keras``).

    Raises ``ValueError`` (naming ``keras_module``) for anything else when
    entered. Yields the resolved :class:`KerasAPI`. Only the tf_keras twin
    (:func:`keras_convnets.models.twin.tf_keras_twin`) needs it.

    Example:
        >>> import keras_convnets
        >>> from keras_convnets.models import _compat
        >>> with _compat.building_with(None):
        ...     keras_convnets.ResNet20().name
        'resnet20'
    """
    api = resolve(keras_module)
    token = _BUILDING_WITH.set(api)
    try:
        yield api
    finally:
        _BUILDING_WITH.reset(token)


def resolve(keras_module=None) -> KerasAPI:
    """Returns the API of ``keras_module`` (``None`` or ``keras``: Keras 3; ``tf_keras``)."""
    if keras_module is None or keras_module is keras:
        return _keras3()
    name = getattr(keras_module, "__name__", repr(keras_module))
    if name in ("tf_keras", "tf_keras.api._v2.keras") or name.startswith("tf_keras"):
        return _tf_keras()
    if name == "keras" and getattr(keras_module, "__version__", "3").startswith("3"):
        return _keras3()
    raise ValueError(
        f"`keras_module` must be None, the `keras` (3.x) module or the `tf_keras` module. "
        f"Received: keras_module={name!r}"
    )


@functools.cache
def _keras3() -> KerasAPI:
    from keras_convnets.models import layers as custom

    return KerasAPI(keras, keras.layers, keras.Model, keras.Input, custom, True)


@functools.cache
def _tf_keras() -> KerasAPI:
    import tf_keras

    from keras_convnets.models.layers import tf_keras_layers

    return KerasAPI(
        tf_keras, tf_keras.layers, tf_keras.Model, tf_keras.Input, tf_keras_layers(), False
    )
