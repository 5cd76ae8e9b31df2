"""Training recipes as data, and their resolution for one model, dataset and batch size.

A :class:`Recipe` holds what a paper states (optimizer, rates, schedule in the
paper's own units, augmentation). :func:`resolve` turns it into the concrete
numbers of one run, and says by which rule each number was obtained when the
paper's setting does not apply:

* learning rate: linear scaling with the global batch (Goyal et al. 2017),
  ``lr = base_lr * global_batch / base_batch``;
* schedule: milestones and decay intervals are kept as FRACTIONS of the
  paper's training length, the length itself in epochs. On another dataset
  size the number of steps changes, the epochs do not (CIFAR-10 at batch 128:
  exactly 32k/48k/64k iterations); ``--epochs``/``--steps`` shorten the
  schedule proportionally;
* weight decay: an L2 penalty ``0.5 * wd * sum(w**2)`` on convolution and
  dense kernels added to the loss, which gives the papers' (Caffe/SGD)
  update ``w -= lr * (grad + wd * w)``. It is NOT decoupled (AdamW-style);
  biases and BatchNorm parameters are not decayed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re

from keras_convnets import atomic

SCHEDULES = ("piecewise", "plateau", "step_decay", "warmup_linear")
OPTIMIZERS = ("sgd", "rmsprop")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A paper's training setting, in the paper's units."""

    name: str
    paper: str
    optimizer: str
    base_lr: float
    base_batch: int  # the batch the paper's rate was given for
    weight_decay: float
    schedule: str
    epochs: float  # the paper's training length
    pipeline: str  # keras_convnets.data pipeline
    momentum: float = 0.9
    rho: float = 0.9  # RMSProp decay
    epsilon: float = 1e-7
    milestones: tuple = ()  # piecewise: fractions of training where lr is divided by 10
    decay_factor: float = 0.1
    decay_every_epochs: float = 0.0  # step_decay interval, in the paper's epochs
    plateau_patience: int = 0  # epochs without val improvement before lr /10
    plateau_max_reductions: int = 3
    warmup_lr: float | None = None  # at base_batch, for deep nets, until train error < ...
    warmup_min_depth: int = 0
    warmup_until_error: float = 0.8
    warmup_max_epochs: float = 2.0
    label_smoothing: float = 0.0
    clip_global_norm: float | None = None
    ema_decay: float | None = None  # moving average of the weights used for evaluation
    val_fraction: float = 0.1  # held out of train for validation; 0: use the test split
    freeze_epochs: float = 0.0  # fine-tuning: epochs with the backbone frozen (head only)
    nesterov: bool = False  # Nesterov momentum (SGD)
    warmup_fraction: float = 0.0  # warmup_linear: fraction of training the rate ramps up over
    zero_init_residual: bool = False  # last BN of each residual branch starts at gamma = 0
    cutout: float = 0.0  # training: a random square of this fraction of the side is erased
    follow_weights: bool = False  # with `weights`: the weights' transform, frozen BN (finetune)
    notes: str = ""

    def pipeline_for(self, weights) -> str:
        """The pipeline of a run of this recipe from ``weights`` (None: from scratch)."""
        if self.follow_weights and weights is not None:
            return PIPELINE_FROM_WEIGHTS
        return self.pipeline


