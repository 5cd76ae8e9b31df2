"""The pretrained ImageNet weights this package can load, and where they come from.

Every :class:`WeightsEntry` was read from the projects' own code: torchvision
0.29's ``*_Weights`` enums (URL, ``acc@1``/``acc@5``, ``transforms()``) and
timm 1.0's ``pretrained_cfg`` (URL, crop, interpolation, mean/std, licence)
with top-1/top-5 from timm's ``results/results-imagenet.csv`` at the same
resolution and crop. torchvision's file names end in the first 8 hex digits
of the file's SHA-256 (``torch.hub``'s ``check_hash`` convention); they are
checked on download. timm's ResNet files are taken from its GitHub releases
(the same ``torch.hub`` naming, hence a checked hash); the Inception v3 and v4
``tf_in1k``/``gluon_in1k`` files exist only as ``model.safetensors`` on the
Hugging Face hub, whose hash is not pinned here. The keras.applications
entries (``weights="imagenet"``) carry the MD5 digests Keras itself pins
(``keras/src/applications/*.py``) for the file with and without the top.

This is the one catalogue of pretrained files; :mod:`.download` is the one
fetch (one cache, one mirror variable, one offline message).
"""

from __future__ import annotations

from dataclasses import dataclass

# The ImageNet RGB mean and standard deviation in [0, 1] (torchvision, timm, keras "torch"
# mode): the one home of these numbers (data.preprocessing and GoogLeNet's style="torch").
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
TORCHVISION = "torchvision"
TIMM = "timm"
KERAS_APPLICATIONS = "keras.applications"
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class WeightsEntry:
    """One pretrained checkpoint and what it needs (:data:`SOURCES`, :data:`KERAS_WEIGHTS`).

    ``arch`` is the family's architecture key (``"resnet50"``), ``variant``
    the registered model name the weights load into (``"resnet50_torch"``)
    and ``build_kwargs`` the builder options that variant sets.
    """

    source: str  # "torchvision", "timm" or "keras.applications"
    tag: str  # "IMAGENET1K_V2", "resnet50.a1_in1k", "imagenet"
    arch: str
    variant: str
    url: str
    file_name: str
    sha256: str | None  # full digest or the leading hex digits torch.hub files carry
    license: str
    top1: float
    top5: float | None
    eval_size: int  # side of the evaluated crop
    resize_size: int  # shorter side before the center crop
    interpolation: str
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    family: str = "resnet"  # state-dict layout, see keras_convnets.models.pretrained.convert
    default: bool = False  # what weights="<source>" alone selects
    build_kwargs: tuple = (("style", "torch"),)
    notes: str = ""
    # keras.applications files: the sub-folder of the host (and of a mirror), and the MD5 of the
    # file with the top (``file_name``) and without it (``notop_file_name``).
    folder: str = ""
    md5: str | None = None
    notop_md5: str | None = None

    @property
    def id(self) -> str:
        """``"torchvision:resnet50.IMAGENET1K_V2"``, ``"timm:resnet50.a1_in1k"``."""
        if self.source == TIMM:
            return f"timm:{self.tag}"
        return f"{self.source}:{self.arch}.{self.tag}"

    @property
    def notop_file_name(self) -> str:
        """The file without the classifier (keras.applications' ``*_notop.h5``)."""
        stem, ext = self.file_name.rsplit(".", 1)
        return f"{stem}_notop.{ext}"

    def hosted_file(self, include_top: bool = True) -> tuple[str, str, str | None]:
        """``(file name, its own URL, its MD5)`` of a keras.applications file."""
        name = self.file_name if include_top else self.notop_file_name
        url = self.url.rsplit("/", 1)[0] + "/" + name
        return name, url, self.md5 if include_top else self.notop_md5

    @property
    def crop_pct(self) -> float:
        return self.eval_size / self.resize_size

    @property
    def preprocessing_mode(self) -> str:
        """The :func:`keras_convnets.preprocess_input` mode of the weights' normalisation."""
        if self.source == KERAS_APPLICATIONS:
            return "caffe" if self.arch.startswith("resnet") else "tf"
        return "tf" if self.mean == INCEPTION_MEAN and self.std == INCEPTION_STD else "torch"

    @property
    def preprocessing(self) -> str:
        if self.source == KERAS_APPLICATIONS:
            mode = self.preprocessing_mode
            return f"keras_convnets.preprocess_input(images, mode={mode!r}) on 0-255 RGB images"
        return (
            f"RGB in [0, 1], resize to {self.resize_size} ({self.interpolation}), center crop "
            f"{self.eval_size}, subtract mean {self.mean}, divide by std {self.std}"
        )


def _tv(arch, tag, file_name, top1, top5, *, resize=256, size=224, default=False, **kw):
    return WeightsEntry(
        source=TORCHVISION,
        tag=tag,
        arch=arch,
        variant=kw.pop("variant", f"{arch}_torch"),
        url=f"https://download.pytorch.org/models/{file_name}",
        file_name=file_name,
        sha256=file_name.rsplit("-", 1)[1].split(".")[0],
        license="BSD-3-Clause",
        top1=top1,
        top5=top5,
        eval_size=size,
        resize_size=resize,
        interpolation="bilinear",
        default=default,
        **kw,
    )


