"""PyTorch state dicts (torchvision / timm names) to Keras layer weights, by layer name.

A state dict is grouped by module (``layer1.0.conv1``); each family maps a
module path to the Keras layer name (``conv2_block1_1_conv``), and each
module's tensors are converted by kind:

* convolution ``weight (out, in, kh, kw)`` -> kernel ``(kh, kw, in, out)``;
* linear ``weight (out, in)`` -> kernel ``(in, out)``;
* batch norm ``weight, bias, running_mean, running_var`` -> Keras' ``gamma,
  beta, moving_mean, moving_variance`` (``num_batches_tracked`` is dropped).

:func:`assign` checks every variable of the model against the converted
arrays *before* setting any, and names the first layer that differs.
"""

from __future__ import annotations

import re

import numpy as np

_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _resnet(module: str) -> str | None:
    fixed = {"conv1": "conv1_conv", "bn1": "conv1_bn", "fc": "predictions"}
    if module in fixed:
        return fixed[module]
    m = re.fullmatch(r"layer(\d)\.(\d+)\.(conv|bn)(\d)", module)
    if m:
        stage, block, kind, j = m.groups()
        return f"conv{int(stage) + 1}_block{int(block) + 1}_{j}_{kind}"
    m = re.fullmatch(r"layer(\d)\.(\d+)\.downsample\.([01])", module)
    if m:
        stage, block, index = m.groups()
        return f"conv{int(stage) + 1}_block{int(block) + 1}_0_{'conv' if index == '0' else 'bn'}"
    return None


# torchvision GoogLeNet branch -> our Caffe-style names (branch3's "5x5" is a 3x3 there).
_GOOGLENET_BRANCHES = {
    "branch1": "1x1",
    "branch2.0": "3x3_reduce",
    "branch2.1": "3x3",
    "branch3.0": "5x5_reduce",
    "branch3.1": "5x5",
    "branch4.1": "pool_proj",
}


def _googlenet(module: str) -> str | None:
    fixed = {"conv1": "conv1_7x7_s2", "conv2": "conv2_3x3_reduce", "conv3": "conv2_3x3"}
    fixed.update({"fc": "predictions", "aux1.fc1": "aux1_fc", "aux1.fc2": "aux1"})
    fixed.update({"aux2.fc1": "aux2_fc", "aux2.fc2": "aux2"})
    m = re.fullmatch(r"(.*)\.(conv|bn)", module)
    base, suffix = (m.group(1), "" if m.group(2) == "conv" else "_bn") if m else (module, "")
    if base in fixed:
        return fixed[base] + suffix
    if base in ("aux1.conv", "aux2.conv"):
        return base.replace(".", "_") + suffix
    m = re.fullmatch(r"inception(\d[a-e])\.(branch\d(?:\.\d)?)", base)
    if m and m.group(2) in _GOOGLENET_BRANCHES:
        return f"inception_{m.group(1)}_{_GOOGLENET_BRANCHES[m.group(2)]}{suffix}"
    return None


# torchvision's and timm's Inception3 (the same names): Mixed_5b .. Mixed_7c are mixed0 ..
# mixed10, the stem's Conv2d_* are stem_conv1 .. 5.
_INCEPTION_STEM = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
)
_INCEPTION_MIXED = ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c")


def _inception_v3(module: str) -> str | None:
    if module == "fc":
        return "predictions"
    m = re.fullmatch(r"(\w+?)(?:\.branch_?(\w+))?\.(conv|bn)", module)
    if not m:
        return None
    block, branch, kind = m.groups()
    if block in _INCEPTION_STEM and branch is None:
        return f"stem_conv{_INCEPTION_STEM.index(block) + 1}_{kind}"
    mixed = block.removeprefix("Mixed_")
    if mixed in _INCEPTION_MIXED and branch is not None:
        branch = "pool_proj" if branch == "pool" else branch
        return f"mixed{_INCEPTION_MIXED.index(mixed)}_{branch}_{kind}"
    return None


