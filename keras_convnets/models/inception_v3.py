"""Inception v3 and v2 of Szegedy et al. 2015, "Rethinking the Inception Architecture".

Architecture as data: :data:`STEMS` gives each network's stem (the rows of the
paper's Table 1 up to the 35x35 grid) and :data:`MODULES` the eleven modules
``mixed0``..``mixed10``; :func:`Inception` builds either network and the public
:func:`InceptionV3` / :func:`InceptionV2` only pick a variant.

Inception v3 (the default input is 299x299x3)::

    stem (3x3 convolutions)   299x299x3 -> 35x35x192
    mixed0..mixed2  Fig. 5    35x35     -> 35x35x288
    mixed3          reduction 35x35     -> 17x17x768
    mixed4..mixed7  Fig. 6    17x17x768   (n = 7: 1x7 and 7x1 convolutions)
    mixed8          reduction 17x17     -> 8x8x1280
    mixed9, mixed10 Fig. 7    8x8       -> 8x8x2048
    8x8 average pool, dropout, linear, softmax       ("predictions")
    auxiliary head on mixed7 (17x17x768), with BN    ("aux")

BN follows every convolution (``use_bias=False``, ``scale=False``,
``epsilon=1e-3``, as keras.applications' ``conv2d_bn``).

Compatibility: with ``aux_logits=False`` the network is keras.applications'
``InceptionV3`` layer for layer (same layer types, same order, 23,851,784
parameters), plus one ``Dropout`` layer (``dropout``, rate 0.2: keep
probability 0.8 in the TF-slim reference), which holds no weights; so the
hosted ``.h5`` files and ``.weights.h5`` files saved from keras.applications
load unchanged. ``dropout=None`` removes it and gives exactly keras'
layer list. Unlike keras.applications, every layer is named (``mixed0_1x1_conv``,
``mixed0_1x1_bn``, ``mixed0_1x1_relu``, ``stem_conv1_conv`` ...; module outputs
``mixed0``..``mixed10`` as keras.applications). Keras names the two inner
concatenations of the Fig. 7 modules ``mixed9_0``/``mixed9_1`` (and leaves two
unnamed); here they are ``mixed9_3x3_concat``, ``mixed9_3x3dbl_concat``,
``mixed10_3x3_concat``, ``mixed10_3x3dbl_concat``.

Where the reference implementation (TF-slim ``inception_v3``, which
keras.applications copies, and whose weights are hosted) differs from the paper:

* Fig. 5 replaces each 5x5 convolution by two 3x3. The reference keeps, in
  mixed0-2, a 5x5 branch (1x1 48 -> 5x5 64) *beside* the double-3x3 branch
  (1x1 64 -> 3x3 96 -> 3x3 96). We follow the reference (``mixed*_5x5_*``).
* Table 1 lists, after the first pool, ``conv 3x3/1`` (73x73x64), ``conv
  3x3/2`` (71x71x80) and ``conv 3x3/1`` (35x35x192), and gives the inception
  modules an input of 35x35x288. The reference has a 1x1 conv to 80
  (73x73x80), a 3x3 valid conv to 192 (71x71x192) and a 3x3/2 max pool
  (35x35x192); the first module sees 192 channels and outputs 256, the next
  two output 288.
* Table 1 has 3 / 5 / 2 modules on the 35 / 17 / 8 grids; the reference has
  3 Fig. 5 modules, a 35->17 reduction, 4 Fig. 6 modules, a 17->8 reduction
  (it has a 1x7/7x1 branch) and 2 Fig. 7 modules.
* Dropout before the classifier is the reference's (keep 0.8); the paper's
  table does not list it. keras.applications omits it.

The auxiliary head (Fig. 8, on the last 17x17 grid, after mixed7 as the
reference): 5x5/3 average pool (valid), 1x1 conv 128, 5x5 conv 768 (valid),
global average pool, linear, softmax. v3's head has BN after both
convolutions ("BN-auxiliary" of Table 3); v2's has none (convolutions with
biases, then ReLU). The global pool equals a flatten at 299x299 (the 5x5 conv
leaves a 1x1 grid) and keeps the head's weights independent of the input size.
Loss weight 0.4 for ``aux`` is the TF-slim reference's; the paper does not
state one. The head is part of the classifier: with ``include_top=False`` it
is not built. The hosted ImageNet weights have no auxiliary head, so
``weights="imagenet"`` with ``include_top=True`` requires ``aux_logits=False``
(a ``ValueError`` says so).

Minimum input size (both networks): 75x75 without the auxiliary head (the
two grid reductions after the stem need a 3x3 grid at 17x17 -> 1x1 at 8x8),
299x299 with it: the 5x5/3 pool then 5x5 valid conv need the 17x17 grid to be
at least 17 wide, and that grid is 17 wide only from an input of 299.

Inception v2: the seed (and Table 3) describe v2 as the same network with a
single 7x7/2 convolution "like GoogLeNet" instead of the stem's first three
layers (``Factorized 7x7`` is the Table 3 change that turns v2 into v3's
stem), and its auxiliary head without BN. Ours: ``stem_conv1`` is a 7x7/2
valid convolution to 64 channels (299 -> 147x147x64, exactly the grid the
three 3x3 layers give, so everything after is shared), BN, ReLU. No ImageNet
weights exist for it.

Cost: Table 3 prints 4.8 x10^9 (v3) and 3.8 x10^9 (v2) operations. Counted
here (multiply-adds of the main path, at 299x299): v3 5,713,216,096 (+19%), v2
5,299,886,272 (+39%). Their difference, 413,329,824, is the stem alone: the
three 3x3 layers cost 19,181,664 + 199,148,544 + 398,297,088 = 616,627,296,
the 7x7/2 (64 filters) 203,297,472 (``tests/test_inception_v3.py`` does the
arithmetic). So the reference v3 is ~0.9 x10^9 above the paper's 4.8 (the
paper's count is not reproducible from its Table 1, which is itself
inconsistent, see above), and a v2 that differs from v3 only in the stem, as
the seed describes it, is 0.41 x10^9 cheaper, not 1.0: the paper's v2 must
have differed in more than the stem, which it does not specify. We report
these numbers and do not bend the model to match.

Variant behind an option, for converted weights: ``style="torch"`` (v3 only;
registered as ``inception_v3_torch``) is torchvision's and timm's
``Inception3``, which their weights need: BN with a learned scale (gamma)
after every convolution, and the 3x3/1 average pools of the modules counting
the zero padding (PyTorch's ``count_include_pad=True``; ``*_pool_pad``
layers, then a valid pool), no auxiliary head (``aux_logits`` defaults to
False there; their checkpoints' ``AuxLogits`` are left out). torchvision's
``transform_input`` is not built in: feed inputs scaled to [-1, 1] (mean =
std = 0.5), which is what it computes from ImageNet-normalized ones.

Layer names: ``stem_conv{i}_conv|bn|relu``, ``stem_pool{i}``,
``mixed{m}_{branch}_conv|bn|relu`` with branches ``1x1``, ``5x5_1..2``,
``3x3_1..``, ``3x3dbl_1..``, ``7x7_1..3``, ``7x7dbl_1..5``, ``7x7x3_1..4``,
``pool`` (pooling) and ``pool_proj``; ``mixed{m}`` (module output),
``avg_pool``, ``dropout``, ``predictions``; ``aux_pool``,
``aux_conv1_*``, ``aux_conv2_*``, ``aux_global_pool``, ``aux``.
"""