_RSB = "https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/"


def _timm_rsb(arch, tag, file_name, top1, top5, *, default=False):
    # "ResNet strikes back" (Wightman et al. 2021); evaluated at 224 with crop_pct 0.95.
    return WeightsEntry(
        source=TIMM,
        tag=tag,
        arch=arch,
        variant=f"{arch}_torch",
        url=_RSB + file_name,
        file_name=file_name,
        sha256=file_name.rsplit("-", 1)[1].split(".")[0],
        license="Apache-2.0",
        top1=top1,
        top5=top5,
        eval_size=224,
        resize_size=236,  # int(224 / 0.95)
        interpolation="bicubic",
        default=default,
        notes="timm also publishes it at 288 (test_input_size), crop 1.0",
    )


def _timm_hf(
    tag, top1, top5, mean, std, *, default=False, variant="inception_v3_torch", resize=342
):
    # Inception ports in timm, only on the Hugging Face hub; evaluated at 299, crop 0.875
    # (resize 342) unless ``resize`` says otherwise.
    arch = tag.split(".")[0]
    return WeightsEntry(
        source=TIMM,
        tag=tag,
        arch=arch,
        variant=variant,
        url=f"https://huggingface.co/timm/{tag}/resolve/main/model.safetensors",
        file_name=f"timm-{tag}.safetensors",
        sha256=None,
        license="Apache-2.0",
        top1=top1,
        top5=top5,
        eval_size=299,
        resize_size=resize,
        interpolation="bicubic",
        mean=mean,
        std=std,
        family=arch,
        default=default,
        build_kwargs=(("style", "torch"),) if variant.endswith("_torch") else (),
        notes="hash not pinned (the hub's file, not a torch.hub name)",
    )


