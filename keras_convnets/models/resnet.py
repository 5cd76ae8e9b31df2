"""ResNets of He et al. 2015, "Deep Residual Learning for Image Recognition".

Architecture as data: :data:`RESNET_SPECS` gives, per network, the block type
and the stages ``(filters, blocks, stride)`` of Table 1 (ImageNet) and §4.2
(CIFAR-10). :func:`ResNet` builds any of them; the public variants only pick a
spec and its defaults.

Faithful to the paper (v1): BN after every convolution, ReLU after the
addition, down-sampling by stride 2 in conv3_1, conv4_1, conv5_1, and in a
bottleneck the stride sits in the first 1x1 convolution. Shortcut options:

* ``"A"``: identity; where the shape changes, a 1x1/2 subsampling
  (``*_0_pool``) and zero channels appended (``*_0_pad``). No parameters.
* ``"B"``: identity, and 1x1 projections (``*_0_conv``, ``*_0_bn``) only where
  the shape changes.
* ``"C"``: projections on every block.

``residual=False`` builds the plain counterpart of Fig. 3/Table 2: the same
layers without the shortcuts and additions.

Deviation, documented: the ImageNet ResNets' convolutions carry biases by
default (``conv_bias=True``), as ``keras.applications.ResNet50/101/152`` do, so
that their weights load unchanged (layer names and order are those of
keras.applications). Before BN a bias is redundant; ``conv_bias=False`` drops
it. The CIFAR ResNets have no convolution biases, which gives exactly the
paper's parameter counts (ResNet-20: 269,722).

Layer names: ``conv1_conv``, ``conv1_bn``, ``conv1_relu``, ``pool1_pool``,
``conv{stage}_block{i}_{j}_conv|bn|relu``, ``..._0_conv|bn|pool|pad``
(shortcut), ``..._add``, ``..._out``, ``avg_pool``/``max_pool``,
``predictions``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from keras_convnets.models import _common, pretrained
from keras_convnets.models import weights as weights_lib
from keras_convnets.models.registry import register_model

BN_EPSILON = 1.001e-5  # as keras.applications
# style="torch": the layout of torchvision's and timm's ResNets, whose weights it loads.
TORCH_BN_EPSILON = 1e-5
STYLES = pretrained.STYLES
# Moving-statistics momentum 0.9 (PyTorch's 0.1, fb.resnet.torch): with Keras'
# default 0.99 the inference-mode statistics of a short run (the CIFAR-size
# experiments, fine-tuning) lag thousands of steps behind the weights. It is
# not a weight: loaded weights and their outputs are unchanged.
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class ResNetSpec:
    """One network of the paper: block type, stages and defaults."""

    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 x4)
    stages: tuple[tuple[int, int, int], ...]  # (filters, blocks, stride) from conv2_x
    dataset: str  # "imagenet" (7x7/2 stem + 3x3/2 max pool) or "cifar" (3x3 stem)

    @property
    def default_input_shape(self):
        return (224, 224, 3) if self.dataset == "imagenet" else (32, 32, 3)

    @property
    def default_classes(self):
        return 1000 if self.dataset == "imagenet" else 10

    @property
    def default_shortcut(self):
        return "B" if self.dataset == "imagenet" else "A"

    @property
    def default_conv_bias(self):
        return self.dataset == "imagenet"

    @property
    def total_stride(self):
        stride = 4 if self.dataset == "imagenet" else 1
        for _, _, s in self.stages:
            stride *= s
        return stride

    @property
    def depth(self):
        per_block = 2 if self.block == "basic" else 3
        return 2 + per_block * sum(n for _, n, _ in self.stages)


def _imagenet(block, blocks):
    filters = (64, 128, 256, 512)
    strides = (1, 2, 2, 2)
    return ResNetSpec(block, tuple(zip(filters, blocks, strides)), "imagenet")


def _cifar(n):
    return ResNetSpec("basic", ((16, n, 1), (32, n, 2), (64, n, 2)), "cifar")


RESNET_SPECS = {
    "resnet18": _imagenet("basic", (2, 2, 2, 2)),
    "resnet34": _imagenet("basic", (3, 4, 6, 3)),
    "resnet50": _imagenet("bottleneck", (3, 4, 6, 3)),
    "resnet101": _imagenet("bottleneck", (3, 4, 23, 3)),
    "resnet152": _imagenet("bottleneck", (3, 8, 36, 3)),
    # CIFAR-10 (§4.2): depth 6n + 2
    "resnet20": _cifar(3),
    "resnet32": _cifar(5),
    "resnet44": _cifar(7),
    "resnet56": _cifar(9),
    "resnet110": _cifar(18),
    "resnet1202": _cifar(200),
}

SHORTCUTS = ("A", "B", "C")


def _conv_bn(api, x, filters, kernel, *, strides, use_bias, name, relu, style="paper"):
    layers = api.layers
    padding = "valid" if kernel == 1 else "same"
    if style == "torch" and kernel > 1 and strides > 1:
        # PyTorch pads k // 2 on every side; TF's "same" pads (0, 1) at stride 2 on even sizes.
        x = layers.ZeroPadding2D(padding=kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    epsilon = TORCH_BN_EPSILON if style == "torch" else BN_EPSILON
    x = layers.BatchNormalization(
        axis=-1, momentum=BN_MOMENTUM, epsilon=epsilon, name=f"{name}_bn"
    )(x)
    if relu:
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _shortcut(api, x, out_channels, stride, *, option, use_bias, name, style="paper"):
    in_channels = x.shape[-1]
    changes = stride != 1 or in_channels != out_channels
    if option == "C" or (option == "B" and changes):
        return _conv_bn(
            api,
            x,
            out_channels,
            1,
            strides=stride,
            use_bias=use_bias,
            name=f"{name}_0",
            relu=False,
            style=style,
        )
    if option == "A" and changes:
        if stride != 1:
            x = api.layers.MaxPooling2D(pool_size=1, strides=stride, name=f"{name}_0_pool")(x)
        if out_channels > in_channels:
            x = api.custom.ChannelPadding(out_channels - in_channels, name=f"{name}_0_pad")(x)
    return x


def residual_block(
    api, x, filters, stride, *, block, shortcut, residual, use_bias, name, style="paper"
):
    """One basic or bottleneck block; ``name`` like ``conv3_block1``.

    ``style="torch"`` puts a bottleneck's stride in its 3x3 (ResNet v1.5) and
    pads strided 3x3 convolutions symmetrically, as torchvision and timm do.
    """
    out_channels = filters * 4 if block == "bottleneck" else filters
    if residual:
        # Built before the residual branch, as keras.applications does: the
        # layer order is what legacy `.h5` weights are matched by.
        skip = _shortcut(
            api, x, out_channels, stride, option=shortcut, use_bias=use_bias, name=name, style=style
        )
    kw = {"use_bias": use_bias, "style": style}
    if block == "bottleneck":
        s1, s3 = (1, stride) if style == "torch" else (stride, 1)
        y = _conv_bn(api, x, filters, 1, strides=s1, name=f"{name}_1", relu=True, **kw)
        y = _conv_bn(api, y, filters, 3, strides=s3, name=f"{name}_2", relu=True, **kw)
        y = _conv_bn(api, y, out_channels, 1, strides=1, name=f"{name}_3", relu=False, **kw)
    else:
        y = _conv_bn(api, x, filters, 3, strides=stride, name=f"{name}_1", relu=True, **kw)
        y = _conv_bn(api, y, filters, 3, strides=1, name=f"{name}_2", relu=False, **kw)
    if residual:
        y = api.layers.Add(name=f"{name}_add")([skip, y])
    return api.layers.Activation("relu", name=f"{name}_out")(y)


@dataclass(frozen=True)
class _Options:
    """A ResNet's keyword-only options once their defaults are resolved."""

    shortcut: str
    residual: bool
    conv_bias: bool
    style: str


