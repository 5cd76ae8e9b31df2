"""What every family's builder shares: argument checks, input, head, weights.

The public signature is the one of ``keras.applications``::

    include_top, weights, input_tensor, input_shape, pooling, classes,
    classifier_activation, name

Errors name the argument, the value received and what is allowed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from keras_convnets.models import _compat, pretrained
from keras_convnets.models import weights as weights_lib

POOLING_MODES = ("avg", "max", None)
# Values accepted where a whole number is meant: Python and NumPy integers, never bool.
_INTEGER_TYPES = (int, np.integer)

# tf_keras model -> (registry name, build kwargs): the legacy twins only live in
# this process. Keras 3 models carry theirs in their config (BuiltModel).
_BUILD_SPECS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
BUILD_CONFIG_KEY = "keras_convnets_build"


def _jsonable_spec(arch, kwargs):
    """``{"arch", "kwargs"}`` with JSON-safe values, or ``None`` (a callable activation)."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, tuple):
            value = list(value)
        if value is not None and not isinstance(value, (str, int, float, bool, list)):
            return None
        out[key] = value
    return {"arch": arch, "kwargs": out}


@keras.saving.register_keras_serializable(package="keras_convnets")
class BuiltModel(keras.Model):
    """A functional Keras 3 model that remembers its registry name and build arguments.

    They are part of ``get_config()``, so a model saved to ``.keras`` and loaded
    again (``safe_mode=True``) can still be twinned, exported or fine-tuned
    without being told its architecture.
    """

    def __init__(self, inputs, outputs, name=None, **kwargs):
        spec = kwargs.pop(BUILD_CONFIG_KEY, None)
        super().__init__(inputs, outputs, name=name, **kwargs)
        self._keras_convnets_build = spec

    def get_config(self):
        config = super().get_config()
        if self._keras_convnets_build is not None:
            config[BUILD_CONFIG_KEY] = self._keras_convnets_build
        return config


def build_spec(model):
    """The ``(registry_name, kwargs)`` a model was built with, or ``None``.

    Example:
        >>> import keras_convnets
        >>> from keras_convnets.models import _common
        >>> _common.build_spec(keras_convnets.ResNet20(classes=4))[1]["classes"]
        4
    """
    spec = getattr(model, "_keras_convnets_build", None)
    if spec is not None:
        kwargs = dict(spec["kwargs"])
        if kwargs.get("input_shape") is not None:
            kwargs["input_shape"] = tuple(kwargs["input_shape"])
        return spec["arch"], kwargs
    try:
        return _BUILD_SPECS.get(model)
    except TypeError:
        return None


