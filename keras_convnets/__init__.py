"""keras_convnets: the ConvNets of the Inception and ResNet papers, faithfully in Keras 3.

Example:
    >>> import keras_convnets
    >>> model = keras_convnets.ResNet20()
    >>> model.output_shape
    (None, 10)
"""

from keras_convnets import _interrupt, _logs

_logs.from_environment()  # before TensorFlow starts: KERAS_CONVNETS_TF_LOG=PATH

with _interrupt.quiet_while_starting():  # a command line's Ctrl-C: no traceback
    from keras_convnets import data  # noqa: E402
    from keras_convnets.analysis import cost  # noqa: E402
    from keras_convnets.data.imagenet import decode_predictions, preprocess_input  # noqa: E402
    from keras_convnets.models import layers, weights  # noqa: E402
    from keras_convnets.models.googlenet import GoogLeNet, InceptionV1  # noqa: E402
    from keras_convnets.models.heads import inference_model, loss_weights, with_aux_targets  # noqa: E402
    from keras_convnets.models.inception_resnet import InceptionResNetV1, InceptionResNetV2  # noqa: E402
    from keras_convnets.models.inception_v3 import InceptionV2, InceptionV3  # noqa: E402
    from keras_convnets.models.inception_v4 import InceptionV4  # noqa: E402
    from keras_convnets.models.inference import optimize_for_inference  # noqa: E402
    from keras_convnets.models.registry import ModelInfo, get_model, list_models, model_info  # noqa: E402
    from keras_convnets.models.resnet import (  # noqa: E402
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
    from keras_convnets.models.resnet_v2 import (  # noqa: E402
        PreActResNet110,
        PreActResNet164,
        PreActResNet1001,
        ResNet50V2,
        ResNet101V2,
        ResNet152V2,
    )
    from keras_convnets.models.saving import load_model  # noqa: E402
    from keras_convnets.models.twin import copy_weights, tf_keras_twin  # noqa: E402

__version__ = "0.1.0"

# TensorFlow-only parts (evaluation, training, deploy) are imported on first use,
# so that `import keras_convnets` works on a JAX-only machine.
_LAZY = {
    "evaluation": "keras_convnets.analysis.evaluation",
    "training": "keras_convnets.training",
    "deploy": "keras_convnets.deploy",
}
# Functions of those parts, importable from the top level.
_LAZY_FUNCTIONS = {"evaluate_run": "keras_convnets.run_evaluation"}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'keras_convnets' has no attribute {name!r}")


__all__ = [
    "GoogLeNet",
    "InceptionV1",
    "InceptionV2",
    "InceptionResNetV1",
    "InceptionResNetV2",
    "InceptionV3",
    "InceptionV4",
    "data",
    "deploy",
    "evaluate_run",
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
    "ResNet50V2",
    "ResNet101V2",
    "ResNet152V2",
    "PreActResNet110",
    "PreActResNet164",
    "PreActResNet1001",
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
