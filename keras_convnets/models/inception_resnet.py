"""Inception-ResNet-v1 and -v2 of Szegedy et al. 2016, "Inception-v4,
Inception-ResNet and the Impact of Residual Connections on Learning"
(arXiv:1602.07261).

Inception-ResNet-v1 (``InceptionResNetV1``) has no released weights and is
built from the paper's figures: the stem of Fig. 14 (3x3/2 32 V, 3x3 32 V,
3x3 64, 3x3/2 max pool, 1x1 80, 3x3 192 V, 3x3/2 256 V: 35x35x256), 5 x
Inception-ResNet-A (Fig. 10), Reduction-A (Fig. 7 with k, l, m, n = 192, 192,
256, 384), 10 x B (Fig. 11), Reduction-B (Fig. 12), 5 x C (Fig. 13), average
pooling, dropout (keep 0.8) and the softmax (Fig. 15): 22,742,808 trainable
parameters and 6.21 G multiply-adds at 299, "roughly the computational cost of
Inception-v3" (5.71 G here), as the paper says; it prints no parameter count.
It shares v2's layer names (``stem_1`` .. ``stem_6``, ``block35_1`` ..,
``mixed_6a``, ``block17_*``, ``mixed_7a``, ``block8_*``); every block ends in
ReLU and no 1x1 ``conv_7b`` follows the last, as the figures draw it; its
convolutions are v2's ``conv_bn`` (no bias, BN without scale, epsilon 1e-3).

Inception-ResNet-v2:

The network is the one whose weights were released, TF-slim's and
keras.applications' ``InceptionResNetV2``, and its structure and weights
order are exactly keras.applications', so its weights files load unchanged
(``tests/test_inception_resnet.py`` loads a saved keras.applications model both
ways and compares the outputs). Where that network differs from the paper's
figures, we follow the released network:

* the stem is Inception v3's (3x3/2, 3x3, 3x3, pool, 1x1 80, 3x3 192, pool)
  followed by the Inception-A-like ``mixed_5b`` (320 channels), not the
  paper's Fig. 3 stem (384 channels);
* the reductions' and blocks' widths are TF-slim's (Fig. 16-19 give the same
  branch layout; the 1x1 "linear" up-projections restore 320, 1088 and 2080
  channels);
* ``conv_7b`` (1x1, 1536) follows the last Inception-C block, whose residual is
  added unscaled and without ReLU.

Blocks: 10 x Inception-ResNet-A (``block35_*``, 35x35 at 299), 20 x B
(``block17_*``, 17x17), 10 x C (``block8_*``, 8x8); each adds
``scale * residual`` to its input (Fig. 20), with keras.applications' scales
0.17, 0.1 and 0.2 by default; the paper advises 0.1-0.3 and ``scales`` sets
them.

Layer names: the concatenations, the blocks' up-projections, their activations
and the head are named as keras.applications names them (``mixed_5b``,
``mixed_6a``, ``mixed_7a``, ``block35_1_mixed``, ``block35_1_conv``,
``block35_1_ac``, ``conv_7b``, ``conv_7b_bn``, ``conv_7b_ac``, ``avg_pool``,
``predictions``); keras.applications leaves the other layers unnamed
(``conv2d_7``), which we name after their place: ``stem_1`` ... ``stem_5``,
``mixed_5b_b1_2``, ``block17_3_b1_2`` (block, branch, position), each
``Conv2D`` followed by ``<name>_bn`` and ``<name>_ac``; the residual sums are
``<block>_add``. Keras matches weights by layer order and class, not by these
names. Preprocessing: keras.applications' ``"tf"`` mode (pixels to [-1, 1]).
"""

from __future__ import annotations

import functools

from keras_convnets.models import _common
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.inception_v4 import PAPER
from keras_convnets.models.registry import register_model