_RESNET = "He et al. 2015, Deep Residual Learning for Image Recognition"
RECIPES = {
    "resnet_cifar": Recipe(
        name="resnet_cifar",
        paper=_RESNET + " §4.2",
        optimizer="sgd",
        base_lr=0.1,
        base_batch=128,
        weight_decay=1e-4,
        schedule="piecewise",
        # 64k iterations of 128 images on a 45k/5k train/val split.
        epochs=64_000 * 128 / 45_000,
        milestones=(32_000 / 64_000, 48_000 / 64_000),
        pipeline="cifar",
        warmup_lr=0.01,
        warmup_min_depth=110,
        val_fraction=5_000 / 50_000,
        notes="ResNet-110+ warm up at 0.01 until training error < 80% (~400 iterations).",
    ),
    "resnet_imagenet": Recipe(
        name="resnet_imagenet",
        paper=_RESNET + " §3.4",
        optimizer="sgd",
        base_lr=0.1,
        base_batch=256,
        weight_decay=1e-4,
        schedule="plateau",
        epochs=600_000 * 256 / 1_281_167,  # "up to 60x10^4 iterations"
        pipeline="resnet_imagenet",
        plateau_patience=5,
        val_fraction=0.0,
        notes="lr /10 when the validation error plateaus (patience 5 epochs: our choice, "
        "the paper gives none); validation on the official validation split.",
    ),
    "googlenet": Recipe(
        name="googlenet",
        paper="Szegedy et al. 2014, Going Deeper with Convolutions §6",
        optimizer="sgd",
        # The paper gives no initial rate, batch, decay or length: those of the
        # BVLC Caffe reproduction (lr 0.01 at batch 32, wd 2e-4, 60 epochs).
        base_lr=0.01,
        base_batch=32,
        weight_decay=2e-4,
        schedule="step_decay",
        decay_factor=0.96,
        decay_every_epochs=8.0,
        epochs=60.0,
        pipeline="inception",
        ema_decay=0.9999,
        val_fraction=0.0,
        notes="lr -4% every 8 epochs; aux losses weighted 0.3; Polyak averaging (an "
        "exponential moving average, decay 0.9999) gives the final model.",
    ),
    "inception_v3": Recipe(
        name="inception_v3",
        paper="Szegedy et al. 2015, Rethinking the Inception Architecture §8",
        optimizer="rmsprop",
        base_lr=0.045,
        base_batch=32,  # the paper's per-replica batch, taken as the reference batch
        weight_decay=4e-5,  # not in the paper: TF-slim's inception_v3 value
        schedule="step_decay",
        decay_factor=0.94,
        decay_every_epochs=2.0,
        epochs=100.0,
        rho=0.9,
        epsilon=1.0,
        momentum=0.0,
        pipeline="inception",
        label_smoothing=0.1,
        clip_global_norm=2.0,
        ema_decay=0.9999,
        val_fraction=0.0,
        notes="RMSProp decay 0.9 eps 1.0; lr 0.045 x0.94 every 2 epochs; gradient clipping "
        "2.0 (global norm, after the cross-replica sum); label smoothing 0.1; aux head; "
        "moving average of the parameters for evaluation.",
    ),
}


RECIPES["finetune"] = Recipe(
    name="finetune",
    paper="Transfer learning (Yosinski et al. 2014; Kornblith et al. 2019): not a paper setting",
    optimizer="sgd",
    base_lr=0.01,  # a tenth of the from-scratch rate: the weights are already good
    base_batch=128,
    weight_decay=1e-4,
    schedule="piecewise",
    epochs=10.0,
    milestones=(0.6, 0.85),
    pipeline="from_weights",  # the transform the pretrained weights were trained with
    freeze_epochs=1.0,
    notes="A new classifier for the dataset's classes; the backbone is frozen for the first "
    "epoch (the new head is trained alone), then unfrozen (--freeze_backbone keeps it frozen). "
    "BatchNorm layers stay frozen in both phases: they keep the pretrained moving statistics "
    "and run in inference mode, so small batches of new images cannot wreck them.",
)
PIPELINE_FROM_WEIGHTS = "from_weights"

