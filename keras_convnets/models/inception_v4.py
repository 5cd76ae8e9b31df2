"""Inception-v4 of Szegedy et al. 2016, "Inception-v4, Inception-ResNet and the
Impact of Residual Connections on Learning" (arXiv:1602.07261), Figures 3-9.

The network is the one whose weights were released (TF-slim's
``inception_v4``, ported by timm as ``inception_v4.tf_in1k``), which is the
paper's Fig. 9 with its Figures 3-8 as drawn:

* stem (Fig. 3): 3x3/2 32 V, 3x3 32 V, 3x3 64; then ``mixed_3a`` (3x3/2 max
  pool | 3x3/2 96 V), ``mixed_4a`` (1x1 64, 3x3 96 V | 1x1 64, 1x7 64, 7x1 64,
  3x3 96 V) and ``mixed_5a`` (3x3/2 192 V | max pool): 35x35x384 at 299;
* 4 x Inception-A (Fig. 4, ``mixed_5b`` .. ``mixed_5e``), Reduction-A (Fig. 7
  with k, l, m, n = 192, 224, 256, 384, ``mixed_6a``), 7 x Inception-B (Fig. 5,
  ``mixed_6b`` .. ``mixed_6h``), Reduction-B (Fig. 8, ``mixed_7a``), 3 x
  Inception-C (Fig. 6, ``mixed_7b`` .. ``mixed_7d``): 8x8x1536;
* average pooling, dropout (keep 0.8, Fig. 9) and the 1000-way softmax.

"V" convolutions are unpadded ('valid'), the others 'same'; the average pools
of the Inception blocks (3x3, stride 1) count only the pixels inside the image,
as TF-slim's and timm's (``count_include_pad=False``). Every convolution has no
bias and is followed by batch norm (epsilon 1e-3, with a scale, as timm builds
it; TF-slim's released weights have none, i.e. a scale of 1) and ReLU.

Layer names follow timm's module paths, so that a state dict converts by name:
the blocks are TF-slim's (``stem_1`` .. ``stem_3``, ``mixed_3a`` ..
``mixed_7d``), each convolution is ``<block>_<branch>`` with timm's branch path
(``mixed_5b_b1_1`` is ``features.6.branch1.1``, ``mixed_7b_b2_3a`` is
``features.19.branch2_3a``; ``mixed_3a_conv`` is ``features.3.conv.conv``), followed
by ``<name>_bn`` and ``<name>_ac``; the concatenations carry the block's name.
Preprocessing: ``"tf"`` (pixels to [-1, 1]; timm's mean = std = 0.5).
"""

from __future__ import annotations

import functools

from keras_convnets.models import _common
from keras_convnets.models.pretrained.convert import INCEPTION_V4_BLOCKS as BLOCK_NAMES
from keras_convnets.models.registry import register_model

# The paper of Inception-v4 and of Inception-ResNet-v1/v2 (keras_convnets.models.inception_resnet).
PAPER = (
    "Szegedy et al. 2016, Inception-v4, Inception-ResNet and the Impact of Residual "
    "Connections on Learning"
)
BN_EPSILON = 1e-3  # TF-slim's and timm's
BN_MOMENTUM = 0.9997  # TF-slim's batch_norm_decay for Inception-v4
DEFAULT_INPUT_SHAPE = (299, 299, 3)
MIN_SIZE = 75  # the stem's three stride-2 reductions and the two reduction blocks, all 'valid'
DEFAULT_DROPOUT = 0.2  # Fig. 9: "Dropout (keep 0.8)"
BLOCKS = (4, 7, 3)  # Inception-A, -B, -C (Fig. 9)
INPUT_RULE = _common.InputRule(
    DEFAULT_INPUT_SHAPE,
    MIN_SIZE,
    "the stem's and the reductions' valid 3x3/2 convolutions need it",
)


def conv_bn(api, x, filters, kernel, *, name, strides=1, padding="same"):
    """``Conv2D`` (no bias) -> ``BatchNormalization`` -> ReLU, timm's ``ConvNormAct``."""
    layers = api.layers
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(
        x
    )
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_ac")(x)