# Inception-v4's blocks: TF-slim's names, in timm's ``features`` order (index 3 .. 21); the
# Keras model (keras_convnets.models.inception_v4) names its layers with them.
INCEPTION_V4_BLOCKS = (
    ("mixed_3a", "mixed_4a", "mixed_5a")
    + tuple(f"mixed_5{c}" for c in "bcde")
    + ("mixed_6a",)
    + tuple(f"mixed_6{c}" for c in "bcdefgh")
    + ("mixed_7a",)
    + tuple(f"mixed_7{c}" for c in "bcd")
)


def _inception_v4(module: str) -> str | None:
    """timm's ``features.<i>.<branch path>.(conv|bn)`` -> ``<block>_<branch>[_bn]``, see
    :mod:`keras_convnets.models.inception_v4` (``features.6.branch1.1.bn`` is
    ``mixed_5b_b1_1_bn``); ``last_linear`` is ``predictions``."""
    if module == "last_linear":
        return "predictions"
    m = re.fullmatch(r"features\.(\d+)\.(?:(.+)\.)?(conv|bn)", module)
    if not m:
        return None
    index, path, kind = int(m.group(1)), m.group(2), m.group(3)
    suffix = "_bn" if kind == "bn" else ""
    if index < 3 and path is None:
        return f"stem_{index + 1}{suffix}"
    if not 3 <= index < 3 + len(INCEPTION_V4_BLOCKS):
        return None
    block = INCEPTION_V4_BLOCKS[index - 3]
    if path is None:
        return None
    if path == "conv":  # Mixed3a's and Mixed5a's single convolution
        return f"{block}_conv{suffix}"
    m = re.fullmatch(r"branch(\d(?:_\d[ab]?)?)(?:\.(\d))?", path)
    if not m:
        return None
    branch, position = m.groups()
    return f"{block}_b{branch}{'' if position is None else '_' + position}{suffix}"


# timm's InceptionResnetV2 (Cadene's port of TF-slim): its stem and the three repeated blocks.
_IRV2_STEM = {f"conv2d_{k}": f"stem_{i}" for i, k in enumerate(("1a", "2a", "2b", "3b", "4a"), 1)}
_IRV2_REPEATS = {"repeat": "block35", "repeat_1": "block17", "repeat_2": "block8"}


def _inception_resnet_v2(module: str) -> str | None:
    """timm's names -> keras.applications' order and our names
    (:mod:`keras_convnets.models.inception_resnet`): ``repeat.0`` is ``block35_1``,
    ``repeat_2.8`` is ``block8_9``, ``block8`` is ``block8_10``; a branch's convolutions
    are ``<block>_b<branch>_<position from 1>`` (the pool branch's 1x1 is ``_b3_1``)."""
    fixed = {"classif": "predictions", "conv2d_7b.conv": "conv_7b", "conv2d_7b.bn": "conv_7b_bn"}
    if module in fixed:
        return fixed[module]
    m = re.fullmatch(r"(conv2d_\w\w)\.(conv|bn)", module)
    if m and m.group(1) in _IRV2_STEM:
        return _IRV2_STEM[m.group(1)] + ("_bn" if m.group(2) == "bn" else "")
    m = re.fullmatch(r"(?:(repeat(?:_[12])?)\.(\d+)|(block8)|(mixed_\d\w))\.(.+)", module)
    if not m:
        return None
    repeat, index, last, mixed, rest = m.groups()
    if repeat is not None:
        block = f"{_IRV2_REPEATS[repeat]}_{int(index) + 1}"
    else:
        block = "block8_10" if last else mixed
    if rest == "conv2d" and mixed is None:
        return f"{block}_conv"  # the up-projection (with a bias)
    m = re.fullmatch(r"branch(\d)(?:\.(\d))?\.(conv|bn)", rest)
    if not m:
        return None
    branch, position, kind = m.groups()
    k = 1 if position is None else int(position) + (0 if branch == "3" else 1)
    return f"{block}_b{branch}_{k}" + ("_bn" if kind == "bn" else "")