RECIPES["fast"] = Recipe(
    name="fast",
    paper="Not a paper setting: fast-training practice (Goyal et al. 2017 warm-up and linear "
    "scaling; Smith 2018 one-cycle; Szegedy et al. 2016 label smoothing; DeVries & Taylor 2017 "
    "cutout; He et al. 2019 'bag of tricks' zero-gamma; Page 2018 / airbench)",
    optimizer="sgd",
    base_lr=0.2,
    base_batch=128,
    weight_decay=5e-4,
    schedule="warmup_linear",
    warmup_fraction=0.15,
    epochs=8.0,
    pipeline="cifar",
    nesterov=True,
    label_smoothing=0.1,
    # Off by measurement: the ablation (BENCHMARKS.md CPU 12, validation split, 2 epochs) gave
    # 89.72% without it, 88.38% with it; an option (zero_init_residual=true).
    zero_init_residual=False,
    cutout=0.0,
    val_fraction=0.1,
    follow_weights=True,
    notes="Batch 128, Nesterov SGD 0.9, lr 0.2 (scaled with the batch) ramped up linearly "
    "over the first 15% of training then down linearly to 0; weight decay 5e-4 on kernels "
    "only; label smoothing 0.1; pad-crop-flip; 8 epochs. Zero-init of the last BatchNorm of "
    "every residual branch (zero_init_residual=true) and cutout (cutout=0.25: a zeroed square "
    "of 1/4 of the side) are options, off by default (measured on the validation split). "
    "With --weights it fine-tunes: the weights' own transform, BatchNorm frozen, as the "
    "finetune recipe. Every value can be changed with "
    "--recipe_options (e.g. cutout=0.25,label_smoothing=0).",
)

# Recipe fields --recipe_options may not change: they name and describe the recipe.
_FIXED_FIELDS = ("name", "paper", "notes")


def recipe_option_names() -> list:
    """The Recipe fields ``recipe_options`` may set."""
    return [f.name for f in dataclasses.fields(Recipe) if f.name not in _FIXED_FIELDS]


def parse_recipe_options(text: str | None) -> dict:
    """``"key=value,key=value"`` as typed Recipe field values (``ValueError`` names the key).

    Booleans are true/false, optional numbers take ``none``, tuples (``milestones``)
    separate their values with ``:``.

    Example:
        >>> from keras_convnets.training import config
        >>> config.parse_recipe_options("cutout=0,nesterov=false,milestones=0.5:0.75")
        {'cutout': 0.0, 'nesterov': False, 'milestones': (0.5, 0.75)}
    """
    if not text:
        return {}
    types = {f.name: str(f.type) for f in dataclasses.fields(Recipe)}
    allowed = recipe_option_names()
    options = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or key not in allowed:
            raise ValueError(
                f"`recipe_options` must be key=value pairs, keys among {', '.join(allowed)}. "
                f"Received: recipe_options={text!r} ({item.strip()!r})"
            )
        try:
            options[key] = _typed(types[key], value)
        except ValueError:
            raise ValueError(
                f"`recipe_options` {key}={value!r} is not a {types[key]}. "
                f"Received: recipe_options={text!r}"
            ) from None
    return options


def _typed(kind: str, value: str):
    if value.lower() == "none" and "None" in kind:
        return None
    if kind.startswith("bool"):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(value)
        return value.lower() in ("true", "1", "yes")
    if kind.startswith("int"):
        return int(value)
    if kind.startswith("float"):
        return float(value)
    if kind.startswith("tuple"):
        return tuple(float(v) for v in value.split(":") if v)
    return value


