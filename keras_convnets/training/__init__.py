"""Training: named recipes of the papers, a custom ``tf.distribute`` loop, checkpoints.

Example:
    >>> from keras_convnets.training import RECIPES, TrainConfig
    >>> sorted(RECIPES)
    ['googlenet', 'inception_v3', 'resnet_cifar', 'resnet_imagenet']
"""

from keras_convnets.training.config import (
    RECIPES,
    Recipe,
    TrainConfig,
    eval_preprocess,
    get_recipe,
    resolve,
)
from keras_convnets.training.loop import NonFiniteLossError, train
from keras_convnets.training.strategy import STRATEGIES, WorkerLostError, make_strategy

__all__ = [
    "RECIPES",
    "STRATEGIES",
    "NonFiniteLossError",
    "Recipe",
    "TrainConfig",
    "WorkerLostError",
    "eval_preprocess",
    "get_recipe",
    "make_strategy",
    "resolve",
    "train",
]
