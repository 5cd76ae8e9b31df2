"""Export for deployment: serving SavedModel, TFLite (float, float16, int8, QAT), parity reports.

TFLite files take raw uint8 pixels (the input transform in the graph; the
default for int8 and QAT) or normalised input, carry TFLite metadata (labels
included) that MediaPipe Tasks reads, and can be quantized with TensorFlow's
converter or the AI Edge Quantizer. Example::

    from keras_convnets.deploy import export_model
    export_model("resnet20", "out/resnet20_int8.tflite", quantize="int8",
                 weights="run/ckpt.weights.h5", dataset="fashion_mnist")

Command line: ``python -m export --model=resnet20 --weights=run/ckpt.weights.h5
--format=tflite --quantize=int8 --dataset=fashion_mnist``.
"""

from keras_convnets.deploy.exporter import (
    FORMATS,
    ExportRequest,
    export,
    export_model,
    resolve_model,
)
from keras_convnets.deploy.preprocessing import PREPROCESSING_MODES, normalization, prepare
from keras_convnets.deploy.tflite import (
    INPUTS,
    IO_TYPES,
    QUANTIZE_MODES,
    QUANTIZERS,
    ConversionError,
    TFLiteRunner,
)

__all__ = [
    "FORMATS",
    "INPUTS",
    "IO_TYPES",
    "PREPROCESSING_MODES",
    "QUANTIZERS",
    "QUANTIZE_MODES",
    "ConversionError",
    "ExportRequest",
    "TFLiteRunner",
    "export",
    "export_model",
    "normalization",
    "prepare",
    "resolve_model",
]