def _check_recipe(recipe: Recipe, text):
    """Refuses a recipe whose values (after ``recipe_options``) cannot train."""
    checks = (
        ("optimizer", recipe.optimizer in OPTIMIZERS, ", ".join(OPTIMIZERS)),
        ("schedule", recipe.schedule in SCHEDULES, ", ".join(SCHEDULES)),
        ("base_lr", 0 < recipe.base_lr < math.inf, "> 0"),
        ("base_batch", recipe.base_batch >= 1, ">= 1"),
        ("epochs", 0 < recipe.epochs < math.inf, "> 0"),
        ("weight_decay", 0 <= recipe.weight_decay < math.inf, ">= 0"),
        ("momentum", 0 <= recipe.momentum < 1, "in [0, 1)"),
        ("label_smoothing", 0 <= recipe.label_smoothing < 1, "in [0, 1)"),
        ("warmup_fraction", 0 <= recipe.warmup_fraction < 1, "in [0, 1)"),
        ("cutout", 0 <= recipe.cutout < 1, "in [0, 1)"),
        ("val_fraction", 0 <= recipe.val_fraction < 1, "in [0, 1)"),
        ("ema_decay", recipe.ema_decay is None or 0 < recipe.ema_decay < 1, "none or in (0, 1)"),
    )
    from keras_convnets.data.datasets import PIPELINES

    pipelines = (*PIPELINES, PIPELINE_FROM_WEIGHTS)
    checks += (("pipeline", recipe.pipeline in pipelines, ", ".join(pipelines)),)
    for key, ok, allowed in checks:
        if not ok:
            raise ValueError(
                f"`recipe_options` sets {key}={getattr(recipe, key)!r}; allowed: {allowed}. "
                f"Received: recipe_options={text!r}"
            )
    if recipe.schedule == "piecewise" and any(not 0 < m < 1 for m in recipe.milestones):
        raise ValueError(
            f"`recipe_options` milestones must be fractions in (0, 1). Received: "
            f"milestones={recipe.milestones!r}"
        )


def get_recipe(name: str) -> Recipe:
    """The named recipe (``ValueError`` lists the allowed names).

    Example:
        >>> from keras_convnets.training import config
        >>> config.get_recipe("resnet_cifar").base_lr
        0.1
    """
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}. Allowed recipes: {', '.join(RECIPES)}")
    return RECIPES[name]


def effective_recipe(name: str, options: str | None = None) -> Recipe:
    """The named recipe with ``options`` (:func:`parse_recipe_options`) applied and checked.

    Example:
        >>> from keras_convnets.training import config
        >>> config.effective_recipe("fast", "cutout=0").cutout
        0.0
    """
    recipe = get_recipe(name)
    changes = parse_recipe_options(options)
    if not changes:
        return recipe
    recipe = dataclasses.replace(recipe, **changes)
    _check_recipe(recipe, options)
    return recipe