from __future__ import annotations

import contextlib
import contextvars

from keras_convnets.models import _common, pretrained
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.registry import register_model

BN_EPSILON = 1e-3  # keras.applications conv2d_bn (BatchNormalization's default)
DEFAULT_DROPOUT = 0.2  # TF-slim reference: dropout_keep_prob=0.8
AUX_LOSS_WEIGHT = 0.4  # TF-slim reference; not stated in the paper
MIN_SIZE = 75  # without the auxiliary head (as keras.applications)
MIN_SIZE_AUX = 299  # with it (see the module docstring; checked by a test)

# Stems: (name, kind, filters, (kernel_h, kernel_w), stride, padding).
STEMS = {
    "v3": (
        ("stem_conv1", "conv", 32, (3, 3), 2, "valid"),  # 299x299x3 -> 149x149x32
        ("stem_conv2", "conv", 32, (3, 3), 1, "valid"),  # -> 147x147x32
        ("stem_conv3", "conv", 64, (3, 3), 1, "same"),  # -> 147x147x64
        ("stem_pool1", "maxpool", None, (3, 3), 2, "valid"),  # -> 73x73x64
        ("stem_conv4", "conv", 80, (1, 1), 1, "valid"),  # -> 73x73x80
        ("stem_conv5", "conv", 192, (3, 3), 1, "valid"),  # -> 71x71x192
        ("stem_pool2", "maxpool", None, (3, 3), 2, "valid"),  # -> 35x35x192
    ),
    "v2": (
        ("stem_conv1", "conv", 64, (7, 7), 2, "valid"),  # 299x299x3 -> 147x147x64
        ("stem_pool1", "maxpool", None, (3, 3), 2, "valid"),  # -> 73x73x64
        ("stem_conv2", "conv", 80, (1, 1), 1, "valid"),  # -> 73x73x80
        ("stem_conv3", "conv", 192, (3, 3), 1, "valid"),  # -> 71x71x192
        ("stem_pool2", "maxpool", None, (3, 3), 2, "valid"),  # -> 35x35x192
    ),
}