def _column(api, x, block, branch, convs, *, start=0):
    """One branch: ``convs`` = ``[(filters, kernel, strides, padding), ...]`` in order,
    named ``<block>_b<branch>_<position>`` from ``start`` (timm's Sequential index)."""
    for k, (filters, kernel, strides, padding) in enumerate(convs, start=start):
        name = f"{block}_b{branch}" if len(convs) == 1 and start == 0 else f"{block}_b{branch}_{k}"
        x = conv_bn(api, x, filters, kernel, strides=strides, padding=padding, name=name)
    return x


def _same(filters, kernel):
    return (filters, kernel, 1, "same")


def _valid(filters, kernel, strides=1):
    return (filters, kernel, strides, "valid")


def _pool_branch(api, x, block, filters):
    """3x3/1 average pool (pixels inside the image only), then a 1x1: timm's ``branch3``."""
    pool = api.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{block}_pool")(x)
    return _column(api, pool, block, 3, [_same(filters, 1)], start=1)


def _stem(api, x):
    """Fig. 3: 299x299x3 -> 35x35x384."""
    layers = api.layers
    x = conv_bn(api, x, 32, 3, strides=2, padding="valid", name="stem_1")
    x = conv_bn(api, x, 32, 3, padding="valid", name="stem_2")
    x = conv_bn(api, x, 64, 3, name="stem_3")
    pool = layers.MaxPooling2D(3, strides=2, name="mixed_3a_pool")(x)
    conv = conv_bn(api, x, 96, 3, strides=2, padding="valid", name="mixed_3a_conv")
    x = layers.Concatenate(name="mixed_3a")([pool, conv])
    b0 = _column(api, x, "mixed_4a", 0, [_same(64, 1), _valid(96, 3)])
    b1 = _column(
        api, x, "mixed_4a", 1, [_same(64, 1), _same(64, (1, 7)), _same(64, (7, 1)), _valid(96, 3)]
    )
    x = layers.Concatenate(name="mixed_4a")([b0, b1])
    conv = conv_bn(api, x, 192, 3, strides=2, padding="valid", name="mixed_5a_conv")
    pool = layers.MaxPooling2D(3, strides=2, name="mixed_5a_pool")(x)
    return layers.Concatenate(name="mixed_5a")([conv, pool])


def inception_a(api, x, block):
    """Fig. 4: 35x35, 4 x 96 channels."""
    branches = [
        _column(api, x, block, 0, [_same(96, 1)]),
        _column(api, x, block, 1, [_same(64, 1), _same(96, 3)]),
        _column(api, x, block, 2, [_same(64, 1), _same(96, 3), _same(96, 3)]),
        _pool_branch(api, x, block, 96),
    ]
    return api.layers.Concatenate(name=block)(branches)


def reduction_a(api, x, block="mixed_6a"):
    """Fig. 7 with k, l, m, n = 192, 224, 256, 384: 35x35x384 -> 17x17x1024."""
    branches = [
        _column(api, x, block, 0, [_valid(384, 3, 2)]),
        _column(api, x, block, 1, [_same(192, 1), _same(224, 3), _valid(256, 3, 2)]),
        api.layers.MaxPooling2D(3, strides=2, name=f"{block}_pool")(x),
    ]
    return api.layers.Concatenate(name=block)(branches)


def inception_b(api, x, block):
    """Fig. 5: 17x17, 384 + 256 + 256 + 128 channels."""
    seven = [_same(192, 1), _same(192, (7, 1)), _same(224, (1, 7)), _same(224, (7, 1))]
    branches = [
        _column(api, x, block, 0, [_same(384, 1)]),
        _column(api, x, block, 1, [_same(192, 1), _same(224, (1, 7)), _same(256, (7, 1))]),
        _column(api, x, block, 2, [*seven, _same(256, (1, 7))]),
        _pool_branch(api, x, block, 128),
    ]
    return api.layers.Concatenate(name=block)(branches)


