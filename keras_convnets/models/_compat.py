"""What a builder needs from "the Keras it builds with": Keras 3 or legacy tf_keras.

Every builder in this package takes a keyword-only ``keras_module`` so that the
same architecture code produces either a Keras 3 model (the default) or its
legacy-Keras twin. tensorflow-model-optimization's quantization-aware training
only accepts tf_keras models, so the twin is what the export path quantizes.

Only this module and :mod:`keras_convnets.models.layers` know how the two differ.
"""

from __future__ import annotations

import functools
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