# Modules: (name, kind, options). Kinds: "fig5" (35x35), "reduce35" (35 -> 17),
# "fig6" (17x17, n = 7; ``c7`` is the width of the factorized 7x7 branches),
# "reduce17" (17 -> 8), "fig7" (8x8, expanded filter bank).
MODULES = (
    ("mixed0", "fig5", {"pool_filters": 32}),  # -> 35x35x256
    ("mixed1", "fig5", {"pool_filters": 64}),  # -> 35x35x288
    ("mixed2", "fig5", {"pool_filters": 64}),  # -> 35x35x288
    ("mixed3", "reduce35", {}),  # -> 17x17x768
    ("mixed4", "fig6", {"c7": 128}),  # -> 17x17x768
    ("mixed5", "fig6", {"c7": 160}),
    ("mixed6", "fig6", {"c7": 160}),
    ("mixed7", "fig6", {"c7": 192}),  # the auxiliary head branches off here
    ("mixed8", "reduce17", {}),  # -> 8x8x1280
    ("mixed9", "fig7", {}),  # -> 8x8x2048
    ("mixed10", "fig7", {}),  # -> 8x8x2048
)
AUX_AFTER = "mixed7"

VARIANTS = {
    # arch: (stem, BN in the auxiliary head)
    "inception_v3": ("v3", True),
    "inception_v2": ("v2", False),
}


# The style being built ("paper" or "torch"), read by conv_bn and _avg_pool_proj so that
# the module builders stay as keras.applications' (set only inside Inception()).
_STYLE = contextvars.ContextVar("inception_style", default="paper")


@contextlib.contextmanager
def _building(style):
    token = _STYLE.set(style)
    try:
        yield
    finally:
        _STYLE.reset(token)


def conv_bn(api, x, filters, kernel, *, name, strides=1, padding="same", bn=True):
    """Conv2D, BN, ReLU as keras.applications' ``conv2d_bn`` (``bn=False``: conv with bias)."""
    layers = api.layers
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=not bn,
        name=f"{name}_conv",
    )(x)
    if bn:
        # scale=False: a ReLU follows, so a learned scale is redundant (as the reference);
        # torchvision's and timm's BN has one, which their weights set.
        scale = _STYLE.get() == "torch"
        x = layers.BatchNormalization(axis=-1, scale=scale, epsilon=BN_EPSILON, name=f"{name}_bn")(
            x
        )
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _avg_pool_proj(api, x, filters, name):
    if _STYLE.get() == "torch":  # F.avg_pool2d(x, 3, 1, padding=1): zeros count in the mean
        x = api.layers.ZeroPadding2D(padding=1, name=f"{name}_pool_pad")(x)
        y = api.layers.AveragePooling2D(3, strides=1, padding="valid", name=f"{name}_pool")(x)
        return conv_bn(api, y, filters, (1, 1), name=f"{name}_pool_proj")
    y = api.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return conv_bn(api, y, filters, (1, 1), name=f"{name}_pool_proj")


def _concat(api, tensors, name):
    return api.layers.Concatenate(axis=-1, name=name)(tensors)


# Branches are built in keras.applications' order: legacy `.h5` weights are
# matched by the order of the layers that hold weights.


