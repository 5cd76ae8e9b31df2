"""Keras model -> TFLite flatbuffer: float32, float16, dynamic-range int8, full int8.

The model is first written as a SavedModel whose only signature is
``serving_default(input: float32[1, H, W, C]) -> {"probabilities": [1, classes]}``
(``keras.export.ExportArchive``: it freezes Keras 3 variables properly, which a
plain ``tf.Module`` does not), and the converter reads that. The TFLite model
therefore has stable names: input tensor ``serving_default_input:0``, signature
``serving_default`` with input ``input`` and output ``probabilities``.

Two input contracts (``input=``):

* ``"raw"``: uint8 pixels ``[1, h, w, 1 or 3]`` as a camera or decoder gives
  them; the whole input transform (grey -> RGB, resize or pad, channel order,
  normalisation, mean image) is in the graph
  (:meth:`keras_convnets.deploy.preprocessing.Preprocessor.single`). In an int8
  file only the entry ``CAST`` (uint8 -> float32) and ``QUANTIZE`` (float32 ->
  int8) touch float: the converter's integer input type means *quantized*
  values, not pixels, so the pixels enter as plain uint8;
* ``"normalized"``: the model's float input (or its int8/uint8 quantization,
  ``io_type``); the JSON beside the model records the normalisation and the
  quantization scale and zero point.

Outputs are probabilities: float32, or quantized uint8/int8 when ``io_type``
asks for it (scale and zero point in the file).
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "qat")
IO_TYPES = ("int8", "uint8", "float32")
INPUTS = ("raw", "normalized")
QUANTIZERS = ("tf", "ai_edge")
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
SIGNATURE = "serving_default"


class ConversionError(RuntimeError):
    """A converter failure, with the operation and the layers it names."""


def check_quantize(quantize, io_type="int8"):
    """Raises ``ValueError`` unless ``quantize`` and ``io_type`` are known modes."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"`quantize` must be one of {', '.join(QUANTIZE_MODES)}. "
            f"Received: quantize={quantize!r}"
        )
    if io_type not in IO_TYPES:
        raise ValueError(
            f"`io_type` must be one of {', '.join(IO_TYPES)}. Received: io_type={io_type!r}"
        )