@dataclasses.dataclass
class TrainConfig:
    """One run, as the command line gives it (``None``: the recipe decides)."""

    recipe: str = "resnet_cifar"
    model: str = "resnet20"
    dataset: str = "cifar10"
    model_dir: str = "runs/default"
    data_dir: str | None = None
    manual_dir: str | None = None
    batch_size: int | None = None  # global batch
    epochs: float | None = None
    steps: int | None = None
    lr: float | None = None  # overrides the scaled rate
    weight_decay: float | None = None
    strategy: str = "auto"
    precision: str = "float32"
    jit_compile: bool = False
    input_shape: str = "model"  # "model", "native" (the data's), or "H,W,C"
    val_fraction: float | None = None  # held out of train; 0: validate on the test split
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    seed: int = 0
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    log_every: int = 50
    verbose: int = 1
    collective_timeout_s: float = 300.0
    plots: bool = True
    weights: str | None = None  # initial weights: "imagenet", a weights/.keras file or a run dir
    freeze_backbone: bool = False  # finetune: keep the backbone frozen for the whole run
    allow_config_change: bool = False  # resume although model/data/schedule changed
    recipe_options: str | None = None  # "key=value,...": Recipe fields changed for this run

    def recipe_setting(self) -> Recipe:
        """The run's recipe: :attr:`recipe` with :attr:`recipe_options` applied."""
        return effective_recipe(self.recipe, self.recipe_options)

    def validate(self):
        """Checks the flags that need no data; raises ``ValueError`` listing what is allowed."""
        recipe = self.recipe_setting()
        if recipe.pipeline == PIPELINE_FROM_WEIGHTS and self.weights is None:
            raise ValueError(
                f"Recipe {self.recipe!r} fine-tunes pretrained weights: pass `weights` "
                "('imagenet', a .weights.h5/.keras file or a run directory). Received: weights=None"
            )
        if _is_named_source(self.weights):
            from keras_convnets.models import pretrained

            pretrained.entry_for_model(self.weights, self.model)  # the model can take them
        elif self.weights not in (None, "imagenet") and not os.path.exists(self.weights):
            raise ValueError(
                "`weights` must be 'imagenet', 'torchvision[:TAG]', 'timm[:TAG]', an existing "
                "weights/.keras/.pth/.safetensors file or a run directory. "
                f"Received: weights={self.weights!r}, which does not exist."
            )
        if self.keep_checkpoints < 1:
            raise ValueError(
                "`keep_checkpoints` must be >= 1. "
                f"Received: keep_checkpoints={self.keep_checkpoints}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"`precision` must be one of {', '.join(PRECISIONS)}. "
                f"Received: precision={self.precision!r}"
            )
        counts = ("batch_size", "steps", "checkpoint_every", "log_every", "keep_checkpoints")
        for name in counts + ("max_train_examples", "max_eval_examples"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}")
        # A negative or NaN rate trains the wrong way without a word (issue 13).
        for name, low in (("lr", "> 0"), ("weight_decay", ">= 0"), ("collective_timeout_s", "> 0")):
            value = getattr(self, name)
            ok = value is None or (0 < value < math.inf if low == "> 0" else 0 <= value < math.inf)
            if not ok:
                raise ValueError(f"`{name}` must be finite and {low}. Received: {name}={value!r}")
        if self.seed < 0 or self.verbose not in (0, 1, 2):
            raise ValueError(
                f"`seed` must be >= 0 and `verbose` 0, 1 or 2. Received: seed={self.seed!r}, "
                f"verbose={self.verbose!r}"
            )
        if self.manual_dir is not None and not os.path.isdir(self.manual_dir):
            raise ValueError(
                f"`manual_dir` must be an existing folder. Received: manual_dir={self.manual_dir!r}"
            )
        if self.val_fraction is not None and not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(
                f"`val_fraction` must be in [0, 1). Received: val_fraction={self.val_fraction!r}"
            )
        if self.epochs is not None and not self.epochs > 0:
            raise ValueError(f"`epochs` must be > 0. Received: epochs={self.epochs!r}")
        if self.input_shape not in ("model", "native") and not re.fullmatch(
            r"\d+,\d+,[13]", self.input_shape
        ):
            raise ValueError(
                "`input_shape` must be 'model', 'native' or 'H,W,C' (C 1 or 3). "
                f"Received: input_shape={self.input_shape!r}"
            )


def model_depth(model_name: str) -> int:
    """Depth read from the name (``resnet110`` -> 110); 0 when the name has none."""
    found = re.search(r"(\d+)$", model_name)
    return int(found.group(1)) if found else 0