def _fig5(api, x, name, *, pool_filters):
    b1 = conv_bn(api, x, 64, (1, 1), name=f"{name}_1x1")
    # The reference's 5x5 branch (the paper's Fig. 5 has none; see the module doc).
    b5 = conv_bn(api, x, 48, (1, 1), name=f"{name}_5x5_1")
    b5 = conv_bn(api, b5, 64, (5, 5), name=f"{name}_5x5_2")
    b3 = conv_bn(api, x, 64, (1, 1), name=f"{name}_3x3dbl_1")
    b3 = conv_bn(api, b3, 96, (3, 3), name=f"{name}_3x3dbl_2")
    b3 = conv_bn(api, b3, 96, (3, 3), name=f"{name}_3x3dbl_3")
    bp = _avg_pool_proj(api, x, pool_filters, name)
    return _concat(api, [b1, b5, b3, bp], name)


def _reduce35(api, x, name):
    b3 = conv_bn(api, x, 384, (3, 3), strides=2, padding="valid", name=f"{name}_3x3")
    bd = conv_bn(api, x, 64, (1, 1), name=f"{name}_3x3dbl_1")
    bd = conv_bn(api, bd, 96, (3, 3), name=f"{name}_3x3dbl_2")
    bd = conv_bn(api, bd, 96, (3, 3), strides=2, padding="valid", name=f"{name}_3x3dbl_3")
    bp = api.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return _concat(api, [b3, bd, bp], name)


def _fig6(api, x, name, *, c7):
    b1 = conv_bn(api, x, 192, (1, 1), name=f"{name}_1x1")
    b7 = conv_bn(api, x, c7, (1, 1), name=f"{name}_7x7_1")
    b7 = conv_bn(api, b7, c7, (1, 7), name=f"{name}_7x7_2")
    b7 = conv_bn(api, b7, 192, (7, 1), name=f"{name}_7x7_3")
    bd = conv_bn(api, x, c7, (1, 1), name=f"{name}_7x7dbl_1")
    bd = conv_bn(api, bd, c7, (7, 1), name=f"{name}_7x7dbl_2")
    bd = conv_bn(api, bd, c7, (1, 7), name=f"{name}_7x7dbl_3")
    bd = conv_bn(api, bd, c7, (7, 1), name=f"{name}_7x7dbl_4")
    bd = conv_bn(api, bd, 192, (1, 7), name=f"{name}_7x7dbl_5")
    bp = _avg_pool_proj(api, x, 192, name)
    return _concat(api, [b1, b7, bd, bp], name)


def _reduce17(api, x, name):
    b3 = conv_bn(api, x, 192, (1, 1), name=f"{name}_3x3_1")
    b3 = conv_bn(api, b3, 320, (3, 3), strides=2, padding="valid", name=f"{name}_3x3_2")
    b7 = conv_bn(api, x, 192, (1, 1), name=f"{name}_7x7x3_1")
    b7 = conv_bn(api, b7, 192, (1, 7), name=f"{name}_7x7x3_2")
    b7 = conv_bn(api, b7, 192, (7, 1), name=f"{name}_7x7x3_3")
    b7 = conv_bn(api, b7, 192, (3, 3), strides=2, padding="valid", name=f"{name}_7x7x3_4")
    bp = api.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return _concat(api, [b3, b7, bp], name)


def _fig7(api, x, name):
    b1 = conv_bn(api, x, 320, (1, 1), name=f"{name}_1x1")
    b3 = conv_bn(api, x, 384, (1, 1), name=f"{name}_3x3_1")
    b3 = _concat(
        api,
        [
            conv_bn(api, b3, 384, (1, 3), name=f"{name}_3x3_2a"),
            conv_bn(api, b3, 384, (3, 1), name=f"{name}_3x3_2b"),
        ],
        f"{name}_3x3_concat",
    )
    bd = conv_bn(api, x, 448, (1, 1), name=f"{name}_3x3dbl_1")
    bd = conv_bn(api, bd, 384, (3, 3), name=f"{name}_3x3dbl_2")
    bd = _concat(
        api,
        [
            conv_bn(api, bd, 384, (1, 3), name=f"{name}_3x3dbl_3a"),
            conv_bn(api, bd, 384, (3, 1), name=f"{name}_3x3dbl_3b"),
        ],
        f"{name}_3x3dbl_concat",
    )
    bp = _avg_pool_proj(api, x, 192, name)
    return _concat(api, [b1, b3, bd, bp], name)


_MODULE_BUILDERS = {
    "fig5": _fig5,
    "reduce35": _reduce35,
    "fig6": _fig6,
    "reduce17": _reduce17,
    "fig7": _fig7,
}