SOURCES: tuple[WeightsEntry, ...] = (
    _tv("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758, 89.078, default=True),
    _tv("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth", 73.314, 91.42, default=True),
    _tv("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.13, 92.862),
    _tv("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858, 95.434, resize=232,
        default=True),
    _tv("resnet101", "IMAGENET1K_V1", "resnet101-63fe2227.pth", 77.374, 93.546),
    _tv("resnet101", "IMAGENET1K_V2", "resnet101-cd907fc2.pth", 81.886, 95.78, resize=232,
        default=True),
    _tv("resnet152", "IMAGENET1K_V1", "resnet152-394f9c45.pth", 78.312, 94.046),
    _tv("resnet152", "IMAGENET1K_V2", "resnet152-f82ba261.pth", 82.284, 96.002, resize=232,
        default=True),
    _tv("googlenet", "IMAGENET1K_V1", "googlenet-1378be20.pth", 69.778, 89.53, default=True,
        family="googlenet", variant="googlenet_torch",
        notes="aux classifiers in the file are untrained and not built; transform_input on"),
    _tv("inception_v3", "IMAGENET1K_V1", "inception_v3_google-0cc3c7bd.pth", 77.294, 93.45,
        resize=342, size=299, default=True, family="inception_v3",
        variant="inception_v3_torch", mean=INCEPTION_MEAN, std=INCEPTION_STD,
        notes="torchvision applies transform_input to ImageNet-normalized inputs, which "
        "equals mean = std = 0.5 here; the file's AuxLogits are not built"),
    _timm_hf("inception_v3.tv_in1k", 77.472, 93.468, INCEPTION_MEAN, INCEPTION_STD),
    _timm_hf("inception_v3.tf_in1k", 77.866, 93.644, INCEPTION_MEAN, INCEPTION_STD,
             default=True),
    _timm_hf("inception_v3.gluon_in1k", 78.806, 94.372, IMAGENET_MEAN, IMAGENET_STD),
    # timm's port of TF-slim's Inception-v4 (results-imagenet.csv: 80.144 / 94.982 at 299).
    _timm_hf("inception_v4.tf_in1k", 80.144, 94.982, INCEPTION_MEAN, INCEPTION_STD,
             default=True, variant="inception_v4"),
    # ... and of TF-slim's Inception-ResNet-v2 (80.434 / 95.312 at 299, crop_pct 0.897), into
    # the keras.applications-layout model (its batch norms' scales are 1 and are dropped).
    _timm_hf("inception_resnet_v2.tf_in1k", 80.434, 95.312, INCEPTION_MEAN, INCEPTION_STD,
             default=True, variant="inception_resnet_v2", resize=333),
    _timm_rsb("resnet18", "resnet18.a1_in1k", "resnet18_a1_0-d63eafa0.pth", 71.504, 90.086,
              default=True),
    _timm_rsb("resnet34", "resnet34.a1_in1k", "resnet34_a1_0-46f8f793.pth", 76.42, 92.896,
              default=True),
    _timm_rsb("resnet50", "resnet50.a1_in1k", "resnet50_a1_0-14fe96d1.pth", 80.382, 94.598,
              default=True),
    _timm_rsb("resnet101", "resnet101.a1h_in1k", "resnet101_a1h-36d3f2aa.pth", 81.95, 95.76,
              default=True),
    _timm_rsb("resnet152", "resnet152.a1h_in1k", "resnet152_a1h-dc400468.pth", 82.818, 96.124,
              default=True),
)  # fmt: skip


def _keras(arch, folder, stem, md5, notop_md5, top1, top5, license_, *, size=224, resize=256):
    # weights="imagenet": keras.applications' files, for the paper-style model itself; names and
    # MD5s from keras/src/applications/{resnet,resnet_v2,inception_v3,inception_resnet_v2}.py,
    # top-1/top-5 as the keras.io applications table prints them.
    return WeightsEntry(
        source=KERAS_APPLICATIONS,
        tag="imagenet",
        arch=arch,
        variant=arch,
        url=f"{KERAS_APPLICATIONS_URL}{folder}{stem}.h5",
        file_name=f"{stem}.h5",
        sha256=None,  # Keras pins MD5s (md5 / notop_md5); no SHA-256 is published
        license=license_,
        top1=top1,
        top5=top5,
        eval_size=size,
        resize_size=resize,
        interpolation="bilinear",
        build_kwargs=(),
        notes="weights='imagenet'",
        folder=folder,
        md5=md5,
        notop_md5=notop_md5,
    )


_CAFFE = "MIT (Kaiming He's Caffe models)"
_KA = "Apache-2.0 (keras.applications)"
_SLIM = "Apache-2.0 (TF-slim)"
_TF = "_weights_tf_dim_ordering_tf_kernels"
KERAS_WEIGHTS = (
    _keras("resnet50", "resnet/", f"resnet50{_TF}", "2cb95161c43110f7111970584f804107",
           "4d473c1dd8becc155b73f8504c6f6626", 74.9, 92.1, _CAFFE),
    _keras("resnet101", "resnet/", f"resnet101{_TF}", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
           "88cf7a10940856eca736dc7b7e228a21", 76.4, 92.8, _CAFFE),
    _keras("resnet152", "resnet/", f"resnet152{_TF}", "100835be76be38e30d865e96f2aaae62",
           "ee4c566cf9a93f14d82f913c2dc6dd0c", 76.6, 93.1, _CAFFE),
    _keras("inception_v3", "inception_v3/", f"inception_v3{_TF}",
           "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63", 77.9, 93.7,
           _SLIM, size=299, resize=342),
    _keras("resnet50v2", "resnet/", f"resnet50v2{_TF}", "3ef43a0b657b3be2300d5770ece849e0",
           "fac2f116257151a9d068a22e544a4917", 76.0, 93.0, _KA),
    _keras("resnet101v2", "resnet/", f"resnet101v2{_TF}", "6343647c601c52e1368623803854d971",
           "c0ed64b8031c3730f411d2eb4eea35b5", 77.2, 93.8, _KA),
    _keras("resnet152v2", "resnet/", f"resnet152v2{_TF}", "a49b44d1979771252814e80f8ec446f9",
           "ed17cf2e0169df9d443503ef94b23b33", 78.0, 94.2, _KA),
    _keras("inception_resnet_v2", "inception_resnet_v2/", f"inception_resnet_v2{_TF}",
           "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4", 80.3, 95.3,
           _SLIM, size=299, resize=342),
)  # fmt: skip


def keras_entry(arch: str) -> WeightsEntry | None:
    """The keras.applications entry (``weights="imagenet"``) of ``arch``, or ``None``."""
    return next((e for e in KERAS_WEIGHTS if e.arch == arch), None)


def entries(*, arch: str | None = None, variant: str | None = None) -> list[WeightsEntry]:
    """The entries for one architecture key or one registered variant name."""
    return [
        e
        for e in KERAS_WEIGHTS + SOURCES
        if (arch is None or e.arch == arch) and (variant is None or e.variant == variant)
    ]


def lookup(arch: str, source: str, tag: str | None) -> WeightsEntry:
    """The entry ``weights="<source>[:<tag>]"`` names for ``arch``; ``ValueError`` otherwise."""
    candidates = [e for e in SOURCES if e.arch == arch and e.source == source]
    if tag is None:
        found = [e for e in candidates if e.default]
    else:
        found = [e for e in candidates if tag in (e.tag, f"{arch}.{e.tag}")]
    if found:
        return found[0]
    known = ", ".join(repr(f"{e.source}:{e.tag}") for e in entries(arch=arch)) or "none"
    raise ValueError(
        f"No {source} weights{'' if tag is None else f' tagged {tag!r}'} for {arch}. "
        f"Weights available for {arch}: {known}."
    )


def find_by_id(source_id: str) -> WeightsEntry:
    """The entry of a fully qualified id (``"timm:resnet50.a1_in1k"``) or ``ValueError``."""
    for e in SOURCES:
        if source_id in (e.id, f"{e.source}:{e.tag}") and (e.source == TIMM or "." in source_id):
            return e
    raise ValueError(f"Unknown weights {source_id!r}. Known: {', '.join(e.id for e in SOURCES)}.")