BN_EPSILON = 1e-3  # keras.applications' conv2d_bn: BatchNormalization(scale=False) defaults
BN_MOMENTUM = 0.99
DEFAULT_SCALES = (0.17, 0.1, 0.2)  # Inception-ResNet-A, -B, -C, as keras.applications / TF-slim
BLOCKS = (10, 20, 10)
V1_BLOCKS = (5, 10, 5)  # Fig. 15
DEFAULT_DROPOUT = 0.2  # Inception-ResNet-v1 (Fig. 15): "Dropout (keep 0.8)"
DEFAULT_INPUT_SHAPE = (299, 299, 3)
MIN_SIZE = 75  # as keras.applications: three valid 3x3/2 reductions and two in the stem
INPUT_RULE = _common.InputRule(
    DEFAULT_INPUT_SHAPE,
    MIN_SIZE,
    "the stem's and the reductions' valid 3x3/2 convolutions need it",
)


def conv_bn(api, x, filters, kernel, *, name, strides=1, padding="same", activation="relu"):
    """``Conv2D`` (no bias) -> ``BatchNormalization`` (no gamma) -> ReLU, keras.applications'."""
    layers = api.layers
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(
        x
    )
    x = layers.BatchNormalization(
        axis=-1, scale=False, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn"
    )(x)
    if activation is None:
        return x
    return layers.Activation(activation, name=f"{name}_ac")(x)


def _branches(api, x, name, columns):
    """Builds each column ``[(filters, kernel), ...]`` of 'same' conv_bn's, in order."""
    outputs = []
    for b, column in enumerate(columns):
        y = x
        for k, (filters, kernel) in enumerate(column, start=1):
            y = conv_bn(api, y, filters, kernel, name=f"{name}_b{b}_{k}")
        outputs.append(y)
    return outputs


# The residual branches of the three block types (keras.applications' block35/17/8).
BLOCK_COLUMNS = {
    "block35": (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))),
    "block17": (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))),
    "block8": (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))),
}


# Inception-ResNet-v1's (Figs. 10, 11, 13): narrower branches of the same layout.
V1_BLOCK_COLUMNS = {
    "block35": (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (32, 3), (32, 3))),
    "block17": (((128, 1),), ((128, 1), (128, (1, 7)), (128, (7, 1)))),
    "block8": (((192, 1),), ((192, 1), (192, (1, 3)), (192, (3, 1)))),
}


def inception_resnet_block(
    api, x, block_type, index, *, scale, activation="relu", columns=BLOCK_COLUMNS
):
    """One Inception-ResNet block: ``x + scale * up(concat(branches))``, then ReLU;
    ``columns`` is v2's :data:`BLOCK_COLUMNS` or v1's :data:`V1_BLOCK_COLUMNS`."""
    layers = api.layers
    name = f"{block_type}_{index}"
    branches = _branches(api, x, name, columns[block_type])
    mixed = layers.Concatenate(axis=-1, name=f"{name}_mixed")(branches)
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)
    x = api.custom.ScaledResidual(scale, name=f"{name}_add")([x, up])
    if activation is None:
        return x
    return layers.Activation(activation, name=f"{name}_ac")(x)


def _stem(api, x):
    """Inception v3's stem, then ``mixed_5b`` (35x35x320 at 299)."""
    layers = api.layers
    x = conv_bn(api, x, 32, 3, strides=2, padding="valid", name="stem_1")
    x = conv_bn(api, x, 32, 3, padding="valid", name="stem_2")
    x = conv_bn(api, x, 64, 3, name="stem_3")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv_bn(api, x, 80, 1, padding="valid", name="stem_4")
    x = conv_bn(api, x, 192, 3, padding="valid", name="stem_5")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)
    branches = _branches(
        api, x, "mixed_5b", (((96, 1),), ((48, 1), (64, 5)), ((64, 1), (96, 3), (96, 3)))
    )
    pool = layers.AveragePooling2D(3, strides=1, padding="same", name="mixed_5b_pool")(x)
    branches.append(conv_bn(api, pool, 64, 1, name="mixed_5b_b3_1"))
    return layers.Concatenate(axis=-1, name="mixed_5b")(branches)


def _reduction_a(api, x):
    """35x35 -> 17x17 (Fig. 7 with k, l, m, n = 256, 256, 384, 384): ``mixed_6a``."""
    layers = api.layers
    b0 = conv_bn(api, x, 384, 3, strides=2, padding="valid", name="mixed_6a_b0_1")
    b1 = conv_bn(api, x, 256, 1, name="mixed_6a_b1_1")
    b1 = conv_bn(api, b1, 256, 3, name="mixed_6a_b1_2")
    b1 = conv_bn(api, b1, 384, 3, strides=2, padding="valid", name="mixed_6a_b1_3")
    pool = layers.MaxPooling2D(3, strides=2, padding="valid", name="mixed_6a_pool")(x)
    return layers.Concatenate(axis=-1, name="mixed_6a")([b0, b1, pool])