@dataclasses.dataclass
class Resolved:
    """The concrete configuration of one run (what ``config.json`` holds).

    Built by :func:`resolve`; ``rules`` says by which rule each derived number
    was obtained. Defaults exist so that a test can build a partial one.
    """

    recipe: str = "resnet_cifar"
    paper: str = ""
    model: str = "resnet20"
    dataset: str = "cifar10"
    data_dir: str | None = None
    weights: str | None = None
    classes: int = 10
    input_shape: list = dataclasses.field(default_factory=lambda: [32, 32, 3])
    pipeline: str = "cifar"
    preprocessing_mode: str | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    rho: float = 0.9
    epsilon: float = 1e-7
    global_batch: int = 128
    per_replica_batch: int = 128
    num_replicas: int = 1
    num_workers: int = 1
    num_train: int = 0
    num_val: int | None = None
    num_test: int | None = None
    skipped_images: int = 0
    steps_per_epoch: int = 1
    total_steps: int = 1
    epochs: float = 1.0  # total_steps x global_batch / num_train: the passes asked for
    learning_rate: float = 0.1
    schedule: str = "piecewise"
    milestone_steps: list = dataclasses.field(default_factory=list)
    warmup_steps: int = 0  # warmup_linear: steps of the linear ramp up to learning_rate
    nesterov: bool = False
    decay_factor: float = 0.1
    decay_every_steps: int | None = None
    plateau_patience: int = 0
    plateau_max_reductions: int = 3
    warmup_lr: float | None = None
    warmup_until_error: float = 0.8
    warmup_max_steps: int = 0
    freeze_steps: int = 0  # fine-tuning: steps with the backbone frozen
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    clip_global_norm: float | None = None
    ema_decay: float | None = None
    zero_init_residual: bool = False
    cutout: float = 0.0
    recipe_options: dict = dataclasses.field(default_factory=dict)  # --recipe_options
    val_fraction: float = 0.1
    split_seed: int = 0
    outputs: list = dataclasses.field(default_factory=lambda: ["predictions"])
    loss_weights: dict = dataclasses.field(default_factory=lambda: {"predictions": 1.0})
    precision: str = "float32"
    jit_compile: bool = False
    seed: int = 0
    checkpoint_every: int = 1000
    strategy: str = ""
    config_changes: list = dataclasses.field(default_factory=list)  # --allow_config_change
    rules: list = dataclasses.field(default_factory=list)

    # What a resumed run may not change without --allow_config_change.
    IDENTITY = (
        "recipe model dataset data_dir weights classes input_shape pipeline preprocessing_mode "
        "optimizer global_batch num_train total_steps learning_rate schedule milestone_steps "
        "decay_every_steps warmup_lr freeze_steps weight_decay label_smoothing ema_decay "
        "val_fraction split_seed seed precision recipe_options warmup_steps nesterov "
        "zero_init_residual cutout"
    ).split()

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict) -> Resolved:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def changes_from(self, previous: dict) -> dict:
        """``{key: [previous, now]}`` for every identity field that differs from ``previous``."""
        now = json.loads(json.dumps(self.to_json(), default=atomic.json_value))
        return {
            key: [previous.get(key), now[key]]
            for key in self.IDENTITY
            if key in previous and previous.get(key) != now[key]
        }


