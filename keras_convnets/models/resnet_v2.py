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
        hosted_weights=arch in weights_lib.hosted_models(),
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


# ----------------------------------------------------------------------------- CIFAR (§4, §5)
#
# The CIFAR networks of the paper's Tables 2 and 3, as the authors' Torch code
# builds them (github.com/KaimingHe/resnet-1k-layers, resnet-pre-act.lua): a 3x3
# convolution of 16 filters with BN and ReLU, three stages of n units at 32x32,
# 16x16 and 8x8 (widths 16, 32, 64; a bottleneck unit outputs 4x its width), the
# stride in the first unit of stages 2 and 3 (its 3x3 convolution), a 1x1
# projection shortcut wherever the shape changes (identity elsewhere), global
# average pooling and the classifier. Depth 6n + 2 (basic units) or 9n + 2
# (bottleneck units). The first unit takes the stem's BN-ReLU as its
# pre-activation ("no_preact" in the authors' code); the first unit of stages 2
# and 3 pre-activates before the split, so the projection sees the activated
# input ("both_preact").

UNITS = (
    "original",  # Fig. 4(a): conv-BN-ReLU-conv-BN, addition, ReLU
    "bn_after_addition",  # Fig. 4(b): conv-BN-ReLU-conv, addition, BN, ReLU
    "relu_before_addition",  # Fig. 4(c): conv-BN-ReLU-conv-BN-ReLU, addition
    "relu_only_preact",  # Fig. 4(d): ReLU-conv-BN-ReLU-conv-BN, addition
    "full_preact",  # Fig. 4(e): BN-ReLU-conv-BN-ReLU-conv, addition (the paper's proposal)
)
PREACT_UNITS = ("relu_only_preact", "full_preact")

# Table 2: CIFAR-10 test error (%), median of 5 runs, for each unit ordering of Fig. 4.
TABLE_2_ERRORS = {
    "preact_resnet110": {
        "original": 6.61,
        "bn_after_addition": 8.17,
        "relu_before_addition": 7.84,
        "relu_only_preact": 6.71,
        "full_preact": 6.37,
    },
    "preact_resnet164": {
        "original": 5.93,
        "bn_after_addition": 6.50,
        "relu_before_addition": 6.14,
        "relu_only_preact": 5.91,
        "full_preact": 5.46,
    },
}
# Table 3: test error (%) of the full pre-activation units (CIFAR-100: the bottleneck nets).
TABLE_3_ERRORS = {
    "preact_resnet110": {"cifar10": 6.37},
    "preact_resnet164": {"cifar10": 5.46, "cifar100": 24.33},
    "preact_resnet1001": {"cifar10": 4.92, "cifar100": 22.71},
}


@dataclass(frozen=True)
class CifarPreActSpec:
    """One CIFAR network of the paper: ``n`` units per stage, basic or bottleneck."""

    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 x4)
    n: int
    widths: tuple[int, int, int] = (16, 32, 64)

    @property
    def depth(self) -> int:
        return (6 if self.block == "basic" else 9) * self.n + 2


CIFAR_PREACT_SPECS = {
    "preact_resnet110": CifarPreActSpec("basic", 18),
    "preact_resnet164": CifarPreActSpec("bottleneck", 18),
    "preact_resnet1001": CifarPreActSpec("bottleneck", 111),
}
CIFAR_INPUT_RULE = _common.InputRule((32, 32, 3), 4, "the network's total stride is 4")


def _conv(api, filters, kernel, stride, name):
    return api.layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )


def _unit_convs(block, width, stride):
    """``(filters, kernel, stride)`` of a unit's convolutions."""
    if block == "basic":
        return ((width, 3, stride), (width, 3, 1))
    return ((width, 1, 1), (width, 3, stride), (4 * width, 1, 1))


def cifar_unit(api, x, width, stride, *, block, unit, first=False, name):
    """One residual unit of the ordering ``unit`` (a key of :data:`UNITS`, Fig. 4).

    ``first``: the network's first unit, whose pre-activation is the stem's
    BN-ReLU (pre-activation orderings only).
    """
    layers = api.layers
    convs = _unit_convs(block, width, stride)
    out_channels = convs[-1][0]
    project = stride != 1 or x.shape[-1] != out_channels
    relu = layers.Activation
    if unit in PREACT_UNITS:
        full = unit == "full_preact"
        pre = x
        if not first:
            if full:
                pre = _bn(api, f"{name}_preact_bn")(pre)
            pre = relu("relu", name=f"{name}_preact_relu")(pre)
        shortcut = _conv(api, out_channels, 1, stride, f"{name}_0_conv")(pre) if project else x
        y = pre
        for i, (filters, kernel, s) in enumerate(convs, start=1):
            if i > 1:
                if full:
                    y = _bn(api, f"{name}_{i - 1}_bn")(y)
                y = relu("relu", name=f"{name}_{i - 1}_relu")(y)
            y = _conv(api, filters, kernel, s, f"{name}_{i}_conv")(y)
            if not full:
                y = _bn(api, f"{name}_{i}_bn")(y)
        return layers.Add(name=f"{name}_out")([shortcut, y])
    # The post-activation orderings (a)-(c).
    shortcut = x
    if project:
        shortcut = _conv(api, out_channels, 1, stride, f"{name}_0_conv")(x)
        if unit != "bn_after_addition":
            shortcut = _bn(api, f"{name}_0_bn")(shortcut)
    y = x
    for i, (filters, kernel, s) in enumerate(convs, start=1):
        last = i == len(convs)
        y = _conv(api, filters, kernel, s, f"{name}_{i}_conv")(y)
        if not (last and unit == "bn_after_addition"):
            y = _bn(api, f"{name}_{i}_bn")(y)
        if not last or unit == "relu_before_addition":
            y = relu("relu", name=f"{name}_{i}_relu")(y)
    if unit == "relu_before_addition":
        return layers.Add(name=f"{name}_out")([shortcut, y])
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    if unit == "bn_after_addition":
        y = _bn(api, f"{name}_add_bn")(y)
    return relu("relu", name=f"{name}_out")(y)


