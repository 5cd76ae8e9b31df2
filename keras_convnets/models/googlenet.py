"""GoogLeNet (Inception v1) of Szegedy et al. 2014, "Going Deeper with Convolutions".

Architecture as data: :data:`INCEPTION_SPECS` is Table 1's filter columns
``(#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)`` per module, and
:data:`LAYOUT` the order of modules and 3x3/2 max pools. :func:`GoogLeNet`
builds the network:

7x7/2 conv 64, 3x3/2 max pool, LRN, 1x1 conv 64, 3x3 conv 192, LRN, 3x3/2 max
pool, inception 3a, 3b, 3x3/2 max pool, 4a-4e, 3x3/2 max pool, 5a, 5b, global
average pooling (``avg_pool``, the paper's 7x7/1 average pool at 224), dropout
40%, linear, softmax.

Faithful to the paper: true 5x5 convolutions (not the 3x3 of torchvision,
pytorch/vision#906); the pool branch is a 3x3/1 max pool then the 1x1
projection; ReLU after every convolution, reductions and projections included;
branches concatenated in the order 1x1, 3x3, 5x5, pool. All convolutions and
pools use ``"same"`` padding, which gives the grids 112, 56, 28, 14, 7 at 224
(Caffe's ceil-mode pooling gives the same sizes there).

Auxiliary classifiers (``aux_logits=True``, the default) on 4a and 4d: 5x5/3
average pool (``"valid"``: 4x4x512 and 4x4x528 at 224), 1x1 conv 128 + ReLU,
flatten, FC 1024 + ReLU, dropout 70%, linear + softmax over ``classes``. The
model then has three outputs, in this order and under these names:
``predictions``, ``aux1``, ``aux2``, in training and in inference alike;
:func:`keras_convnets.models.heads.inference_model` gives the single-output model
sharing the layers, and the registry's ``loss_weights`` are the paper's
``{"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}``.

LRN (``norm1``, ``norm2``) is Caffe's ``local_size=5, alpha=1e-4, beta=0.75``
(bvlc_googlenet), i.e. :class:`~keras_convnets.models.layers.LocalResponseNormalization`
with ``depth_radius=2, alpha=2e-5`` (TensorFlow's per-element ``alpha``).

Deviation behind an option: ``batch_norm=True`` builds BN-GoogLeNet (the
baseline of Ioffe & Szegedy 2015): batch normalization after every
convolution (before its ReLU), convolutions without biases, and no LRN.

Variant behind an option, for converted weights: ``style="torch"`` builds
torchvision's GoogLeNet (registered as ``googlenet_torch``), which its
``IMAGENET1K_V1`` weights (69.78% top-1) need: BN (epsilon 1e-3) after every
convolution and no LRN, as ``batch_norm=True``; a 3x3 convolution in the
"5x5" branch (pytorch/vision#906; the layers keep the ``_5x5`` names);
ceil-mode max pools (``pool*_pad`` layers pad the bottom/right), a 2x2/2
``pool4_2x2``; the 7x7/2 stem padded by 3 on every side (``conv1_pad``);
dropout 20%; and ``transform_input``, a per-channel rescaling that turns
torch-normalized inputs (ImageNet mean/std) into the [-1, 1] scaling the
weights were trained on. torchvision's auxiliary classifiers are untrained in
its checkpoint and pool adaptively: ``style="torch"`` builds none
(``aux_logits`` defaults to False there). Its pools need a fixed input size.

Layer names (Caffe's, with ``_`` for ``/``): ``conv1_7x7_s2``, ``pool1_3x3``,
``norm1``, ``conv2_3x3_reduce``, ``conv2_3x3``, ``norm2``, ``pool2_3x3``,
``inception_3a_{1x1,3x3_reduce,3x3,5x5_reduce,5x5,pool,pool_proj,concat}``,
``pool3_3x3``, ..., ``pool4_3x3``, ..., ``avg_pool``, ``dropout``,
``predictions``; ``aux1_{avg_pool,conv,flatten,fc,dropout}`` and ``aux1``
(likewise ``aux2``). Every convolution and FC layer is followed by its own
``<name>_relu`` layer (after ``<name>_bn`` with ``batch_norm=True``).
"""