def resolve(
    cfg: TrainConfig,
    *,
    num_train: int,
    num_replicas: int,
    num_workers: int = 1,
    input_shape: tuple,
    classes: int,
    outputs: tuple = ("predictions",),
    loss_weights: dict | None = None,
    preprocessing: str | None = None,
    pipeline: str | None = None,
) -> Resolved:
    """The concrete configuration of one run, with the rule behind each derived number.

    ``pipeline`` replaces the recipe's (a fine-tuning run takes that of its weights).

    Example:
        >>> from keras_convnets.training import config
        >>> r = config.resolve(config.TrainConfig(), num_train=45_000, num_replicas=1,
        ...                    input_shape=(32, 32, 3), classes=10)
        >>> r.total_steps, r.milestone_steps, r.learning_rate
        (64000, [32000, 48000], 0.1)
    """
    recipe = cfg.recipe_setting()
    rules = []
    global_batch, steps_per_epoch = _batch(cfg, recipe, num_train, num_replicas, num_workers, rules)
    lr = _learning_rate(cfg, recipe, global_batch, rules)
    total_steps = _length(cfg, recipe, num_train, global_batch, rules)
    milestone_steps, decay_every_steps = _schedule(
        recipe, total_steps, num_train, global_batch, rules
    )
    warmup_lr = _warmup(cfg, recipe, global_batch, rules)
    warmup_steps = _linear_warmup(recipe, total_steps, rules)
    freeze_steps = _freeze_steps(cfg, recipe, steps_per_epoch, total_steps, rules)
    weight_decay = recipe.weight_decay if cfg.weight_decay is None else cfg.weight_decay
    rules.append(
        f"weight decay {weight_decay:g}: L2 0.5*wd*|w|^2 on conv/dense kernels added to the "
        "loss (coupled, as in the papers; not AdamW)"
    )
    if len(outputs) > 1:
        rules.append(f"auxiliary losses weighted {loss_weights} (registry loss_weights)")
    return Resolved(
        recipe=recipe.name,
        paper=recipe.paper,
        model=cfg.model,
        dataset=cfg.dataset,
        data_dir=None if cfg.data_dir is None else os.path.abspath(cfg.data_dir),
        weights=_weights_id(cfg.weights),
        classes=classes,
        input_shape=[int(d) for d in input_shape],
        pipeline=pipeline or recipe.pipeline,
        preprocessing_mode=preprocessing,
        optimizer=recipe.optimizer,
        momentum=recipe.momentum,
        rho=recipe.rho,
        epsilon=recipe.epsilon,
        global_batch=global_batch,
        per_replica_batch=global_batch // num_replicas,
        num_replicas=num_replicas,
        num_workers=num_workers,
        num_train=num_train,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        epochs=total_steps * global_batch / num_train,  # passes over the data, as --epochs
        learning_rate=lr,
        schedule=recipe.schedule,
        milestone_steps=milestone_steps,
        warmup_steps=warmup_steps,
        nesterov=recipe.nesterov,
        decay_factor=recipe.decay_factor,
        decay_every_steps=decay_every_steps,
        plateau_patience=recipe.plateau_patience,
        plateau_max_reductions=recipe.plateau_max_reductions,
        warmup_lr=warmup_lr,
        warmup_until_error=recipe.warmup_until_error,
        warmup_max_steps=int(recipe.warmup_max_epochs * steps_per_epoch),
        freeze_steps=freeze_steps,
        weight_decay=weight_decay,
        label_smoothing=recipe.label_smoothing,
        clip_global_norm=recipe.clip_global_norm,
        ema_decay=recipe.ema_decay,
        zero_init_residual=recipe.zero_init_residual and cfg.weights is None,
        cutout=recipe.cutout,
        recipe_options=parse_recipe_options(cfg.recipe_options),
        val_fraction=recipe.val_fraction if cfg.val_fraction is None else cfg.val_fraction,
        outputs=list(outputs),
        loss_weights=loss_weights or {outputs[0]: 1.0},
        precision=cfg.precision,
        jit_compile=cfg.jit_compile,
        seed=cfg.seed,
        checkpoint_every=cfg.checkpoint_every,
        rules=rules,
    )


def _is_named_source(weights) -> bool:
    """``"torchvision"``, ``"timm:<tag>"`` ...: converted weights named, not a file."""
    from keras_convnets.models import pretrained

    return isinstance(weights, str) and weights.partition(":")[0] in pretrained.SOURCE_NAMES


def _weights_id(weights):
    if weights in (None, "imagenet") or _is_named_source(weights):
        return weights
    return os.path.abspath(weights)


def _batch(cfg, recipe, num_train, num_replicas, num_workers, rules):
    global_batch = cfg.batch_size or recipe.base_batch
    if global_batch % num_replicas:
        raise ValueError(
            f"`batch_size` (the global batch) must be divisible by the {num_replicas} replicas. "
            f"Received: batch_size={global_batch}; allowed: multiples of {num_replicas}"
        )
    steps_per_epoch = num_train // global_batch
    if steps_per_epoch < 1:
        raise ValueError(
            f"`batch_size`={global_batch} is larger than the {num_train} training examples."
        )
    rules.append(
        f"batch: global {global_batch} = {global_batch // num_replicas} per replica x "
        f"{num_replicas} replicas ({num_workers} worker(s)); each worker reads 1/{num_workers} "
        "of every epoch's permutation"
    )
    return global_batch, steps_per_epoch


def _learning_rate(cfg, recipe, global_batch, rules):
    if cfg.lr is not None:
        rules.append(f"learning rate {cfg.lr} given by --lr")
        return cfg.lr
    lr = recipe.base_lr * global_batch / recipe.base_batch
    rules.append(
        f"learning rate: linear scaling {recipe.base_lr} x {global_batch}/"
        f"{recipe.base_batch} = {lr:g}"
    )
    return lr


