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

SCHEDULES = ("piecewise", "plateau", "step_decay")
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
    notes: str = ""


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

    def validate(self):
        """Checks the flags that need no data; raises ``ValueError`` listing what is allowed."""
        get_recipe(self.recipe)
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
) -> dict:
    """The concrete configuration of one run, with the rule behind each derived number.

    Example:
        >>> from keras_convnets.training import config
        >>> r = config.resolve(config.TrainConfig(), num_train=45_000, num_replicas=1,
        ...                    input_shape=(32, 32, 3), classes=10)
        >>> r["total_steps"], r["milestone_steps"], r["learning_rate"]
        (64000, [32000, 48000], 0.1)
    """
    recipe = get_recipe(cfg.recipe)
    rules = []
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
    lr = recipe.base_lr * global_batch / recipe.base_batch
    if cfg.lr is not None:
        lr = cfg.lr
        rules.append(f"learning rate {lr} given by --lr")
    else:
        rules.append(
            f"learning rate: linear scaling {recipe.base_lr} x {global_batch}/"
            f"{recipe.base_batch} = {lr:g}"
        )
    if cfg.steps is not None:
        total_steps = cfg.steps
        rules.append(f"length: {total_steps} steps given by --steps")
    else:
        epochs = cfg.epochs if cfg.epochs is not None else recipe.epochs
        total_steps = max(1, int(round(epochs * num_train / global_batch)))
        rules.append(
            f"length: {epochs:g} epochs ({'--epochs' if cfg.epochs else 'the paper'}) x "
            f"{num_train} images / {global_batch} = {total_steps} steps"
        )
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
    depth = model_depth(cfg.model)
    warmup_lr = None
    if recipe.warmup_lr is not None and depth >= recipe.warmup_min_depth:
        warmup_lr = recipe.warmup_lr * global_batch / recipe.base_batch
        rules.append(
            f"warm-up: depth {depth} >= {recipe.warmup_min_depth}: lr {warmup_lr:g} until the "
            f"training error < {recipe.warmup_until_error:.0%} (at most "
            f"{recipe.warmup_max_epochs:g} epochs)"
        )
    weight_decay = recipe.weight_decay if cfg.weight_decay is None else cfg.weight_decay
    rules.append(
        f"weight decay {weight_decay:g}: L2 0.5*wd*|w|^2 on conv/dense kernels added to the "
        "loss (coupled, as in the papers; not AdamW)"
    )
    if len(outputs) > 1:
        rules.append(f"auxiliary losses weighted {loss_weights} (registry loss_weights)")
    return {
        "recipe": recipe.name,
        "paper": recipe.paper,
        "model": cfg.model,
        "dataset": cfg.dataset,
        "classes": classes,
        "input_shape": list(input_shape),
        "pipeline": recipe.pipeline,
        "preprocessing_mode": preprocessing,
        "optimizer": recipe.optimizer,
        "momentum": recipe.momentum,
        "rho": recipe.rho,
        "epsilon": recipe.epsilon,
        "global_batch": global_batch,
        "per_replica_batch": global_batch // num_replicas,
        "num_replicas": num_replicas,
        "num_workers": num_workers,
        "num_train": num_train,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total_steps,
        "epochs": total_steps / steps_per_epoch,
        "learning_rate": lr,
        "schedule": recipe.schedule,
        "milestone_steps": milestone_steps,
        "decay_factor": recipe.decay_factor,
        "decay_every_steps": decay_every_steps,
        "plateau_patience": recipe.plateau_patience,
        "plateau_max_reductions": recipe.plateau_max_reductions,
        "warmup_lr": warmup_lr,
        "warmup_until_error": recipe.warmup_until_error,
        "warmup_max_steps": int(recipe.warmup_max_epochs * steps_per_epoch),
        "weight_decay": weight_decay,
        "label_smoothing": recipe.label_smoothing,
        "clip_global_norm": recipe.clip_global_norm,
        "ema_decay": recipe.ema_decay,
        "val_fraction": recipe.val_fraction if cfg.val_fraction is None else cfg.val_fraction,
        "outputs": list(outputs),
        "loss_weights": loss_weights or {outputs[0]: 1.0},
        "precision": cfg.precision,
        "jit_compile": cfg.jit_compile,
        "seed": cfg.seed,
        "checkpoint_every": cfg.checkpoint_every,
        "rules": rules,
    }


def describe(resolved: dict) -> str:
    """The resolved configuration as the text the run prints."""
    lines = [f"Resolved configuration ({resolved['recipe']}: {resolved['paper']})"]
    for key, value in resolved.items():
        if key != "rules":
            lines.append(f"  {key:24s} {value}")
    lines.append("  rules:")
    lines.extend(f"    - {rule}" for rule in resolved["rules"])
    return "\n".join(lines)


def write_json_atomic(path, obj):
    """Writes JSON to ``path`` through a temporary file and ``os.replace``."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=_json_default)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def eval_preprocess(model_dir):
    """The evaluation preprocessing of a finished run, from its ``config.json``.

    ``fn(image uint8, label) -> (float32 image, label)``: the run's pipeline
    without augmentation, its input shape, and (``cifar`` pipeline) the
    training set's mean image saved as ``mean_image.npy``. Evaluation of a
    trained model must use exactly this.

    Example:
        >>> import tempfile, numpy as np
        >>> from keras_convnets.training import config
        >>> d = tempfile.mkdtemp()
        >>> write_json_atomic(os.path.join(d, "config.json"), {"pipeline": "none",
        ...     "input_shape": [8, 8, 1], "preprocessing_mode": None})
        >>> tuple(config.eval_preprocess(d)(np.zeros((4, 4, 1), "uint8"), 0)[0].shape)
        (8, 8, 1)
    """
    import numpy as np

    from keras_convnets import data

    with open(os.path.join(model_dir, "config.json")) as f:
        resolved = json.load(f)
    mean = None
    mean_path = os.path.join(model_dir, "mean_image.npy")
    if resolved["pipeline"] == "cifar":
        mean = np.load(mean_path)
    return data.make_preprocess(
        resolved["pipeline"],
        training=False,
        input_shape=tuple(resolved["input_shape"]),
        mode=resolved.get("preprocessing_mode"),
        mean_image=mean,
    )