from __future__ import annotations

import re

from keras_convnets.models import _common, pretrained
from keras_convnets.models.pretrained.sources import IMAGENET_MEAN, IMAGENET_STD
from keras_convnets.models.registry import register_model

# Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
INCEPTION_SPECS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
FILTER_COLUMNS = ("#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj")
# Branch layers of a module, in Table 1's column order.
BRANCH_LAYERS = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")

# After the stem: inception modules and the 3x3/2 max pools between them.
LAYOUT = ("3a", "3b", "pool3_3x3", "4a", "4b", "4c", "4d", "4e", "pool4_3x3", "5a", "5b")
# Auxiliary classifier name -> the module whose output it reads.
AUX_HEADS = {"aux1": "4a", "aux2": "4d"}
AUX_POOL, AUX_POOL_STRIDE = 5, 3

DEFAULT_INPUT_SHAPE = (224, 224, 3)
TOTAL_STRIDE = 32
# The aux pool needs a 4a grid of at least 5; that grid is ceil(size / 16).
STRIDE_AT_4A = 16
MIN_SIZE_AUX = STRIDE_AT_4A * (AUX_POOL - 1) + 1  # 65
MIN_SIZE = TOTAL_STRIDE

# Caffe's LRN: local_size=5, alpha=1e-4 (divided by local_size), beta=0.75, k=1.
LRN_LOCAL_SIZE = 5
LRN_ALPHA_CAFFE = 1e-4
LRN_BETA = 0.75
LRN_BIAS = 1.0

MAIN_DROPOUT = 0.4
AUX_DROPOUT = 0.7
AUX_CONV_FILTERS = 128
AUX_FC_UNITS = 1024
BN_EPSILON = 1e-3


# style="torch": torchvision's transform_input, x * std / 0.5 + (mean - 0.5) / 0.5 per channel.
TORCH_MEAN, TORCH_STD = IMAGENET_MEAN, IMAGENET_STD
TORCH_DROPOUT = 0.2


def _conv(api, x, filters, kernel, *, name, batch_norm, strides=1, padding="same"):
    layers = api.layers
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=not batch_norm,
        name=name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _lrn(api, x, name):
    return api.custom.LocalResponseNormalization(
        depth_radius=(LRN_LOCAL_SIZE - 1) // 2,
        bias=LRN_BIAS,
        alpha=LRN_ALPHA_CAFFE / LRN_LOCAL_SIZE,
        beta=LRN_BETA,
        name=name,
    )(x)


def inception_module(api, x, filters, *, name, batch_norm=False, five=5):
    """One Inception module with dimension reductions (Fig. 2b); ``name`` like ``inception_3a``.

    ``filters``: Table 1's ``(#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)``.
    ``five``: the kernel of the "5x5" branch (3 in torchvision's GoogLeNet).
    """
    n1x1, n3x3r, n3x3, n5x5r, n5x5, npool = filters
    kw = {"batch_norm": batch_norm}
    b1 = _conv(api, x, n1x1, 1, name=f"{name}_1x1", **kw)
    b3 = _conv(api, x, n3x3r, 1, name=f"{name}_3x3_reduce", **kw)
    b3 = _conv(api, b3, n3x3, 3, name=f"{name}_3x3", **kw)
    b5 = _conv(api, x, n5x5r, 1, name=f"{name}_5x5_reduce", **kw)
    b5 = _conv(api, b5, n5x5, five, name=f"{name}_5x5", **kw)
    bp = api.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv(api, bp, npool, 1, name=f"{name}_pool_proj", **kw)
    return api.layers.Concatenate(axis=-1, name=f"{name}_concat")([b1, b3, b5, bp])