LAYER_NAMES = {
    "resnet": _resnet,
    "googlenet": _googlenet,
    "inception_v3": _inception_v3,
    "inception_v4": _inception_v4,
    "inception_resnet_v2": _inception_resnet_v2,
}
# Families whose batch norms have no scale (keras.applications' Inception-ResNet-v2: TF-slim's
# scale=False): a checkpoint's BN weight must be 1 there, and is then dropped.
SCALELESS_BN = {"inception_resnet_v2"}
# Modules of the checkpoint that the Keras variant does not build (left out on purpose).
IGNORED = {"googlenet": re.compile(r"aux[12]\..*"), "inception_v3": re.compile(r"AuxLogits\..*")}


def _group(state_dict):
    modules: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        modules.setdefault(module, {})[param] = np.asarray(value)
    return modules


def _convert_module(module, params, *, scaleless_bn=False):
    weight = params.get("weight")
    if "running_mean" in params:
        missing = [k for k in _BN_KEYS if k not in params]
        if missing:
            raise ValueError(f"Batch norm {module!r} lacks {missing} in the state dict.")
        arrays = [params[k].astype(np.float32) for k in _BN_KEYS]
        if scaleless_bn:
            off = float(np.abs(arrays[0] - 1.0).max())
            if off > 1e-6:
                raise ValueError(
                    f"Batch norm {module!r} has a scale (weight) up to {off:.3g} away from 1; "
                    "this network's batch norms have none (TF-slim's scale=False), so these "
                    "weights cannot be loaded exactly."
                )
            arrays = arrays[1:]
        return arrays
    if weight is None or weight.ndim not in (2, 4):
        raise ValueError(f"Module {module!r} is neither a convolution, linear nor batch norm.")
    kernel = weight.transpose(2, 3, 1, 0) if weight.ndim == 4 else weight.T
    arrays = [np.ascontiguousarray(kernel, dtype=np.float32)]
    if "bias" in params:
        arrays.append(params["bias"].astype(np.float32))
    return arrays


def to_keras(state_dict, family: str) -> dict[str, list[np.ndarray]]:
    """``{keras layer name: [arrays in Keras order]}`` from a PyTorch state dict.

    Raises ``ValueError`` naming the first parameter that has no Keras layer.

    Example:
        >>> import numpy as np
        >>> from keras_convnets.models.pretrained import convert
        >>> out = convert.to_keras({"fc.weight": np.zeros((3, 2)), "fc.bias": np.zeros(3)},
        ...                        "resnet")
        >>> out["predictions"][0].shape
        (2, 3)
    """
    if family not in LAYER_NAMES:
        raise ValueError(f"`family` must be one of {sorted(LAYER_NAMES)}. Received: {family!r}")
    name_of = LAYER_NAMES[family]
    ignored = IGNORED.get(family)
    converted = {}
    for module, params in _group(state_dict).items():
        if ignored is not None and ignored.fullmatch(module):
            continue
        layer = name_of(module)
        if layer is None:
            raise ValueError(
                f"The state dict's parameter {module}.{next(iter(params))} has no counterpart "
                f"in the Keras {family} model: is it a {family} checkpoint?"
            )
        converted[layer] = _convert_module(module, params, scaleless_bn=family in SCALELESS_BN)
    return converted


def assign(model, converted, *, include_top: bool, what: str):
    """Sets ``model``'s weights from ``converted`` after checking every layer; all or nothing."""
    plan = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in converted:
            raise ValueError(
                f"{what} has no weights for layer {layer.name!r} of model {model.name!r}: the "
                "model is not the variant these weights were trained for. Nothing was loaded."
            )
        arrays = converted[layer.name]
        expected = [tuple(v.shape) for v in layer.weights]
        found = [a.shape for a in arrays]
        if expected != found:
            raise ValueError(
                f"{what} does not match model {model.name!r}: layer {layer.name!r} has variables "
                f"of shapes {expected}, the weights have {found}. Nothing was loaded."
            )
        plan.append((layer, arrays))
    used = {layer.name for layer, _ in plan}
    extra = sorted(set(converted) - used - ({"predictions"} if not include_top else set()))
    if extra:
        raise ValueError(
            f"{what} holds weights for layers that model {model.name!r} lacks: {extra[:5]}. "
            "Nothing was loaded."
        )
    for layer, arrays in plan:
        layer.set_weights(arrays)
    return model