def _reduction_b(api, x, branch_widths=((256, 384), (256, 288), (256, 288, 320))):
    """17x17 -> 8x8 (Fig. 18): ``mixed_7a``; ``branch_widths``: each convolution branch's."""
    layers = api.layers
    outputs = []
    for b, widths in enumerate(branch_widths):
        y = x
        for k, filters in enumerate(widths, start=1):
            last = k == len(widths)
            y = conv_bn(
                api,
                y,
                filters,
                1 if k == 1 else 3,
                strides=2 if last else 1,
                padding="valid" if last else "same",
                name=f"mixed_7a_b{b}_{k}",
            )
        outputs.append(y)
    outputs.append(layers.MaxPooling2D(3, strides=2, padding="valid", name="mixed_7a_pool")(x))
    return layers.Concatenate(axis=-1, name="mixed_7a")(outputs)


def _features(api, img_input, scales):
    """Stem, 10 x A, reduction A, 20 x B, reduction B, 10 x C, ``conv_7b``."""
    x = _stem(api, img_input)
    for i in range(1, BLOCKS[0] + 1):
        x = inception_resnet_block(api, x, "block35", i, scale=scales[0])
    x = _reduction_a(api, x)
    for i in range(1, BLOCKS[1] + 1):
        x = inception_resnet_block(api, x, "block17", i, scale=scales[1])
    x = _reduction_b(api, x)
    for i in range(1, BLOCKS[2]):
        x = inception_resnet_block(api, x, "block8", i, scale=scales[2])
    x = inception_resnet_block(api, x, "block8", BLOCKS[2], scale=1.0, activation=None)
    return conv_bn(api, x, 1536, 1, name="conv_7b")


def _v1_stem(api, x):
    """Inception-ResNet-v1's stem (Fig. 14): 299x299x3 -> 35x35x256."""
    x = conv_bn(api, x, 32, 3, strides=2, padding="valid", name="stem_1")
    x = conv_bn(api, x, 32, 3, padding="valid", name="stem_2")
    x = conv_bn(api, x, 64, 3, name="stem_3")
    x = api.layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv_bn(api, x, 80, 1, name="stem_4")
    x = conv_bn(api, x, 192, 3, padding="valid", name="stem_5")
    return conv_bn(api, x, 256, 3, strides=2, padding="valid", name="stem_6")


def _v1_reduction_a(api, x):
    """Fig. 7 with k, l, m, n = 192, 192, 256, 384: 35x35x256 -> 17x17x896 (``mixed_6a``)."""
    layers = api.layers
    b0 = conv_bn(api, x, 384, 3, strides=2, padding="valid", name="mixed_6a_b0_1")
    b1 = conv_bn(api, x, 192, 1, name="mixed_6a_b1_1")
    b1 = conv_bn(api, b1, 192, 3, name="mixed_6a_b1_2")
    b1 = conv_bn(api, b1, 256, 3, strides=2, padding="valid", name="mixed_6a_b1_3")
    pool = layers.MaxPooling2D(3, strides=2, padding="valid", name="mixed_6a_pool")(x)
    return layers.Concatenate(axis=-1, name="mixed_6a")([b0, b1, pool])


def _v1_reduction_b(api, x):
    """Fig. 12: 17x17x896 -> 8x8x1792 (``mixed_7a``): v2's layout, 384/256/256 wide."""
    return _reduction_b(api, x, branch_widths=((256, 384), (256, 256), (256, 256, 256)))


def _v1_features(api, img_input, scales):
    """Fig. 15: stem, 5 x A, reduction A, 10 x B, reduction B, 5 x C (8x8x1792 at 299)."""
    x = _v1_stem(api, img_input)
    for i in range(1, V1_BLOCKS[0] + 1):
        x = inception_resnet_block(api, x, "block35", i, scale=scales[0], columns=V1_BLOCK_COLUMNS)
    x = _v1_reduction_a(api, x)
    for i in range(1, V1_BLOCKS[1] + 1):
        x = inception_resnet_block(api, x, "block17", i, scale=scales[1], columns=V1_BLOCK_COLUMNS)
    x = _v1_reduction_b(api, x)
    for i in range(1, V1_BLOCKS[2] + 1):
        x = inception_resnet_block(api, x, "block8", i, scale=scales[2], columns=V1_BLOCK_COLUMNS)
    return x


