"""Quantization with Google's AI Edge Quantizer (``ai-edge-quantizer``), LiteRT's own.

It works on a float ``.tflite`` (no TensorFlow needed), with recipes:

* for ``quantize="int8"`` (calibrated on the representative images):
  ``static_wi8_ai8`` (int8 weights and activations, the default) and
  ``static_wi8_ai16`` (int16 activations: closer to float, slower);
* for ``quantize="dynamic"``: ``dynamic_wi8_afp32`` (the default),
  ``dynamic_wi4_afp32``, ``weight_only_wi8_afp32`` and ``weight_only_wi4_afp32``.

The quantized file keeps the float file's input (float32 normalised, or uint8
raw pixels); a static recipe may leave the output quantized (int8 with its
scale and zero point in the file). The same parity report applies.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

RECIPES = {
    "int8": ("static_wi8_ai8", "static_wi8_ai16"),
    "dynamic": (
        "dynamic_wi8_afp32",
        "dynamic_wi4_afp32",
        "weight_only_wi8_afp32",
        "weight_only_wi4_afp32",
    ),
}


def check_recipe(quantize, recipe):
    """The recipe to use (``None``: the first of ``quantize``); ``ValueError`` if none fits."""
    if quantize not in RECIPES:
        raise ValueError(
            "The AI Edge Quantizer takes quantize='int8' or 'dynamic' (export float, float16 "
            f"and QAT files with quantizer='tf'). Received: quantize={quantize!r}"
        )
    allowed = RECIPES[quantize]
    if recipe is None:
        return allowed[0]
    if recipe not in allowed:
        raise ValueError(
            f"`recipe` for quantize={quantize!r} must be one of {', '.join(allowed)}. "
            f"Received: recipe={recipe!r}"
        )
    return recipe


def quantize(
    float_content: bytes,
    recipe: str,
    *,
    representative=None,
    signature="serving_default",
    input_name="input",
) -> bytes:
    """``float_content`` quantized with ``recipe``; static recipes calibrate on ``representative``.

    ``representative``: the float file's inputs ``[N, ...]`` (normalised float32
    or uint8 pixels), fed one at a time.
    """
    from ai_edge_quantizer import quantizer as aeq
    from ai_edge_quantizer import recipe as recipes

    q = aeq.Quantizer(bytearray(float_content), getattr(recipes, recipe)())
    calibration = None
    if q.need_calibration:
        if representative is None or len(representative) == 0:
            raise ValueError(
                f"Recipe {recipe!r} calibrates activation ranges: pass representative images."
            )
        data = {
            signature: [{input_name: representative[i : i + 1]} for i in range(len(representative))]
        }
        with contextlib.redirect_stderr(io.StringIO()):  # its progress bar
            calibration = q.calibrate(data, num_threads=1)
    with contextlib.redirect_stdout(io.StringIO()):  # its progress report
        result = q.quantize(calibration, enable_progress_report=False)
    return bytes(np.asarray(result.quantized_model, np.uint8).tobytes())
