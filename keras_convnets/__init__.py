"""keras_convnets: the ConvNets of the Inception and ResNet papers, faithfully in Keras 3.

Example:
    >>> import keras_convnets
    >>> model = keras_convnets.ResNet20()
    >>> model.output_shape
    (None, 10)
"""

from keras_convnets import cost, data, layers, weights
from keras_convnets.googlenet import GoogLeNet, InceptionV1
from keras_convnets.heads import inference_model, loss_weights, with_aux_targets
from keras_convnets.imagenet import decode_predictions, preprocess_input
from keras_convnets.inception_v3 import InceptionV2, InceptionV3
from keras_convnets.inference import optimize_for_inference
from keras_convnets.registry import ModelInfo, get_model, list_models, model_info
from keras_convnets.resnet import (
    ResNet18,
    ResNet20,
    ResNet32,
    ResNet34,
    ResNet44,
    ResNet50,
    ResNet56,
    ResNet101,
    ResNet110,
    ResNet152,
    ResNet1202,
)
from keras_convnets.saving import load_model
from keras_convnets.twin import copy_weights, tf_keras_twin

__version__ = "0.1.0"

# TensorFlow-only parts (evaluation, training, deploy) are imported on first use,
# so that `import keras_convnets` works on a JAX-only machine.
_LAZY = {
    "evaluation": "keras_convnets.evaluation",
    "training": "keras_convnets.training",
    "deploy": "keras_convnets.deploy",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module 'keras_convnets' has no attribute {name!r}")


__all__ = [
    "GoogLeNet",
    "InceptionV1",
    "InceptionV2",
    "InceptionV3",
    "data",
    "deploy",
    "evaluation",
    "ModelInfo",
    "ResNet18",
    "ResNet20",
    "ResNet32",
    "ResNet34",
    "ResNet44",
    "ResNet50",
    "ResNet56",
    "ResNet101",
    "ResNet110",
    "ResNet152",
    "ResNet1202",
    "copy_weights",
    "cost",
    "decode_predictions",
    "get_model",
    "inference_model",
    "layers",
    "list_models",
    "load_model",
    "loss_weights",
    "model_info",
    "optimize_for_inference",
    "preprocess_input",
    "tf_keras_twin",
    "training",
    "weights",
    "with_aux_targets",
]