@contextlib.contextmanager
def deep_recursion(limit: int = 20_000):
    """Keras maps a functional graph recursively: ResNet-1202 is ~4,000 layers deep."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def check_bool(name: str, value, *, allow_none: bool = False):
    """Raises ``ValueError`` unless ``value`` is a bool (or None when ``allow_none``).

    ``"no"`` or ``0`` are refused rather than read by truthiness: ``conv_bias="no"``
    would otherwise add biases.
    """
    if isinstance(value, bool) or (allow_none and value is None):
        return
    allowed = "True, False or None" if allow_none else "True or False"
    raise ValueError(f"`{name}` must be {allowed}. Received: {name}={value!r}")


def check_rate(name: str, value):
    """Raises ``ValueError`` unless ``value`` is None or a dropout rate in [0, 1)."""
    if value is None or (
        not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value < 1
    ):
        return
    raise ValueError(f"`{name}` must be None or a rate in [0, 1). Received: {name}={value!r}")


def is_integer(value) -> bool:
    """True for Python and NumPy integers, False for bool, float and anything else."""
    return isinstance(value, _INTEGER_TYPES) and not isinstance(value, (bool, np.bool_))


def check_common_args(
    *,
    arch: str,
    include_top: bool,
    weights,
    pooling,
    classes: int,
    classifier_activation,
    hosted: bool,
    name=None,
):
    """Validates the arguments every builder shares, before any layer is built."""
    check_bool("include_top", include_top)
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")
    if not (isinstance(pooling, str) or pooling is None) or pooling not in POOLING_MODES:
        raise ValueError(
            f"`pooling` must be one of 'avg', 'max' or None. Received: pooling={pooling!r}"
        )
    if include_top and pooling is not None:
        # keras.applications ignores it silently; the caller surely meant a headless model.
        raise ValueError(
            "`pooling` applies only with include_top=False (the classifier has its own "
            f"average pool). Received: include_top=True, pooling={pooling!r}"
        )
    if not is_integer(classes) or classes < 1:
        raise ValueError(f"`classes` must be an integer >= 1. Received: classes={classes!r}")
    if not (classifier_activation is None or isinstance(classifier_activation, str)) and not (
        callable(classifier_activation)
    ):
        raise ValueError(
            "`classifier_activation` must be None, an activation name or a callable. "
            f"Received: classifier_activation={classifier_activation!r}"
        )
    if weights is None:
        pass
    elif pretrained.is_source(weights):  # "torchvision", "timm:<tag>", a .pth/.safetensors file
        pretrained.check_args(
            arch,
            weights,
            include_top=include_top,
            classes=classes,
            classifier_activation=classifier_activation,
        )
    elif weights == "imagenet":
        if not hosted:
            converted = [e.id for e in pretrained.sources.entries(arch=arch)]
            raise ValueError(
                f"`weights='imagenet'` is not available for {arch}: ImageNet weights are hosted "
                f"for {', '.join(weights_lib.hosted_models())} only. Received: weights='imagenet'. "
                + (
                    f"Converted ImageNet weights for {arch}: {', '.join(converted)}. "
                    if converted
                    else ""
                )
                + "Pass weights=None or the path to a weights file."
            )
        if include_top and classes != 1000:
            raise ValueError(
                "With `weights='imagenet'` and `include_top=True`, `classes` must be 1000. "
                f"Received: classes={classes}"
            )
        if include_top and classifier_activation not in ("softmax", None):
            raise ValueError(
                "With `weights='imagenet'`, `classifier_activation` must be 'softmax' or None. "
                f"Received: classifier_activation={classifier_activation!r}"
            )
    elif isinstance(weights, (str, os.PathLike)):
        if not os.path.exists(weights):
            raise ValueError(
                "`weights` must be None, 'imagenet' or the path to an existing weights file. "
                f"Received: weights={os.fspath(weights)!r}, which does not exist."
            )
    else:
        raise ValueError(
            "`weights` must be None, 'imagenet' or the path to a weights file. "
            f"Received: weights={weights!r}"
        )


def resolve_input_shape(
    *,
    input_shape,
    input_tensor,
    default_shape: Sequence[int],
    min_size: int,
    include_top: bool,
    weights,
    api: _compat.KerasAPI,
    arch: str,
    fixed_with_top: bool = False,
    min_reason: str = "",
):
    """Returns ``(height, width, channels)`` after checking rank and minimum size.

    ``fixed_with_top``: with ImageNet weights and the classifier, the input must
    be the default shape (as keras.applications requires).
    """
    if api.image_data_format() != "channels_last":
        raise ValueError(
            "keras_convnets builds channels_last models only. Received: "
            f"image_data_format={api.image_data_format()!r}; call "
            "keras.config.set_image_data_format('channels_last')."
        )
    if input_tensor is not None:
        input_shape = _shape_from_tensor(input_tensor, input_shape)
    if input_shape is None:
        input_shape = tuple(default_shape)
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise ValueError(
            "`input_shape` must be a tuple (height, width, channels) of integers. "
            f"Received: input_shape={input_shape!r}"
        )
    if not all(d is None or is_integer(d) for d in input_shape):
        # int(32.7) would silently build a 32x32 model.
        raise ValueError(
            "`input_shape` must hold integers (or None for a variable size). "
            f"Received: input_shape={tuple(input_shape)!r}"
        )
    input_shape = tuple(None if d is None else int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must have rank 3: (height, width, channels). "
            f"Received: input_shape={input_shape}"
        )
    height, width, channels = input_shape
    if channels is None or channels < 1:
        raise ValueError(
            f"`input_shape` must give a known number of channels >= 1. "
            f"Received: input_shape={input_shape}"
        )
    for size in (height, width):
        if size is not None and size < min_size:
            why = f" ({min_reason})" if min_reason else ""
            raise ValueError(
                f"`input_shape` is too small for {arch}: height and width must be at least "
                f"{min_size}{why}. Received: input_shape={input_shape}"
            )
    if weights == "imagenet":
        if channels != default_shape[2]:
            raise ValueError(
                f"ImageNet weights take {default_shape[2]}-channel inputs. "
                f"Received: input_shape={input_shape}"
            )
        if include_top and fixed_with_top and input_shape != tuple(default_shape):
            raise ValueError(
                "With `weights='imagenet'` and `include_top=True`, `input_shape` must be "
                f"{tuple(default_shape)}. Received: input_shape={input_shape}"
            )
    return input_shape


def _shape_from_tensor(input_tensor, input_shape):
    """The shape ``input_tensor`` gives, checked against an explicit ``input_shape``."""
    shape = getattr(input_tensor, "shape", None)
    if shape is None:
        raise ValueError(
            "`input_tensor` must be a Keras tensor such as keras.Input((32, 32, 3)). "
            f"Received: input_tensor={input_tensor!r}"
        )
    shape = tuple(None if d is None else int(d) for d in shape)
    tensor_shape = shape[1:] if len(shape) == 4 else shape
    if input_shape is None:
        return tensor_shape
    if isinstance(input_shape, Sequence) and tuple(input_shape) == tensor_shape:
        return input_shape
    raise ValueError(
        "`input_shape` contradicts `input_tensor`: pass one of them, or the same shape. "
        f"Received: input_shape={input_shape!r}, input_tensor of shape {shape}"
    )


def make_input(api: _compat.KerasAPI, input_shape, input_tensor):
    """The model's input layer, wrapping ``input_tensor`` when one is given."""
    if input_tensor is None:
        return api.Input(shape=input_shape, name="input_layer")
    if not api.is_keras_tensor(input_tensor):
        return api.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def classifier_top(api, x, *, include_top, pooling, classes, classifier_activation, dropout=None):
    """Global pooling and the classifier, named as keras.applications names them."""
    layers = api.layers
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def finish_model(
    api,
    *,
    arch,
    img_input,
    input_tensor,
    outputs,
    include_top,
    weights,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    **options,
):
    """Creates the model, records how it was built and loads its weights.

    ``options`` are the family's keyword-only arguments (``shortcut``,
    ``aux_logits`` ...); with the ``keras.applications`` ones they are the
    build spec that :func:`build_spec` returns and the ``tf_keras`` twin is
    rebuilt from.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")
    spec_kwargs = dict(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        **options,
    )
    inputs = api.get_source_inputs(input_tensor) if input_tensor is not None else img_input
    with deep_recursion():
        if api.is_keras3:
            spec = _jsonable_spec(arch, spec_kwargs)
            model = BuiltModel(inputs, outputs, name=name, **{BUILD_CONFIG_KEY: spec})
        else:
            model = api.Model(inputs, outputs, name=name)
    if not api.is_keras3 or spec is None:
        _BUILD_SPECS[model] = (arch, dict(spec_kwargs))
    if weights == "imagenet":
        path = weights_lib.fetch_imagenet_weights(arch, include_top=include_top)
        weights_lib.load_weights_checked(model, path)
    elif pretrained.is_source(weights):
        pretrained.load_into(model, arch, weights, include_top=include_top)
    elif weights is not None:
        weights_lib.load_weights_checked(model, weights)
    return model


@dataclass(frozen=True)
class InputRule:
    """A family's input: default shape, smallest height/width and why."""

    default_shape: tuple[int, int, int]
    min_size: int
    min_reason: str = ""
    fixed_with_top: bool = True  # ImageNet weights with the classifier need the default shape


