"""ResNet v2 of He et al. 2016, "Identity Mappings in Deep Residual Networks".

Pre-activation units (Fig. 1(b), Fig. 4(e)): each residual unit is
``BN -> ReLU -> conv`` three times (1x1, 3x3, 1x1 x4), the addition is a
clean identity (no ReLU after it), and one ``post_bn``/``post_relu`` follows
the last unit. The structure, layer names and weights order are exactly those
of ``keras.applications.ResNet50V2/101V2/152V2``, so their weights files load
unchanged (``tests/test_resnet_v2.py`` loads a saved keras.applications model
both ways and compares the outputs):

* the stem is a 7x7/2 convolution with bias and a 3x3/2 max pool, without
  BN or ReLU (the first unit pre-activates it);
* the first unit of a stage takes its 1x1 projection shortcut (``*_0_conv``)
  from the pre-activated input; the others keep an identity;
* as in keras.applications (and the authors' Torch code), the down-sampling
  stride sits in the *last* unit of conv2 ... conv4 (its 3x3 convolution, the
  shortcut by a 1x1/2 max pool), conv5 keeps the resolution it gets;
* the 1x1 and 3x3 convolutions have no bias, the last 1x1 and the projection
  have one (keras.applications' layout).

Layer names: ``conv1_pad``, ``conv1_conv``, ``pool1_pad``, ``pool1_pool``,
``conv{stage}_block{i}_preact_bn|preact_relu``, ``..._{1,2,3}_conv``,
``..._{1,2}_bn|relu``, ``..._2_pad``, ``..._0_conv`` (projection),
``..._out`` (addition), ``post_bn``, ``post_relu``, ``avg_pool``/``max_pool``,
``predictions``. Preprocessing: keras.applications' ``"tf"`` mode (pixels to
[-1, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_convnets.models import _common
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.registry import register_model

BN_EPSILON = 1.001e-5  # as keras.applications
BN_MOMENTUM = 0.9  # as keras_convnets.models.resnet; not a weight


@dataclass(frozen=True)
class ResNetV2Spec:
    """One pre-activation network: the bottleneck stages ``(filters, blocks, stride)``."""

    stages: tuple[tuple[int, int, int], ...]  # conv2_x ... conv5_x; stride of the last unit

    @property
    def depth(self) -> int:
        return 2 + 3 * sum(blocks for _, blocks, _ in self.stages)


# keras.applications' stack_fn of ResNet50V2/101V2/152V2 (Table 1's block counts).
RESNET_V2_SPECS = {
    "resnet50v2": ResNetV2Spec(((64, 3, 2), (128, 4, 2), (256, 6, 2), (512, 3, 1))),
    "resnet101v2": ResNetV2Spec(((64, 3, 2), (128, 4, 2), (256, 23, 2), (512, 3, 1))),
    "resnet152v2": ResNetV2Spec(((64, 3, 2), (128, 8, 2), (256, 36, 2), (512, 3, 1))),
}
DEFAULT_INPUT_SHAPE = (224, 224, 3)
TOTAL_STRIDE = 32
INPUT_RULE = _common.InputRule(
    DEFAULT_INPUT_SHAPE, TOTAL_STRIDE, f"the network's total stride is {TOTAL_STRIDE}"
)


def _bn(api, name):
    return api.layers.BatchNormalization(
        axis=-1, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name
    )


def preact_bottleneck(api, x, filters, *, stride=1, projection=False, name):
    """One pre-activation bottleneck unit (keras.applications' ``block2``)."""
    layers = api.layers
    preact = _bn(api, f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if projection:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    elif stride > 1:
        shortcut = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    else:
        shortcut = x
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    y = _bn(api, f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(y)
    y = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(y)
    y = _bn(api, f"{name}_2_bn")(y)
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    return layers.Add(name=f"{name}_out")([shortcut, y])


def _features(api, img_input, spec: ResNetV2Spec):
    """Stem, the four stages and the final pre-activation."""
    layers = api.layers
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks, stride) in enumerate(spec.stages, start=2):
        for i in range(1, blocks + 1):
            x = preact_bottleneck(
                api,
                x,
                filters,
                stride=stride if i == blocks else 1,
                projection=i == 1,
                name=f"conv{stage}_block{i}",
            )
    x = _bn(api, "post_bn")(x)
    return layers.Activation("relu", name="post_relu")(x)


def ResNetV2(
    arch,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """Builds the pre-activation ResNet ``arch`` (a key of :data:`RESNET_V2_SPECS`).

    Arguments are those of ``keras.applications.ResNet50V2``; ``weights`` is
    ``None``, ``"imagenet"`` (keras.applications' files, MD5-checked) or the
    path of a weights file (checked layer by layer before loading).
    """
    if arch not in RESNET_V2_SPECS:
        raise ValueError(
            f"`arch` must be one of {sorted(RESNET_V2_SPECS)}. Received: arch={arch!r}"
        )
    name = arch if name is None else name
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
        input_rule=INPUT_RULE,
        features=lambda api, img_input, _: _features(api, img_input, RESNET_V2_SPECS[arch]),
    )


_PAPER = "He et al. 2016, Identity Mappings in Deep Residual Networks"


def _v2(arch, params, trainable, macs) -> dict:
    """The registry fields of the pre-activation ResNet ``arch`` (family "resnet_v2")."""
    return dict(
        family="resnet_v2",
        paper=_PAPER,
        input_shape=DEFAULT_INPUT_SHAPE,
        classes=1000,
        preprocessing="tf",
        params=params,
        trainable_params=trainable,
        macs=macs,
        hosted_weights=arch in weights_lib.HOSTED_WEIGHTS,
        min_input_size=TOTAL_STRIDE,
        notes=f"pre-activation, depth {RESNET_V2_SPECS[arch].depth}, as keras.applications",
    )


@register_model("resnet50v2", **_v2("resnet50v2", 25_613_800, 25_568_360, 3_482_255_360))
def ResNet50V2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
):
    """Builds ResNet-50 v2 (He et al. 2016), as ``keras.applications.ResNet50V2``.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet50V2(input_shape=(64, 64, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNetV2("resnet50v2", **locals())


@register_model("resnet101v2", **_v2("resnet101v2", 44_675_560, 44_577_896, 7_194_476_544))
def ResNet101V2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
):
    """Builds ResNet-101 v2 (He et al. 2016), as ``keras.applications.ResNet101V2``.

    Example:
        >>> import keras_convnets
        >>> model = keras_convnets.ResNet101V2(include_top=False, input_shape=(64, 64, 3))
        >>> model.output_shape, model.count_params()
        ((None, 2, 2, 2048), 42626560)
    """
    return ResNetV2("resnet101v2", **locals())


@register_model("resnet152v2", **_v2("resnet152v2", 60_380_648, 60_236_904, 10_906_697_728))
def ResNet152V2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
):
    """Builds ResNet-152 v2 (He et al. 2016), as ``keras.applications.ResNet152V2``.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet152V2(include_top=False, pooling="avg").output_shape
        (None, 2048)
    """
    return ResNetV2("resnet152v2", **locals())