def _cifar_features(api, img_input, spec: CifarPreActSpec, unit):
    """Stem, the three stages and (pre-activation orderings) the final activation."""
    layers = api.layers
    x = _conv(api, spec.widths[0], 3, 1, "conv1_conv")(img_input)
    x = _bn(api, "conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    for stage, width in enumerate(spec.widths, start=2):
        for i in range(1, spec.n + 1):
            x = cifar_unit(
                api,
                x,
                width,
                2 if i == 1 and stage > 2 else 1,
                block=spec.block,
                unit=unit,
                first=stage == 2 and i == 1,
                name=f"conv{stage}_block{i}",
            )
    if unit == "full_preact":
        x = _bn(api, "post_bn")(x)
    if unit in PREACT_UNITS:  # the additions sum BN outputs (d) or convolutions (e)
        x = layers.Activation("relu", name="post_relu")(x)
    return x


def _check_unit(unit):
    if unit not in UNITS:
        raise ValueError(
            f"`unit` must be one of {', '.join(map(repr, UNITS))}. Received: unit={unit!r}"
        )


def PreActResNet(
    arch,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    *,
    unit="full_preact",
):
    """Builds the CIFAR network ``arch`` (a key of :data:`CIFAR_PREACT_SPECS`).

    Arguments are those of ``keras.applications`` (no hosted weights:
    ``weights`` is ``None`` or a weights file), plus keyword-only ``unit``, the
    residual unit's ordering of Fig. 4 (:data:`UNITS`; default the paper's
    ``"full_preact"``). The orderings differ only in where BN and ReLU sit, so
    their parameters differ only by the BN layers they move: Table 2 compares
    them on the same network.
    """
    if arch not in CIFAR_PREACT_SPECS:
        raise ValueError(
            f"`arch` must be one of {sorted(CIFAR_PREACT_SPECS)}. Received: arch={arch!r}"
        )
    _check_unit(unit)
    spec = CIFAR_PREACT_SPECS[arch]
    return _common.build_application(
        arch,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=arch if name is None else name,
        input_rule=CIFAR_INPUT_RULE,
        features=lambda api, img_input, _: _cifar_features(api, img_input, spec, unit),
        options={"unit": unit},
    )


def _cifar_v2(arch, params, trainable, macs, paper_params) -> dict:
    """The registry fields of the CIFAR pre-activation ResNet ``arch`` (family "resnet_v2")."""
    spec = CIFAR_PREACT_SPECS[arch]
    return dict(
        family="resnet_v2",
        paper=_PAPER,
        input_shape=(32, 32, 3),
        classes=10,
        preprocessing="caffe",
        params=params,
        trainable_params=trainable,
        macs=macs,
        paper_params=paper_params,
        paper_error=TABLE_3_ERRORS[arch],
        min_input_size=4,
        notes=f"CIFAR, full pre-activation {spec.block} units, depth {spec.depth}",
    )


# The paper prints parameters without BN's: 1.7M (ResNet-110, ResNet-164) and 10.2M
# (ResNet-1001) are the convolution and classifier weights (tests/test_resnet_v2.py).
@register_model(
    "preact_resnet110",
    **_cifar_v2("preact_resnet110", 1_738_618, 1_730_522, 253_149_824, paper_params=1.7e6),
)
def PreActResNet110(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="preact_resnet110",
    *,
    unit="full_preact",
):
    """Builds the pre-activation ResNet-110 for CIFAR (He et al. 2016, Tables 2 and 3).

    Basic units (two 3x3 convolutions), 18 per stage; ``unit`` picks the
    ordering of Fig. 4 (:data:`UNITS`); arguments as :func:`PreActResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.PreActResNet110(classes=100).output_shape
        (None, 100)
    """
    return PreActResNet("preact_resnet110", **locals())


@register_model(
    "preact_resnet164",
    **_cifar_v2("preact_resnet164", 1_727_482, 1_703_258, 247_646_720, paper_params=1.7e6),
)
def PreActResNet164(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="preact_resnet164",
    *,
    unit="full_preact",
):
    """Builds the pre-activation ResNet-164 for CIFAR (He et al. 2016, Tables 2 and 3).

    Bottleneck units (1x1, 3x3, 1x1 x4), 18 per stage; ``unit`` picks the
    ordering of Fig. 4 (:data:`UNITS`); arguments as :func:`PreActResNet`.

    Example:
        >>> import keras_convnets
        >>> model = keras_convnets.PreActResNet164(unit="original", include_top=False)
        >>> model.output_shape
        (None, 8, 8, 256)
    """
    return PreActResNet("preact_resnet164", **locals())


@register_model(
    "preact_resnet1001",
    **_cifar_v2("preact_resnet1001", 10_476_922, 10_327_706, 1_490_995_712, paper_params=10.2e6),
)
def PreActResNet1001(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="preact_resnet1001",
    *,
    unit="full_preact",
):
    """Builds the pre-activation ResNet-1001 for CIFAR (He et al. 2016, Table 3).

    Bottleneck units, 111 per stage (3,339 layers); ``unit`` picks the ordering
    of Fig. 4 (:data:`UNITS`); arguments as :func:`PreActResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.model_info("preact_resnet1001").paper_error  # Table 3, %
        {'cifar10': 4.92, 'cifar100': 22.71}
    """
    return PreActResNet("preact_resnet1001", **locals())
