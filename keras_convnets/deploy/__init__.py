"""Export for deployment: serving SavedModel, TFLite (float, float16, int8, QAT), parity reports.

Example::

    from keras_convnets.deploy import export_model
    export_model("resnet20", "out/resnet20_int8.tflite", quantize="int8",
                 weights="run/ckpt.weights.h5", dataset="fashion_mnist")

Command line: ``python -m export --model=resnet20 --weights=run/ckpt.weights.h5
--format=tflite --quantize=int8 --dataset=fashion_mnist``.
"""

from keras_convnets.deploy.exporter import FORMATS, export_model, resolve_model
from keras_convnets.deploy.preprocessing import PREPROCESSING_MODES, normalization, prepare
from keras_convnets.deploy.tflite import IO_TYPES, QUANTIZE_MODES, ConversionError, TFLiteRunner

__all__ = [
    "FORMATS",
    "IO_TYPES",
    "PREPROCESSING_MODES",
    "QUANTIZE_MODES",
    "ConversionError",
    "TFLiteRunner",
    "export_model",
    "normalization",
    "prepare",
    "resolve_model",
]
