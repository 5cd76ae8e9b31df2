"""The reduced, PyTorch-free proof: a state dict made by NumPy, its PyTorch outputs checked in.

``numpy_state_dict(spec, seed)`` builds a torchvision-layout state dict from
the keys and shapes recorded in the golden file, with fixed-seed NumPy random
values (He-scaled convolutions, random batch-norm statistics). The torch
target (``make test-torch``) loads it into the torchvision model and writes
the logits into ``tests/data/pretrained/golden_<model>.npz``; the default
suite rebuilds the same state dict, converts it and compares with those
logits, so that it never needs PyTorch. Imported by both sides: NumPy only.
"""

from __future__ import annotations

import json
import os

import numpy as np

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "data", "pretrained")
GOLDEN_MODELS = {
    "resnet18": "torchvision",
    "googlenet": "torchvision",
    "inception_v3": "torchvision",
}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
INPUT_SHAPE = (2, 75, 75, 3)  # odd sizes: the stride-2 paddings of both libraries must agree
SEED = 1234


def golden_path(model: str, folder: str = GOLDEN_DIR) -> str:
    return os.path.join(folder, f"golden_{model}.npz")


def golden_inputs() -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal(INPUT_SHAPE).astype(np.float32)


def keras_inputs(model: str, x: np.ndarray) -> np.ndarray:
    """What our model takes for the torch model's ImageNet-normalized ``x``.

    torchvision's Inception v3 has transform_input=True with its weights, i.e.
    it rescales to [-1, 1]; our inception_v3_torch takes that scaling directly.
    """
    if model != "inception_v3":
        return x
    return (x * IMAGENET_STD / 0.5 + (IMAGENET_MEAN - 0.5) / 0.5).astype(np.float32)


def _value(rng, key, shape):
    if key.endswith("num_batches_tracked"):
        return np.zeros(shape, np.int64)
    if key.endswith("running_var") or (key.endswith(".weight") and len(shape) == 1):
        return (0.5 + rng.random(shape)).astype(np.float32)
    if len(shape) == 1:  # biases, running means
        return (0.2 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    scale = np.sqrt(2.0 / fan_in) if len(shape) == 4 else 3.0 / np.sqrt(fan_in)
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def numpy_state_dict(spec: list, seed: int = SEED) -> dict[str, np.ndarray]:
    """``{key: array}`` for ``spec`` = ``[[key, shape], ...]`` (torchvision's order)."""
    rng = np.random.default_rng(seed)
    return {key: _value(rng, key, tuple(shape)) for key, shape in spec}


def load_golden(model: str, folder: str = GOLDEN_DIR):
    """``(spec, logits)`` checked in for ``model`` (or written to ``folder``)."""
    with np.load(golden_path(model, folder)) as f:
        return json.loads(str(f["spec"])), f["logits"]


def save_golden(model: str, spec: list, logits: np.ndarray, folder: str = GOLDEN_DIR) -> None:
    tmp = golden_path(model, folder) + ".tmp.npz"
    np.savez_compressed(tmp, spec=np.array(json.dumps(spec)), logits=logits.astype(np.float32))
    os.replace(tmp, golden_path(model, folder))