def _stem(api, x, stem):
    for name, kind, filters, kernel, stride, padding in STEMS[stem]:
        if kind == "conv":
            x = conv_bn(api, x, filters, kernel, strides=stride, padding=padding, name=name)
        else:
            x = api.layers.MaxPooling2D(kernel, strides=stride, padding=padding, name=name)(x)
    return x


def aux_head(api, x, *, classes, classifier_activation, bn):
    """The auxiliary classifier on the 17x17x768 grid (Fig. 8); output layer ``aux``."""
    layers = api.layers
    x = layers.AveragePooling2D(5, strides=3, padding="valid", name="aux_pool")(x)  # 5x5x768
    x = conv_bn(api, x, 128, (1, 1), name="aux_conv1", bn=bn)  # 5x5x128
    x = conv_bn(api, x, 768, (5, 5), padding="valid", name="aux_conv2", bn=bn)  # 1x1x768
    x = layers.GlobalAveragePooling2D(name="aux_global_pool")(x)
    return layers.Dense(classes, activation=classifier_activation, name="aux")(x)


def _min_reason(arch):
    return (
        f"{arch} needs at least {MIN_SIZE} without the auxiliary head (aux_logits=False or "
        f"include_top=False) and {MIN_SIZE_AUX} with it: its 5x5/3 pool and 5x5 valid "
        "convolution need a 17x17 grid of at least 17"
    )


def Inception(
    arch,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    *,
    aux_logits=None,
    dropout=DEFAULT_DROPOUT,
    style=None,
):
    """Builds ``arch`` (``"inception_v3"`` or ``"inception_v2"``); see the module doc.

    The public :func:`InceptionV3` and :func:`InceptionV2` call this.
    Args are those of ``keras.applications`` (``include_top``, ``weights``,
    ``input_tensor``, ``input_shape``, ``pooling``, ``classes``,
    ``classifier_activation``, ``name``), plus keyword-only:

    * ``aux_logits``: the auxiliary head on the 17x17 grid (default None:
      True, False with ``style="torch"``; built only with ``include_top=True``);
      the model then has two outputs, ``predictions`` and ``aux`` (loss weights 1.0 and 0.4, see
      ``keras_convnets.models.heads.loss_weights``). Minimum input 299 with it, 75
      without.
    * ``dropout``: rate before the classifier (default 0.2; None removes it).
    * ``style``: ``"paper"`` or ``"torch"`` (torchvision's/timm's Inception3,
      v3 only, see the module doc); default None: ``"torch"`` when
      ``weights`` names a torchvision/timm source or a ``.pth`` /
      ``.safetensors`` file.

    Defaults: input (299, 299, 3), 1000 classes, ``weights=None`` (nothing is
    downloaded unless ``weights="imagenet"``: for Inception v3 it fetches the
    keras.applications file, which needs ``aux_logits=False`` or
    ``include_top=False``; none are hosted for Inception v2).

    Example:
        >>> from keras_convnets.models.inception_v3 import Inception
        >>> Inception("inception_v2", input_shape=(75, 75, 3), aux_logits=False).output_shape
        (None, 1000)
    """
    if arch not in VARIANTS:
        raise ValueError(f"`arch` must be one of {sorted(VARIANTS)}. Received: arch={arch!r}")
    stem, aux_bn = VARIANTS[arch]
    name = arch if name is None else name
    style, aux_logits = _resolve_options(arch, weights, aux_logits, dropout, style)
    with_aux = include_top and aux_logits

    def head(api, body, **head_args):  # body: the last grid and the auxiliary head's input
        x, aux_input = body
        aux_input = aux_input if with_aux else None
        return _top(api, x, aux_input, aux_bn=aux_bn, dropout=dropout, **head_args)

    return _common.build_application(
        arch,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        input_rule=_common.InputRule(
            (299, 299, 3), MIN_SIZE_AUX if with_aux else MIN_SIZE, _min_reason(arch)
        ),
        features=lambda api, img_input, _: _features(api, img_input, stem, style),
        head=head,
        checks=[lambda: _check_aux_weights(arch, include_top, weights, aux_logits)],
        options=dict(aux_logits=aux_logits, dropout=dropout, style=style),
    )


def _top(api, x, aux_input, *, aux_bn, **head):
    """The classifier (or pooling) and, when ``aux_input`` is given, the auxiliary head."""
    outputs = _common.classifier_top(api, x, **head)
    if aux_input is None:
        return outputs
    # Built last so that the main path's layers keep keras.applications' order.
    aux = aux_head(
        api,
        aux_input,
        classes=head["classes"],
        classifier_activation=head["classifier_activation"],
        bn=aux_bn,
    )
    return [outputs, aux]