def _resolve_scales(scales) -> tuple[float, float, float]:
    """``None`` (keras.applications'), one number for all three, or three numbers."""
    if scales is None:
        return DEFAULT_SCALES
    values = (scales,) * 3 if isinstance(scales, (int, float)) else scales
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != 3 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            "`scales` must be None, a number > 0 or three numbers > 0 (the Inception-ResNet-A, "
            f"-B and -C blocks' residual scales; the paper advises 0.1-0.3). Received: "
            f"scales={scales!r}"
        )
    return tuple(float(v) for v in values)


@register_model(
    "inception_resnet_v2",
    family="inception_resnet",
    paper=PAPER,
    input_shape=DEFAULT_INPUT_SHAPE,
    classes=1000,
    preprocessing="tf",
    params=55_873_736,
    trainable_params=55_813_192,
    macs=13_155_794_016,
    hosted_weights="inception_resnet_v2" in weights_lib.hosted_models(),
    min_input_size=MIN_SIZE,
    notes="the released (TF-slim, keras.applications) network; residual scales 0.17/0.1/0.2",
)
def InceptionResNetV2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_resnet_v2",
    *,
    scales=None,
):
    """Builds Inception-ResNet-v2 (Szegedy et al. 2016) as keras.applications' InceptionResNetV2.

    Arguments are those of keras.applications (``weights``: ``None``,
    ``"imagenet"`` for keras.applications' files, MD5-checked, or the path of a
    weights file), plus keyword-only ``scales``: the residual scales of the
    Inception-ResNet-A, -B and -C blocks (default ``None``: 0.17, 0.1, 0.2; one
    number sets all three). The input is at least 75x75 (default 299x299x3).

    Example:
        >>> import keras_convnets
        >>> keras_convnets.InceptionResNetV2(input_shape=(75, 75, 3), classes=10).output_shape
        (None, 10)
    """
    resolved = _resolve_scales(scales)
    return _common.build_application(
        "inception_resnet_v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        input_rule=INPUT_RULE,
        features=lambda api, img_input, _: _features(api, img_input, resolved),
        options=dict(scales=scales),
    )


@register_model(
    "inception_resnet_v1",
    family="inception_resnet",
    paper=PAPER,
    input_shape=DEFAULT_INPUT_SHAPE,
    classes=1000,
    preprocessing="tf",
    params=22_769_848,
    trainable_params=22_742_808,
    macs=6_206_361_696,  # the paper: "roughly the computational cost of Inception-v3" (5.71 G)
    min_input_size=MIN_SIZE,
    notes="the paper's Figs. 7 and 10-15 (no released weights); residual scales 0.17/0.1/0.2",
)
def InceptionResNetV1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_resnet_v1",
    *,
    scales=None,
    dropout=DEFAULT_DROPOUT,
):
    """Builds Inception-ResNet-v1 (Szegedy et al. 2016, Fig. 15), from the paper's figures.

    Arguments are those of keras.applications (no weights were released:
    ``weights`` is ``None`` or the path of a weights file), plus keyword-only
    ``scales`` (the Inception-ResNet-A, -B and -C residual scales, default
    0.17, 0.1, 0.2 as for v2; one number sets all three) and ``dropout`` (the
    rate before the classifier, default 0.2: the paper's keep 0.8). The input
    is at least 75x75 (default 299x299x3).

    Example:
        >>> import keras_convnets
        >>> keras_convnets.InceptionResNetV1(input_shape=(75, 75, 3), classes=10).output_shape
        (None, 10)
    """
    resolved = _resolve_scales(scales)
    _common.check_rate("dropout", dropout)
    return _common.build_application(
        "inception_resnet_v1",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        input_rule=INPUT_RULE,
        features=lambda api, img_input, _: _v1_features(api, img_input, resolved),
        head=functools.partial(_common.classifier_top, dropout=dropout),
        options=dict(scales=scales, dropout=dropout),
    )