def aux_classifier(api, x, *, name, classes, classifier_activation, batch_norm=False):
    """An auxiliary classifier (§5): 5x5/3 avg pool, 1x1 conv 128, FC 1024, dropout 70%."""
    layers = api.layers
    x = layers.AveragePooling2D(
        AUX_POOL, strides=AUX_POOL_STRIDE, padding="valid", name=f"{name}_avg_pool"
    )(x)
    x = _conv(api, x, AUX_CONV_FILTERS, 1, name=f"{name}_conv", batch_norm=batch_norm)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(AUX_FC_UNITS, name=f"{name}_fc")(x)
    x = layers.Activation("relu", name=f"{name}_fc_relu")(x)
    x = layers.Dropout(AUX_DROPOUT, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name=name)(x)


def _resolve_options(weights, aux_logits, batch_norm, style):
    """Checks the keyword-only options; returns ``(style, aux_logits)`` with defaults filled in."""
    style = pretrained.resolve_style(style, weights)
    aux_logits = (style == "paper") if aux_logits is None else aux_logits
    if not isinstance(aux_logits, bool):
        raise ValueError(f"`aux_logits` must be True or False. Received: aux_logits={aux_logits!r}")
    if style == "torch" and aux_logits:
        raise ValueError(
            "style='torch' builds no auxiliary classifiers (torchvision's checkpoint holds "
            "untrained ones). Received: aux_logits=True; pass aux_logits=False or leave it None."
        )
    if not isinstance(batch_norm, bool):
        raise ValueError(f"`batch_norm` must be True or False. Received: batch_norm={batch_norm!r}")
    return style, aux_logits


def _input_rule(with_aux) -> _common.InputRule:
    """At least 65x65 with the auxiliary heads, else 32x32."""
    return _common.InputRule(
        DEFAULT_INPUT_SHAPE,
        MIN_SIZE_AUX if with_aux else MIN_SIZE,
        (
            f"with the auxiliary classifiers: their {AUX_POOL}x{AUX_POOL}/{AUX_POOL_STRIDE} "
            f"average pool needs the 4a grid, ceil(size / {STRIDE_AT_4A}), to be >= {AUX_POOL}; "
            f"without them (aux_logits=False or include_top=False) the minimum is {MIN_SIZE}, "
            "the network's total stride"
            if with_aux
            else f"the network's total stride is {TOTAL_STRIDE}; with the auxiliary "
            f"classifiers the minimum is {MIN_SIZE_AUX}"
        ),
        fixed_with_top=False,
    )


def _check_fixed_size(input_shape, with_aux):
    """The auxiliary heads flatten their pooled grid, so they need a fixed size."""
    if with_aux and None in input_shape[:2]:
        raise ValueError(
            "The auxiliary classifiers flatten a 5x5/3-pooled grid into a fully connected "
            "layer, so height and width must be fixed: pass aux_logits=False for a variable "
            f"input size. Received: input_shape={input_shape}"
        )