def _resolve_options(arch, weights, aux_logits, dropout, style):
    """Checks the keyword-only options; returns ``(style, aux_logits)`` with defaults filled in."""
    style = pretrained.resolve_style(style, weights)
    aux_logits = (style == "paper") if aux_logits is None else aux_logits
    if style == "torch" and (arch != "inception_v3" or aux_logits):
        raise ValueError(
            "style='torch' (torchvision's/timm's Inception3) is Inception v3 without the "
            f"auxiliary head. Received: arch={arch!r}, aux_logits={aux_logits!r}"
        )
    if not isinstance(aux_logits, bool):
        raise ValueError(f"`aux_logits` must be True or False. Received: aux_logits={aux_logits!r}")
    _common.check_rate("dropout", dropout)
    return style, aux_logits


def _check_aux_weights(arch, include_top, weights, aux_logits):
    """The hosted weights (keras.applications') have no auxiliary head."""
    if weights == "imagenet" and include_top and aux_logits:
        # Decided: refuse rather than silently drop the head the caller asked for.
        raise ValueError(
            f"The hosted ImageNet weights of {arch} (keras.applications') have no auxiliary "
            "head: pass aux_logits=False (or include_top=False) with weights='imagenet'. "
            f"Received: weights='imagenet', include_top=True, aux_logits=True"
        )


def _features(api, img_input, stem, style):
    """The stem and mixed0..mixed10; returns the last grid and the auxiliary head's input."""
    aux_input = None
    with _building(style):
        x = _stem(api, img_input, stem)
        for module_name, kind, options in MODULES:
            x = _MODULE_BUILDERS[kind](api, x, module_name, **options)
            if module_name == AUX_AFTER:
                aux_input = x
    return x, aux_input


# Registry entries: figures at the default configuration (299x299x3, 1000
# classes, auxiliary head on), recomputed by tests/test_inception_v3.py.
# ``params`` counts the whole model (auxiliary head included); ``macs`` the main
# path (``heads.inference_model``), which is what Table 3's "cost" is about.
_PAPER = "Szegedy et al. 2015, Rethinking the Inception Architecture for Computer Vision"
LOSS_WEIGHTS = {"predictions": 1.0, "aux": AUX_LOSS_WEIGHT}


def _row(text):
    return {"notes": [f"paper: {text}"]}


# The seed's Table 1 rows beside our blocks (the paper prints each row's input
# size, no per-row cost); "ref" says where the reference (and we) differ.
_STEM_ROWS_V3 = {
    "stem_conv1": _row("conv 3x3/2, in 299x299x3"),
    "stem_conv2": _row("conv 3x3/1, in 149x149x32"),
    "stem_conv3": _row("conv padded 3x3/1, in 147x147x32"),
    "stem_pool1": _row("pool 3x3/2, in 147x147x64"),
    "stem_conv4": _row("conv 3x3/1, in 73x73x64 (ref: 1x1 conv to 80)"),
    "stem_conv5": _row("conv 3x3/2, in 71x71x80 (ref: 3x3/1 valid to 192)"),
    "stem_pool2": _row("conv 3x3/1, in 35x35x192 (ref: 3x3/2 max pool)"),
}
_STEM_ROWS_V2 = {
    "stem_conv1": _row("1 layer F=7, S=2 (seed note) instead of the first three, in 299x299x3"),
    "stem_pool1": _row("pool 3x3/2, in 147x147x64"),
    "stem_conv2": _row("conv 3x3/1, in 73x73x64 (ref: 1x1 conv to 80)"),
    "stem_conv3": _row("conv 3x3/2, in 71x71x80 (ref: 3x3/1 valid to 192)"),
    "stem_pool2": _row("conv 3x3/1, in 35x35x192 (ref: 3x3/2 max pool)"),
}
_BODY_ROWS = {
    "mixed0": _row("3x Inception (Fig. 5), in 35x35x288 (ref: 192 in, 256 out)"),
    "mixed1": _row("3x Inception (Fig. 5), in 35x35x288"),
    "mixed2": _row("3x Inception (Fig. 5), in 35x35x288"),
    "mixed3": _row("grid reduction 35->17 (Fig. 10 kind), out 17x17x768"),
    "mixed4": _row("5x Inception (Fig. 6), in 17x17x768"),
    "mixed5": _row("5x Inception (Fig. 6), in 17x17x768"),
    "mixed6": _row("5x Inception (Fig. 6), in 17x17x768"),
    "mixed7": _row("5x Inception (Fig. 6), in 17x17x768"),
    "mixed8": _row("17->8 reduction (ref; in 17x17x768), out 8x8x1280"),
    "mixed9": _row("2x Inception (Fig. 7), in 8x8x1280"),
    "mixed10": _row("2x Inception (Fig. 7), in 8x8x2048"),
    "avg_pool": _row("pool 8x8, in 8x8x2048"),
    "predictions": _row("linear logits in 1x1x2048; softmax classifier 1x1x1000"),
    "aux": _row("auxiliary classifier (Fig. 8) on 17x17x768"),
}
PAPER_ROWS = {
    "inception_v3": {**_STEM_ROWS_V3, **_BODY_ROWS},
    "inception_v2": {**_STEM_ROWS_V2, **_BODY_ROWS},
}


