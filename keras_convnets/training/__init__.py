"""Training: named recipes of the papers, a custom ``tf.distribute`` loop, checkpoints.

Example:
    >>> from keras_convnets.training import RECIPES, TrainConfig
    >>> sorted(RECIPES)
    ['finetune', 'googlenet', 'inception_v3', 'resnet_cifar', 'resnet_imagenet']
"""

from keras_convnets.runs import RunCard, RunLockedError, load_run
from keras_convnets.training.config import (
    RECIPES,
    Recipe,
    Resolved,
    TrainConfig,
    eval_preprocess,
    get_recipe,
    resolve,
)
from keras_convnets.training.loop import NonFiniteLossError, Trainer, train
from keras_convnets.training.strategy import STRATEGIES, WorkerLostError, make_strategy

__all__ = [
    "RECIPES",
    "STRATEGIES",
    "NonFiniteLossError",
    "Recipe",
    "Resolved",
    "RunCard",
    "RunLockedError",
    "TrainConfig",
    "Trainer",
    "WorkerLostError",
    "eval_preprocess",
    "get_recipe",
    "load_run",
    "make_strategy",
    "resolve",
    "train",
]