def reduction_b(api, x, block="mixed_7a"):
    """Fig. 8: 17x17x1024 -> 8x8x1536."""
    branches = [
        _column(api, x, block, 0, [_same(192, 1), _valid(192, 3, 2)]),
        _column(
            api,
            x,
            block,
            1,
            [_same(256, 1), _same(256, (1, 7)), _same(320, (7, 1)), _valid(320, 3, 2)],
        ),
        api.layers.MaxPooling2D(3, strides=2, name=f"{block}_pool")(x),
    ]
    return api.layers.Concatenate(name=block)(branches)


def inception_c(api, x, block):
    """Fig. 6: 8x8, 256 + 2 x 256 + 2 x 256 + 256 channels (timm's ``branch1_*``, ``branch2_*``)."""
    layers = api.layers
    b0 = conv_bn(api, x, 256, 1, name=f"{block}_b0")
    b1 = conv_bn(api, x, 384, 1, name=f"{block}_b1_0")
    b1 = layers.Concatenate(name=f"{block}_b1")(
        [
            conv_bn(api, b1, 256, (1, 3), name=f"{block}_b1_1a"),
            conv_bn(api, b1, 256, (3, 1), name=f"{block}_b1_1b"),
        ]
    )
    b2 = conv_bn(api, x, 384, 1, name=f"{block}_b2_0")
    b2 = conv_bn(api, b2, 448, (3, 1), name=f"{block}_b2_1")
    b2 = conv_bn(api, b2, 512, (1, 3), name=f"{block}_b2_2")
    b2 = layers.Concatenate(name=f"{block}_b2")(
        [
            conv_bn(api, b2, 256, (1, 3), name=f"{block}_b2_3a"),
            conv_bn(api, b2, 256, (3, 1), name=f"{block}_b2_3b"),
        ]
    )
    return layers.Concatenate(name=block)([b0, b1, b2, _pool_branch(api, x, block, 256)])


def _features(api, img_input):
    """Fig. 9 up to the last Inception-C block (8x8x1536 at 299)."""
    x = _stem(api, img_input)
    names = iter(BLOCK_NAMES[3:])
    for _ in range(BLOCKS[0]):
        x = inception_a(api, x, next(names))
    x = reduction_a(api, x, next(names))
    for _ in range(BLOCKS[1]):
        x = inception_b(api, x, next(names))
    x = reduction_b(api, x, next(names))
    for _ in range(BLOCKS[2]):
        x = inception_c(api, x, next(names))
    return x


@register_model(
    "inception_v4",
    family="inception_v4",
    paper=PAPER,
    input_shape=DEFAULT_INPUT_SHAPE,
    classes=1000,
    preprocessing="tf",
    params=42_742_984,
    trainable_params=42_679_816,
    macs=12_253_974_624,
    min_input_size=MIN_SIZE,
    notes="the released (TF-slim, timm) network; BN with a scale as timm; dropout 0.2",
)
def InceptionV4(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v4",
    *,
    dropout=DEFAULT_DROPOUT,
):
    """Builds Inception-v4 (Szegedy et al. 2016, Fig. 9).

    Arguments are those of keras.applications (``weights``: ``None``,
    ``"timm"`` / ``"timm:inception_v4.tf_in1k"`` for timm's port of the
    TF-slim weights, converted without PyTorch, or the path of a weights file),
    plus keyword-only ``dropout``: the rate before the classifier (default 0.2,
    the paper's keep probability 0.8). The input is at least 75x75 (default
    299x299x3); preprocessing ``"tf"``.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.InceptionV4(input_shape=(75, 75, 3), classes=10).output_shape
        (None, 10)
    """
    _common.check_rate("dropout", dropout)
    return _common.build_application(
        "inception_v4",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        input_rule=INPUT_RULE,
        features=lambda api, img_input, _: _features(api, img_input),
        head=functools.partial(_common.classifier_top, dropout=dropout),
        options=dict(dropout=dropout),
    )