def ResNet(
    arch,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name=None,
    *,
    shortcut=None,
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds the ResNet ``arch`` (a key of :data:`RESNET_SPECS`).

    The public builders (``ResNet50`` ...) call this with their own defaults.
    Args are those of ``keras.applications`` (``include_top``, ``weights``,
    ``input_tensor``, ``input_shape``, ``pooling``, ``classes``,
    ``classifier_activation``, ``name``), plus keyword-only:

    * ``shortcut``: ``"A"``, ``"B"`` or ``"C"`` (default: the paper's, ``"B"``
      on ImageNet, ``"A"`` on CIFAR).
    * ``residual``: ``False`` builds the plain counterpart (no shortcuts).
    * ``conv_bias``: convolution biases (default ``None``: True for the
      ImageNet nets with ``style="paper"``, else False; see the module doc).
    * ``style``: ``"paper"`` (He et al.'s v1) or ``"torch"`` (torchvision's and
      timm's v1.5 layout, see :func:`_check_style`); default ``None``:
      ``"torch"`` when ``weights`` is ``"torchvision"``, ``"timm"``,
      ``"<source>:<tag>"`` or a ``.pth`` / ``.safetensors`` file, else ``"paper"``.

    Defaults: the input and classes of the spec (224x224x3 and 1000, or
    32x32x3 and 10 on CIFAR), ``weights=None`` (nothing is downloaded unless
    ``weights="imagenet"``, hosted for ResNet-50/101/152 only).
    """
    if arch not in RESNET_SPECS:
        raise ValueError(f"`arch` must be one of {sorted(RESNET_SPECS)}. Received: arch={arch!r}")
    spec = RESNET_SPECS[arch]
    options = _resolve_options(spec, weights, shortcut, residual, conv_bias, style)
    classes = spec.default_classes if classes is None else classes
    name = arch if name is None else name

    def features(api, img_input, _):
        return _stages(api, _stem(api, img_input, spec, options), spec, options)

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
            spec.default_input_shape,
            spec.total_stride,
            f"the network's total stride is {spec.total_stride}",
        ),
        features=features,
        checks=[lambda: _check_weights_fit(weights, options)],
        options=dataclasses.asdict(options),
    )


def _resolve_options(spec, weights, shortcut, residual, conv_bias, style) -> _Options:
    """Checks the keyword-only options and fills in the defaults of ``spec``."""
    style = _check_style(style, weights)
    shortcut = spec.default_shortcut if shortcut is None else shortcut
    _common.check_bool("conv_bias", conv_bias, allow_none=True)
    default_bias = spec.default_conv_bias and style == "paper"
    conv_bias = default_bias if conv_bias is None else conv_bias
    if shortcut not in SHORTCUTS:
        raise ValueError(
            f"`shortcut` must be one of 'A', 'B' or 'C'. Received: shortcut={shortcut!r}"
        )
    _common.check_bool("residual", residual)
    return _Options(shortcut=shortcut, residual=residual, conv_bias=conv_bias, style=style)


def _check_weights_fit(weights, options: _Options):
    """Pretrained weights exist for the default architectures only."""
    shortcut, residual, conv_bias, style = dataclasses.astuple(options)
    if weights == "imagenet" and (
        shortcut != "B" or not residual or not conv_bias or style != "paper"
    ):
        raise ValueError(
            "The hosted ImageNet weights are for the default architecture (shortcut='B', "
            "residual=True, conv_bias=True, style='paper'). Received: "
            f"shortcut={shortcut!r}, residual={residual}, conv_bias={conv_bias}, style={style!r}"
        )
    if pretrained.is_source(weights) and (shortcut != "B" or not residual or conv_bias):
        raise ValueError(
            f"`weights={weights!r}` are for the torchvision/timm architecture (style='torch', "
            "shortcut='B', residual=True, conv_bias=False). Received: "
            f"shortcut={shortcut!r}, residual={residual}, conv_bias={conv_bias}"
        )


def _stem(api, img_input, spec: ResNetSpec, options: _Options):
    """conv1 (and pool1 on ImageNet): 7x7/2 conv + 3x3/2 max pool, or CIFAR's 3x3 conv."""
    if spec.dataset != "imagenet":
        return _conv_bn(
            api,
            img_input,
            16,
            3,
            strides=1,
            use_bias=options.conv_bias,
            name="conv1",
            relu=True,
            style=options.style,
        )
    layers = api.layers
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(
        64,
        7,
        strides=2,
        use_bias=options.conv_bias,
        kernel_initializer="he_normal",
        name="conv1_conv",
    )(x)
    epsilon = TORCH_BN_EPSILON if options.style == "torch" else BN_EPSILON
    bn = layers.BatchNormalization(axis=-1, momentum=BN_MOMENTUM, epsilon=epsilon, name="conv1_bn")
    x = bn(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stages(api, x, spec: ResNetSpec, options: _Options):
    """conv2_x ... conv5_x (conv4_x on CIFAR): the residual blocks of ``spec``."""
    for stage, (filters, blocks, stride) in enumerate(spec.stages, start=2):
        for i in range(1, blocks + 1):
            x = residual_block(
                api,
                x,
                filters,
                stride if i == 1 else 1,
                block=spec.block,
                shortcut=options.shortcut,
                residual=options.residual,
                use_bias=options.conv_bias,
                name=f"conv{stage}_block{i}",
                style=options.style,
            )
    return x


def _check_style(style, weights):
    """``"paper"`` (He et al.'s v1) or ``"torch"`` (torchvision's and timm's layout).

    ``"torch"``: ResNet v1.5, the stride of a down-sampling bottleneck in its
    3x3 convolution (not the first 1x1); strided 3x3 convolutions padded by 1
    on every side (``*_pad`` layers; TF's ``"same"`` pads (0, 1) at stride 2
    on even sizes); batch norm epsilon 1e-5; no convolution biases. Layer names
    are the paper style's, so torchvision/timm checkpoints map onto them.
    """
    return pretrained.resolve_style(style, weights)


# Registry entries: the figures are at the default input and classes and are
# recomputed from the built models by tests/test_registry.py. Beside each
# builder: the plain counterpart of the degradation experiment (Fig. 1, 4, 6;
# Table 2), and style="torch" (torchvision's and timm's v1.5 layout, whose
# converted weights it loads; keras_convnets.models.pretrained), whose trainable
# counts and multiply-adds equal torchvision's num_params and _ops.
_PAPER = "He et al. 2015, Deep Residual Learning for Image Recognition"


def _resnet(arch, params, trainable, macs, *, paper_macs=None, paper_params=None) -> dict:
    """The registry fields of the ResNet ``arch`` (family "resnet")."""
    spec = RESNET_SPECS[arch]
    return dict(
        family="resnet",
        paper=_PAPER,
        input_shape=spec.default_input_shape,
        classes=spec.default_classes,
        preprocessing="caffe",
        params=params,
        trainable_params=trainable,
        macs=macs,
        paper_macs=paper_macs,
        paper_params=paper_params,
        hosted_weights=arch in weights_lib.hosted_models(),
        min_input_size=spec.total_stride,
        notes=f"shortcut {spec.default_shortcut}, depth {spec.depth}",
    )


def _plain(name, arch, params, trainable, macs) -> dict:
    """The registry fields of ``name``, ``arch`` without its shortcuts (``residual=False``)."""
    spec = RESNET_SPECS[arch]
    return dict(
        family="plain",
        paper=_PAPER,
        input_shape=spec.default_input_shape,
        classes=spec.default_classes,
        preprocessing="caffe",
        params=params,
        trainable_params=trainable,
        macs=macs,
        overrides={"residual": False, "name": name},
        min_input_size=spec.total_stride,
        notes=f"plain counterpart of {arch} (no shortcuts)",
    )


def _torch(name, arch, params, trainable, macs) -> dict:
    """The registry fields of ``name``, ``arch`` with ``style="torch"``."""
    spec = RESNET_SPECS[arch]
    return dict(
        family="resnet_torch",
        paper=_PAPER + " (v1.5 as torchvision and timm)",
        input_shape=spec.default_input_shape,
        classes=spec.default_classes,
        preprocessing="torch",
        params=params,
        trainable_params=trainable,
        macs=macs,
        overrides={"style": "torch", "name": name},
        min_input_size=spec.total_stride,
        notes="style='torch': stride in the 3x3, symmetric padding, BN eps 1e-5, no biases",
    )


@register_model(
    "resnet18", **_resnet("resnet18", 11_703_912, 11_694_312, 1_814_073_344, paper_macs=1.8e9)
)
@register_model("plain18", **_plain("plain18", "resnet18", 11_527_400, 11_519_592, 1_794_805_760))
@register_model(
    "resnet18_torch", **_torch("resnet18_torch", "resnet18", 11_699_112, 11_689_512, 1_814_073_344)
)
def ResNet18(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet18",
    *,
    shortcut="B",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-18 (He et al. 2015, Table 1); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet18(input_shape=(64, 64, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet18", **locals())


@register_model(
    "resnet34", **_resnet("resnet34", 21_823_208, 21_806_184, 3_663_761_408, paper_macs=3.6e9)
)
@register_model("plain34", **_plain("plain34", "resnet34", 21_646_696, 21_631_464, 3_644_493_824))
@register_model(
    "resnet34_torch", **_torch("resnet34_torch", "resnet34", 21_814_696, 21_797_672, 3_663_761_408)
)
def ResNet34(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet34",
    *,
    shortcut="B",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-34 (He et al. 2015, Table 1); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet34(input_shape=(64, 64, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet34", **locals())


@register_model(
    "resnet50", **_resnet("resnet50", 25_636_712, 25_583_592, 3_857_973_248, paper_macs=3.8e9)
)
@register_model(
    "resnet50_torch", **_torch("resnet50_torch", "resnet50", 25_610_152, 25_557_032, 4_089_184_256)
)
def ResNet50(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50",
    *,
    shortcut="B",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-50 (He et al. 2015, Table 1); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet50(input_shape=(64, 64, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet50", **locals())


@register_model(
    "resnet101", **_resnet("resnet101", 44_707_176, 44_601_832, 7_570_194_432, paper_macs=7.6e9)
)
@register_model(
    "resnet101_torch",
    **_torch("resnet101_torch", "resnet101", 44_654_504, 44_549_160, 7_801_405_440),
)
def ResNet101(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101",
    *,
    shortcut="B",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-101 (He et al. 2015, Table 1); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet101(input_shape=(64, 64, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet101", **locals())


@register_model(
    "resnet152", **_resnet("resnet152", 60_419_944, 60_268_520, 11_282_415_616, paper_macs=11.3e9)
)
@register_model(
    "resnet152_torch",
    **_torch("resnet152_torch", "resnet152", 60_344_232, 60_192_808, 11_513_626_624),
)
def ResNet152(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152",
    *,
    shortcut="B",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-152 (He et al. 2015, Table 1); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet152(input_shape=(64, 64, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet152", **locals())


@register_model(
    "resnet20", **_resnet("resnet20", 271_098, 269_722, 40_551_040, paper_params=0.27e6)
)
@register_model("plain20", **_plain("plain20", "resnet20", 271_098, 269_722, 40_551_040))
def ResNet20(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet20",
    *,
    shortcut="A",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-20 for CIFAR (He et al. 2015, §4.2, CIFAR-10); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet20(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet20", **locals())


@register_model(
    "resnet32", **_resnet("resnet32", 466_426, 464_154, 68_862_592, paper_params=0.46e6)
)
@register_model("plain32", **_plain("plain32", "resnet32", 466_426, 464_154, 68_862_592))
def ResNet32(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet32",
    *,
    shortcut="A",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-32 for CIFAR (He et al. 2015, §4.2, CIFAR-10); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet32(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet32", **locals())


@register_model(
    "resnet44", **_resnet("resnet44", 661_754, 658_586, 97_174_144, paper_params=0.66e6)
)
@register_model("plain44", **_plain("plain44", "resnet44", 661_754, 658_586, 97_174_144))
def ResNet44(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet44",
    *,
    shortcut="A",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-44 for CIFAR (He et al. 2015, §4.2, CIFAR-10); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet44(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet44", **locals())


@register_model(
    "resnet56", **_resnet("resnet56", 857_082, 853_018, 125_485_696, paper_params=0.85e6)
)
@register_model("plain56", **_plain("plain56", "resnet56", 857_082, 853_018, 125_485_696))
def ResNet56(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet56",
    *,
    shortcut="A",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-56 for CIFAR (He et al. 2015, §4.2, CIFAR-10); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet56(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet56", **locals())


@register_model(
    "resnet110", **_resnet("resnet110", 1_736_058, 1_727_962, 252_887_680, paper_params=1.7e6)
)
@register_model("plain110", **_plain("plain110", "resnet110", 1_736_058, 1_727_962, 252_887_680))
def ResNet110(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet110",
    *,
    shortcut="A",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-110 for CIFAR (He et al. 2015, §4.2, CIFAR-10); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet110(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet110", **locals())


@register_model(
    "resnet1202",
    **_resnet("resnet1202", 19_510_906, 19_421_274, 2_829_238_912, paper_params=19.4e6),
)
def ResNet1202(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet1202",
    *,
    shortcut="A",
    residual=True,
    conv_bias=None,
    style=None,
):
    """Builds ResNet-1202 for CIFAR (He et al. 2015, §4.2, CIFAR-10); arguments as :func:`ResNet`.

    Example:
        >>> import keras_convnets
        >>> keras_convnets.ResNet1202(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    return ResNet("resnet1202", **locals())