def _ceil_max_pool(api, x, size, stride, name):
    """PyTorch's ``MaxPool2d(size, stride, ceil_mode=True)``: windows may overhang the end.

    The overhang is padded with zeros (``<name>_pad``), which cannot win the
    max: every input here follows a ReLU.
    """
    pads = []
    for n in x.shape[1:3]:
        if n is None:
            raise ValueError(
                "style='torch' needs a fixed input size (its ceil-mode pools). "
                f"Received a feature map of shape {tuple(x.shape)}"
            )
        out = -(-(n - size) // stride) + 1
        pads.append((0, max((out - 1) * stride + size - n, 0)))
    x = api.layers.ZeroPadding2D(padding=tuple(pads), name=f"{name}_pad")(x)
    return api.layers.MaxPooling2D(size, strides=stride, padding="valid", name=name)(x)


def _torch_features(api, img_input, input_shape):
    """torchvision's GoogLeNet up to its global pool (transform_input=True, no aux heads)."""
    if input_shape[2] != 3:
        raise ValueError(
            f"style='torch' takes RGB inputs (its transform_input is per RGB channel). "
            f"Received: input_shape={input_shape}"
        )
    layers = api.layers
    x = layers.Rescaling(
        scale=[s / 0.5 for s in TORCH_STD],
        offset=[(m - 0.5) / 0.5 for m in TORCH_MEAN],
        name="transform_input",
    )(img_input)
    bn = {"batch_norm": True}
    x = layers.ZeroPadding2D(padding=3, name="conv1_pad")(x)
    x = _conv(api, x, 64, 7, strides=2, padding="valid", name="conv1_7x7_s2", **bn)
    x = _ceil_max_pool(api, x, 3, 2, "pool1_3x3")
    x = _conv(api, x, 64, 1, name="conv2_3x3_reduce", **bn)
    x = _conv(api, x, 192, 3, name="conv2_3x3", **bn)
    x = _ceil_max_pool(api, x, 3, 2, "pool2_3x3")
    for item in LAYOUT:
        if item == "pool3_3x3":
            x = _ceil_max_pool(api, x, 3, 2, item)
        elif item == "pool4_3x3":
            x = _ceil_max_pool(api, x, 2, 2, "pool4_2x2")
        else:
            spec = INCEPTION_SPECS[item]
            x = inception_module(api, x, spec, name=f"inception_{item}", five=3, **bn)
    return x


def _paper_features(api, img_input, batch_norm, with_aux, classes, classifier_activation):
    """Table 1 up to the global pool, and the auxiliary heads' outputs."""
    layers = api.layers
    bn = {"batch_norm": batch_norm}
    x = _conv(api, img_input, 64, 7, strides=2, name="conv1_7x7_s2", **bn)  # 112x112x64
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3")(x)  # 56x56x64
    if not batch_norm:
        x = _lrn(api, x, "norm1")
    x = _conv(api, x, 64, 1, name="conv2_3x3_reduce", **bn)
    x = _conv(api, x, 192, 3, name="conv2_3x3", **bn)  # 56x56x192
    if not batch_norm:
        x = _lrn(api, x, "norm2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3")(x)  # 28x28x192

    aux_outputs = []
    for item in LAYOUT:
        if item.startswith("pool"):
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=item)(x)
            continue
        x = inception_module(api, x, INCEPTION_SPECS[item], name=f"inception_{item}", **bn)
        for aux_name, module in AUX_HEADS.items():
            if with_aux and module == item:
                aux_outputs.append(
                    aux_classifier(
                        api,
                        x,
                        name=aux_name,
                        classes=classes,
                        classifier_activation=classifier_activation,
                        **bn,
                    )
                )
    return x, aux_outputs  # 7x7x1024 at 224


# The paper's printed figures per row of Table 1 (params: "K" is 1024; ops:
# "M" is 10^6, multiply-adds), and, for the report, the layers that hold each
# filter column. The notes are the disagreements with the arithmetic of the
# filter columns; tests/test_googlenet.py recomputes every row from the built
# model and checks that exactly these rows are flagged.
def _module_columns(module):
    return {c: f"inception_{module}_{b}" for c, b in zip(FILTER_COLUMNS, BRANCH_LAYERS)}