def _inception(arch, params, trainable, macs, paper_macs) -> dict:
    """The registry fields of ``arch`` at its defaults (family "inception")."""
    stem, aux_bn = VARIANTS[arch]
    return dict(
        family="inception",
        paper=_PAPER,
        input_shape=(299, 299, 3),
        classes=1000,
        preprocessing="tf",
        params=params,
        trainable_params=trainable,
        macs=macs,
        paper_macs=paper_macs,
        hosted_weights=arch in weights_lib.hosted_models(),
        outputs=("predictions", "aux"),
        loss_weights=dict(LOSS_WEIGHTS),
        min_input_size=MIN_SIZE_AUX,
        notes=(
            f"{'3x3' if stem == 'v3' else '7x7/2'} stem, "
            f"aux head {'with' if aux_bn else 'without'} BN; "
            f"min input {MIN_SIZE_AUX} with aux, {MIN_SIZE} without; macs: main path"
        ),
        paper_rows=PAPER_ROWS[arch],
    )


@register_model(
    "inception_v3", **_inception("inception_v3", 27_179_376, 27_143_152, 5_713_216_096, 4.8e9)
)
# At 299: trainable parameters and multiply-adds equal timm's 23.83M (no aux head) and
# torchvision's _ops (5.713 GMACs).
@register_model(
    "inception_v3_torch",
    family="inception_torch",
    paper=_PAPER + " (as torchvision and timm build it)",
    input_shape=(299, 299, 3),
    classes=1000,
    preprocessing="tf",  # [-1, 1]: torchvision's transform_input, timm's tv/tf weights
    params=23_869_000,
    trainable_params=23_834_568,
    macs=5_713_216_096,
    overrides={"style": "torch", "name": "inception_v3_torch"},
    outputs=("predictions",),
    min_input_size=MIN_SIZE,
    notes="style='torch': BN with scale, pools counting padding, no aux head",
)
def InceptionV3(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
    *,
    aux_logits=None,
    dropout=DEFAULT_DROPOUT,
    style=None,
):
    """Builds Inception v3 (Szegedy et al. 2015, Table 1); arguments as :func:`Inception`.

    With ``aux_logits=False``, the layers of ``keras.applications.InceptionV3``.

    Example:
        >>> from keras_convnets.models.inception_v3 import InceptionV3
        >>> model = InceptionV3(input_shape=(75, 75, 3), classes=10, aux_logits=False)
        >>> model.output_shape
        (None, 10)
    """
    return Inception("inception_v3", **locals())


@register_model(
    "inception_v2", **_inception("inception_v2", 27_158_288, 27_123_984, 5_299_886_272, 3.8e9)
)
def InceptionV2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v2",
    *,
    aux_logits=None,
    dropout=DEFAULT_DROPOUT,
    style=None,
):
    """Builds Inception v2 (Szegedy et al. 2015, Table 1); arguments as :func:`Inception`.

    v3 with a 7x7/2 stem and no BN in the auxiliary head.

    Example:
        >>> from keras_convnets.models.inception_v3 import InceptionV2
        >>> model = InceptionV2(input_shape=(75, 75, 3), classes=10, aux_logits=False)
        >>> model.output_shape
        (None, 10)
    """
    return Inception("inception_v2", **locals())