def _length(cfg, recipe, num_train, global_batch, rules):
    if cfg.steps is not None:
        rules.append(f"length: {cfg.steps} steps given by --steps")
        return cfg.steps
    epochs = cfg.epochs if cfg.epochs is not None else recipe.epochs
    total_steps = max(1, int(round(epochs * num_train / global_batch)))
    rules.append(
        f"length: {epochs:g} epochs ({'--epochs' if cfg.epochs else 'the paper'}) x "
        f"{num_train} images / {global_batch} = {total_steps} steps"
    )
    return total_steps


def _schedule(recipe, total_steps, num_train, global_batch, rules):
    """``(milestone_steps, decay_every_steps)``: the paper's schedule scaled to this run."""
    scale = total_steps / (recipe.epochs * num_train / global_batch)
    milestone_steps = [int(round(m * total_steps)) for m in recipe.milestones]
    if milestone_steps:
        rules.append(
            f"milestones at {list(recipe.milestones)} of training -> steps {milestone_steps}"
        )
    decay_every_steps = None
    if recipe.schedule == "step_decay":
        decay_every_steps = max(
            1, int(round(recipe.decay_every_epochs * num_train / global_batch * scale))
        )
        rules.append(
            f"lr x{recipe.decay_factor} every {recipe.decay_every_epochs:g} paper epochs "
            f"scaled by the run length ({scale:.4g}) -> every {decay_every_steps} steps"
        )
    return milestone_steps, decay_every_steps


def _warmup(cfg, recipe, global_batch, rules):
    depth = model_depth(cfg.model)
    if recipe.warmup_lr is None or depth < recipe.warmup_min_depth:
        return None
    warmup_lr = recipe.warmup_lr * global_batch / recipe.base_batch
    rules.append(
        f"warm-up: depth {depth} >= {recipe.warmup_min_depth}: lr {warmup_lr:g} until the "
        f"training error < {recipe.warmup_until_error:.0%} (at most "
        f"{recipe.warmup_max_epochs:g} epochs)"
    )
    return warmup_lr


def _linear_warmup(recipe, total_steps, rules):
    if recipe.schedule != "warmup_linear":
        return 0
    steps = max(1, int(round(recipe.warmup_fraction * total_steps)))
    rules.append(
        f"schedule: lr ramps linearly up to its peak over {recipe.warmup_fraction:g} of training "
        f"({steps} steps), then linearly down to 0 at step {total_steps}"
    )
    return steps


def _freeze_steps(cfg, recipe, steps_per_epoch, total_steps, rules):
    if cfg.freeze_backbone:
        rules.append("backbone frozen for the whole run (--freeze_backbone): the head alone trains")
        return total_steps
    if not recipe.freeze_epochs or cfg.weights is None:
        return 0
    steps = min(total_steps, max(1, int(round(recipe.freeze_epochs * steps_per_epoch))))
    rules.append(
        f"fine-tuning: backbone frozen for {recipe.freeze_epochs:g} epoch(s) = {steps} steps "
        "(the new head trains alone), then unfrozen; BatchNorm stays frozen throughout"
    )
    return steps


def describe(resolved: Resolved) -> str:
    """The resolved configuration as the text the run prints."""
    values = resolved.to_json()
    lines = [f"Resolved configuration ({resolved.recipe}: {resolved.paper})"]
    for key, value in values.items():
        if key != "rules":
            lines.append(f"  {key:24s} {value}")
    lines.append("  rules:")
    lines.extend(f"    - {rule}" for rule in resolved.rules)
    return "\n".join(lines)


def eval_preprocess(model_dir):
    """The evaluation transform of a run (:meth:`keras_convnets.runs.RunCard.preprocess`).

    ``fn(image uint8, label) -> (float32 image, label)``: the run's pipeline
    without augmentation, its input shape, its normalisation and (``cifar``)
    its training set's mean image. Evaluation of a trained model must use
    exactly this.
    """
    from keras_convnets import runs as run

    return run.load_run(model_dir).preprocess()