PAPER_ROWS = {
    "conv1": {
        "params": "2.7K",
        "macs": "34M",
        "depth": 1,
        "columns": {"#7x7/2": "conv1_7x7_s2"},
        # 34M = 112 * 112 * 2.7K: the printed ops follow the printed params,
        # which are not those of a 7x7 conv from 3 to 64 channels (7*7*3*64).
        "notes": [
            "params: 9,408 = 9.2K, printed 2.7K",
            "ops: 118,013,952 = 118.0M, printed 34M",
        ],
    },
    "conv2": {
        "params": "112K",
        "macs": "360M",
        "depth": 2,
        "columns": {"#3x3 reduce": "conv2_3x3_reduce", "#3x3": "conv2_3x3"},
    },
}
_PRINTED = {
    "3a": ("159K", "128M"),
    "3b": ("380K", "304M"),
    "4a": ("364K", "73M"),
    "4b": ("437K", "88M"),
    "4c": ("463K", "100M"),
    "4d": ("580K", "119M"),
    "4e": ("840K", "170M"),
    "5a": ("1072K", "54M"),
    "5b": ("1388K", "71M"),
}
_MODULE_NOTES = {
    "3b": ["params: 388,096 = 379.0K, printed 380K"],
    "4a": ["params: 375,552 = 366.8K, printed 364K"],
    "4b": ["params: 448,512 = 438.0K, printed 437K"],
    "4c": ["params: 509,440 = 497.5K, printed 463K"],
    "4d": ["params: 604,672 = 590.5K, printed 580K"],
    "4e": ["params: 867,328 = 847.0K, printed 840K"],
    # 5a's printed figures agree with each other (1072K * 7 * 7 = 53.8M), not
    # with its filter columns, which are those of 4e on 832 input channels.
    "5a": [
        "params: 1,042,432 = 1018.0K, printed 1072K",
        "ops: 51,079,168 = 51.1M, printed 54M",
    ],
    "5b": ["params: 1,442,816 = 1409.0K, printed 1388K"],
}
for _m, (_params, _macs) in _PRINTED.items():
    PAPER_ROWS[f"inception_{_m}"] = {
        "params": _params,
        "macs": _macs,
        "depth": 2,
        "columns": _module_columns(_m),
        "notes": _MODULE_NOTES.get(_m, []),
    }
PAPER_ROWS["predictions"] = {
    "params": "1000K",
    "macs": "1M",
    "depth": 1,
    "columns": {"linear": "predictions"},
}
for _row in PAPER_ROWS.values():
    _row.setdefault("notes", [])
del _m, _params, _macs, _row

_UNITS = {"K": 1024, "M": 10**6}


def printed_value(text: str) -> tuple[float, float]:
    """``"2.7K" -> (2764.8, 102.4)``: the value and one unit of its last printed digit.

    ``K`` is 1024 (parameters), ``M`` is 10^6 (operations), as Table 1's
    arithmetic shows (inception 3a: 163,328 weights = 159.5K; 128,049,152 ops = 128M).
    """
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?([KM])", text)
    if not match:
        raise ValueError(f"Not a printed figure like '2.7K' or '34M'. Received: {text!r}")
    whole, frac, unit = match.groups()
    scale = _UNITS[unit]
    digits = len(frac or "")
    return float(f"{whole}.{frac or 0}") * scale, scale / 10**digits


def agrees(computed: float, printed: str) -> bool:
    """Whether ``computed`` prints as ``printed``, by rounding or truncation of the last digit."""
    value, unit = printed_value(printed)
    return abs(computed - value) < unit