Head = Callable[..., object]


def build_application(
    arch: str,
    *,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    input_rule: InputRule,
    features: Callable,
    head: Head | None = None,
    checks: Sequence[Callable[[], None]] = (),
    check_input: Callable[[tuple], None] | None = None,
    options: dict | None = None,
):
    """The one builder template every family's public builders go through.

    In the order keras.applications' ``ResNet(stack_fn, ...)`` follows: the
    keras.applications arguments are checked (then the family's ``checks``),
    the input is resolved against ``input_rule`` (then ``check_input(shape)``),
    ``features(api, img_input, input_shape)`` builds the network body,
    ``head(api, body, include_top=, pooling=, classes=, classifier_activation=)``
    the top (default :func:`classifier_top`), and :func:`finish_model` creates
    the model, records its build spec (with the family's ``options``) and
    loads ``weights``. Nothing is built before every argument has been checked.
    """
    check_common_args(
        arch=arch,
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        hosted=arch in weights_lib.hosted_models(),
        name=name,
    )
    for check in checks:
        check()
    api = _compat.current()
    input_shape = resolve_input_shape(
        input_shape=input_shape,
        input_tensor=input_tensor,
        default_shape=input_rule.default_shape,
        min_size=input_rule.min_size,
        include_top=include_top,
        weights=weights,
        api=api,
        arch=arch,
        fixed_with_top=input_rule.fixed_with_top,
        min_reason=input_rule.min_reason,
    )
    if check_input is not None:
        check_input(input_shape)
    img_input = make_input(api, input_shape, input_tensor)
    body = features(api, img_input, input_shape)
    head_args = dict(
        include_top=include_top,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )
    outputs = (head or classifier_top)(api, body, **head_args)
    return finish_model(
        api,
        arch=arch,
        img_input=img_input,
        input_tensor=input_tensor,
        outputs=outputs,
        weights=weights,
        input_shape=input_shape,
        name=name,
        **head_args,
        **(options or {}),
    )