def _describe_failure(err, model) -> str:
    text = str(err)
    ops = sorted(set(re.findall(r"'(tf\.[A-Za-z0-9_]+|tfl\.[A-Za-z0-9_]+)'", text)))
    ops += sorted(set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b(?= failed| op)", text)))
    layers = [
        layer.name for layer in model.layers if re.search(rf"\b{re.escape(layer.name)}\b", text)
    ]
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
    parts = [first[:400]]
    if ops:
        parts.append(f"operation(s): {', '.join(ops[:5])}")
    if layers:
        parts.append(f"layer(s): {', '.join(layers[:5])}")
    return "; ".join(parts)


def check_io(quantize, io_type, *, input="normalized", quantizer="tf"):  # noqa: A002
    """The ``io_type`` a combination means; raises ``ValueError`` for one that means nothing.

    ``io_type=None`` picks the default: ``int8`` for a normalised int8/QAT file
    (input and output quantized), ``float32`` otherwise. A float file
    (``none``, ``float16``, ``dynamic``) has float32 input and output, so any
    other ``io_type`` is refused; a raw-pixel file takes uint8 pixels, so
    ``io_type`` then sets only the output (``float32`` or quantized ``uint8``);
    the AI Edge Quantizer keeps the float model's input and output types.
    """
    check_quantize(quantize, io_type or "float32")
    if input not in INPUTS:
        raise ValueError(f"`input` must be one of {', '.join(INPUTS)}. Received: input={input!r}")
    if quantizer not in QUANTIZERS:
        raise ValueError(
            f"`quantizer` must be one of {', '.join(QUANTIZERS)}. Received: quantizer={quantizer!r}"
        )
    integer = quantize in ("int8", "qat") and quantizer == "tf"
    if io_type is None:
        return "int8" if integer and input == "normalized" else "float32"
    if io_type != "float32" and not integer:
        why = (
            "the AI Edge Quantizer keeps the float model's input and output types"
            if quantizer == "ai_edge"
            else f"a quantize={quantize!r} file takes and returns float32"
        )
        raise ValueError(
            f"`io_type` applies to int8 and QAT files of the tf quantizer; {why}. "
            f"Received: io_type={io_type!r}, quantize={quantize!r}, quantizer={quantizer!r}"
        )
    if input == "raw" and io_type == "int8":
        raise ValueError(
            "A raw-pixel file takes uint8 pixels; `io_type` then sets its output: float32 "
            "(probabilities) or uint8 (quantized probabilities). Received: io_type='int8', "
            "input='raw'"
        )
    return io_type


def write_source_savedmodel(model, directory, *, batch_size=1, preprocess=None, raw_shape=None):
    """Writes the signature the converter reads (see the module doc).

    Without ``preprocess``: float32 ``[batch, *model input]``. With it: uint8
    ``[batch, *raw_shape]`` pixels, and ``preprocess`` (uint8 batch -> the
    model's float input) in the graph before the model.
    """
    import keras

    if preprocess is None:
        shape, dtype = (batch_size, *model.input_shape[1:]), "float32"

        def serve(x):
            return {OUTPUT_NAME: model(x, training=False)}
    else:
        shape, dtype = (batch_size, *raw_shape), "uint8"

        def serve(x):
            return {OUTPUT_NAME: model(preprocess(x), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SIGNATURE,
        serve,
        input_signature=[keras.InputSpec(shape=shape, dtype=dtype, name=INPUT_NAME)],
    )
    archive.write_out(directory, verbose=False)


def configure(converter, quantize, *, representative=None, io_type="int8", raw=False):
    """Sets a ``tf.lite.TFLiteConverter`` up for ``quantize``; returns it.

    ``raw``: the graph takes uint8 pixels (its input type is left alone).
    """
    import tensorflow as tf

    check_quantize(quantize, io_type)
    if quantize == "none":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if representative is None:
            raise ValueError(
                "Full-integer int8 needs representative data: pass `dataset` or "
                "`representative_images`. Received: none."
            )

        def gen():
            for i in range(len(representative)):
                yield [representative[i : i + 1].astype(np.uint8 if raw else np.float32)]

        converter.representative_dataset = gen
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if quantize in ("int8", "qat") and io_type != "float32":
        dtype = tf.int8 if io_type == "int8" else tf.uint8
        if not raw:
            converter.inference_input_type = dtype
        converter.inference_output_type = dtype
    return converter


def convert_savedmodel(
    directory, quantize, *, model, representative=None, io_type="int8", raw=False
):
    """Converts the SavedModel at ``directory``; errors name the failing op and layers."""
    import tensorflow as tf

    converter = configure(
        tf.lite.TFLiteConverter.from_saved_model(os.fspath(directory)),
        quantize,
        representative=representative,
        io_type=io_type,
        raw=raw,
    )
    try:
        return converter.convert()
    except Exception as err:
        raise ConversionError(
            f"TFLite conversion of model {model.name!r} (quantize={quantize!r}) failed: "
            f"{_describe_failure(err, model)}"
        ) from err


def convert(
    model, quantize="none", *, representative=None, io_type="int8", preprocess=None, raw_shape=None
) -> bytes:
    """A Keras 3 model -> TFLite bytes (``quantize`` other than ``"qat"``).

    ``representative``: float32 normalised images ``[N, H, W, C]`` (int8 only),
    or with ``preprocess`` (a raw-pixel file, see
    :func:`write_source_savedmodel`) uint8 pixels ``[N, *raw_shape]``.

    Example:
        >>> from keras_convnets.models import resnet
        >>> m = resnet.ResNet20(input_shape=(32, 32, 3))
        >>> len(convert(m, "dynamic")) > 0
        True
    """
    check_quantize(quantize, io_type)
    if quantize == "qat":
        raise ValueError(
            "quantize='qat' fine-tunes a tf_keras twin first: use "
            "keras_convnets.deploy.qat.quantize_aware_convert()."
        )
    if quantize == "int8" and representative is None:
        configure(None, "int8", representative=None)  # raises the clear error
    with tempfile.TemporaryDirectory(prefix="kc_tflite_src_") as tmp:
        write_source_savedmodel(model, tmp, preprocess=preprocess, raw_shape=raw_shape)
        return convert_savedmodel(
            tmp,
            quantize,
            model=model,
            representative=representative,
            io_type=io_type,
            raw=preprocess is not None,
        )


class TFLiteRunner:
    """Runs a TFLite model with ``ai_edge_litert`` (XNNPACK, the default delegate).

    Takes normalised float32 images and returns float32 probabilities,
    quantizing the input and dequantizing the output when they are integers.
    A raw-pixel file (``raw``: uint8 input without quantization parameters)
    takes uint8 pixels at its input size as they are.
    """

    def __init__(self, model_content: bytes, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        scale, _ = self.input["quantization"]
        self.raw = self.input["dtype"] == np.uint8 and not scale

    def _quantize(self, x):
        dtype = self.input["dtype"]
        if self.raw:
            if np.asarray(x).dtype != np.uint8:
                raise ValueError(
                    "This raw-pixel model takes uint8 pixels. "
                    f"Received: dtype={np.asarray(x).dtype.name}"
                )
            return np.asarray(x)
        if dtype == np.float32:
            return x.astype(np.float32)
        scale, zero = self.input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)

    def _dequantize(self, y):
        if self.output["dtype"] == np.float32:
            return y.astype(np.float32)
        scale, zero = self.output["quantization"]
        return (y.astype(np.float32) - zero) * scale

    def set_input(self, x):
        self.interpreter.set_tensor(self.input["index"], self._quantize(x))

    def invoke(self):
        self.interpreter.invoke()

    def predict(self, images) -> np.ndarray:
        """Probabilities ``[N, classes]``, one image at a time (the model's batch is 1)."""
        out = []
        for i in range(len(images)):
            self.set_input(images[i : i + 1])
            self.interpreter.invoke()
            out.append(self._dequantize(self.interpreter.get_tensor(self.output["index"])))
        return np.concatenate(out, axis=0)

    def io_details(self) -> dict:
        def describe(d):
            scale, zero = d["quantization"]
            return {
                "tensor_name": d["name"],
                "shape": [int(s) for s in d["shape"]],
                "dtype": np.dtype(d["dtype"]).name,
                "quantization": {"scale": float(scale), "zero_point": int(zero)} if scale else None,
            }

        return {"input": describe(self.input), "output": describe(self.output)}


def op_types(content: bytes) -> dict:
    """``{"ops": sorted op names, "float_ops": ops computing in float32}`` of a TFLite model.

    Read without delegates (XNNPACK would hide the graph behind ``DELEGATE``).
    An op counts as float when one of its outputs is float32 (``DEQUANTIZE``
    and a float model's every op; ``CAST`` from uint8 pixels).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    ops, floats = set(), set()
    for op in interp._get_ops_details():
        ops.add(op["op_name"])
        dtypes = [interp._get_tensor_details(t, 0)["dtype"] for t in op["outputs"] if t >= 0]
        if any(d == np.float32 for d in dtypes):
            floats.add(op["op_name"])
    return {"ops": sorted(ops), "float_ops": sorted(floats)}