# Registry entry. Figures at 224x224x3 and 1000 classes, recomputed from the
# built model by tests/test_googlenet.py: params and trainable params of the
# default model (aux heads included), multiply-adds of the main path (the
# inference model, aux heads excluded).
PARAMS = 13_378_280
TRAINABLE_PARAMS = 13_378_280
MACS = 1_582_671_872
PAPER_MACS = 1.5e9
LOSS_WEIGHTS = {"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}


@register_model(
    "googlenet",
    family="googlenet",
    paper="Szegedy et al. 2014, Going Deeper with Convolutions",
    input_shape=DEFAULT_INPUT_SHAPE,
    classes=1000,
    preprocessing="caffe",
    params=PARAMS,
    trainable_params=TRAINABLE_PARAMS,
    macs=MACS,
    paper_macs=PAPER_MACS,
    outputs=("predictions", "aux1", "aux2"),
    loss_weights=dict(LOSS_WEIGHTS),
    min_input_size=MIN_SIZE_AUX,
    notes=(
        "Inception v1 with LRN and two auxiliary classifiers (loss weight 0.3); "
        "macs: main path only; params include the aux heads"
    ),
    paper_rows=PAPER_ROWS,
)
# Figures at 224: trainable parameters and multiply-adds equal torchvision's
# num_params (6,624,904) and _ops (1.498 GMACs).
@register_model(
    "googlenet_torch",
    family="googlenet_torch",
    paper="Szegedy et al. 2014, as torchvision builds it (BN, 3x3 in the 5x5 branch)",
    input_shape=DEFAULT_INPUT_SHAPE,
    classes=1000,
    preprocessing="torch",
    params=6_639_464,
    trainable_params=6_624_904,
    macs=1_498_376_192,
    overrides={"style": "torch", "name": "googlenet_torch"},
    min_input_size=MIN_SIZE,
    notes="style='torch': torchvision's GoogLeNet, transform_input, no aux heads",
)
def GoogLeNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="googlenet",
    *,
    aux_logits=None,
    batch_norm=False,
    style=None,
):
    """Builds GoogLeNet (Szegedy et al. 2014, Table 1), with its auxiliary classifiers.

    Args are those of ``keras.applications`` (``include_top``, ``weights``,
    ``input_tensor``, ``input_shape``, ``pooling``, ``classes``,
    ``classifier_activation``, ``name``), plus keyword-only:

    * ``aux_logits``: (default ``None``: True, False with ``style="torch"``)
      with ``include_top=True``, add the two auxiliary classifiers; the
      model's outputs are then ``[predictions, aux1, aux2]``
      (output names ``"predictions"``, ``"aux1"``, ``"aux2"``) in training and
      inference alike. ``False``: the single output ``predictions``. With
      ``include_top=False`` there are never aux heads.
    * ``batch_norm``: ``True`` builds BN-GoogLeNet (BN after every conv, no
      LRN, no conv biases), a documented deviation.
    * ``style``: ``"paper"`` or ``"torch"`` (torchvision's GoogLeNet, see the
      module doc); default ``None``: ``"torch"`` when ``weights`` is
      ``"torchvision"``, ``"torchvision:IMAGENET1K_V1"`` or a ``.pth`` /
      ``.safetensors`` file, else ``"paper"``.

    No ImageNet weights are hosted for GoogLeNet (``weights="imagenet"``
    raises). Input: at least 65x65 with the aux heads (their 5x5 pool needs a
    4a grid >= 5), 32x32 without; the aux heads also need a fixed size.

    Example:
        >>> from keras_convnets.models.googlenet import GoogLeNet
        >>> model = GoogLeNet(input_shape=(96, 96, 3), classes=10)
        >>> model.output_names
        ['predictions', 'aux1', 'aux2']
        >>> [tuple(o.shape) for o in model.outputs]
        [(None, 10), (None, 10), (None, 10)]
    """
    style, aux_logits = _resolve_options(weights, aux_logits, batch_norm, style)
    with_aux = bool(include_top) and aux_logits

    def features(api, img_input, input_shape):  # the last grid and the built aux outputs
        if style == "torch":
            return _torch_features(api, img_input, input_shape), []
        return _paper_features(api, img_input, batch_norm, with_aux, classes, classifier_activation)

    def head(api, body, **head_args):
        x, aux_outputs = body
        dropout = TORCH_DROPOUT if style == "torch" else MAIN_DROPOUT
        x = _common.classifier_top(api, x, dropout=dropout, **head_args)
        return [x, *aux_outputs] if aux_outputs else x

    return _common.build_application(
        "googlenet",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        input_rule=_input_rule(with_aux),
        features=features,
        head=head,
        check_input=lambda shape: _check_fixed_size(shape, with_aux),
        options=dict(aux_logits=aux_logits, batch_norm=batch_norm, style=style),
    )


InceptionV1 = GoogLeNet
