"""Converted weights give the PyTorch models' outputs (`make test-torch`; needs PyTorch).

For every weights entry's architecture, torchvision and timm build the model
themselves with random weights (random batch-norm statistics too) and save
the state dict as ``.pth`` or ``.safetensors``; keras_convnets, in this
process, which never imports torch, converts the file and must give the same
probabilities (max |delta| <= 1e-5) and the same top-5 on 32 real images
(Fashion-MNIST, resized to 224, gray to RGB, torch normalization) and 32
random ones. PyTorch runs in its own interpreter (``KERAS_CONVNETS_TORCH_PYTHON``,
set by ``make test-torch``); without it every test here is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pretrained_golden as pg
import pytest

from keras_convnets.models import registry
from keras_convnets.models.pretrained import readers, sources

TORCH_PYTHON = os.environ.get("KERAS_CONVNETS_TORCH_PYTHON")
SIDE = os.path.join(os.path.dirname(__file__), "torch_side")
pytestmark = [
    pytest.mark.skipif(
        not TORCH_PYTHON or not os.path.exists(TORCH_PYTHON),
        reason="PyTorch equivalence tests need KERAS_CONVNETS_TORCH_PYTHON (make test-torch)",
    ),
    pytest.mark.slow,
]
MAX_DELTA_PROB = 1e-5

# (library, library's model name, file format, our registered variant)
CASES = [
    ("torchvision", f"resnet{d}", "pth", f"resnet{d}_torch") for d in (18, 34, 50, 101, 152)
] + [("timm", f"resnet{d}", "safetensors", f"resnet{d}_torch") for d in (18, 34, 50, 101, 152)]
CASES += [
    ("torchvision", "googlenet", "pth", "googlenet_torch"),
    ("torchvision", "inception_v3", "pth", "inception_v3_torch"),
    ("timm", "inception_v3", "safetensors", "inception_v3_torch"),
    ("timm", "inception_v4", "safetensors", "inception_v4"),
    ("timm", "inception_resnet_v2", "safetensors", "inception_resnet_v2"),
]


def torch_inputs(size=224):
    """32 real images (two of each Fashion-MNIST class...) then 32 random ones, NHWC."""
    import tensorflow as tf

    from keras_convnets.data.sample_data import load_fashion_mnist_sample

    images, _ = load_fashion_mnist_sample("test")
    real = tf.image.resize(images[::31][:32].astype("float32") / 255.0, (size, size)).numpy()
    real = np.repeat(real, 3, axis=-1)
    real = (real - np.array(sources.IMAGENET_MEAN)) / np.array(sources.IMAGENET_STD)
    noise = np.random.default_rng(0).standard_normal((32, size, size, 3))
    return np.concatenate([real, noise]).astype(np.float32)


def run_torch(args):
    result = subprocess.run(
        [TORCH_PYTHON, *args], capture_output=True, text=True, timeout=1200, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def softmax(z):
    z = z.astype(np.float64) - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def inputs_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    for size in (224, 299):
        np.savez(folder / f"inputs{size}.npz", x=torch_inputs(size))
    return folder


@pytest.mark.parametrize("library,model,fmt,variant", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_converted_weights_match_pytorch(library, model, fmt, variant, inputs_files, tmp_path):
    assert "torch" not in sys.modules
    inputs_file = inputs_files / f"inputs{registry.model_info(variant).input_shape[0]}.npz"
    script = f"{SIDE}/torch_reference.py"
    seed = str(CASES.index((library, model, fmt, variant)))  # a different network per case
    run_torch([script, "--library", library, "--model", model, "--format", fmt, "--seed", seed,
               "--inputs", str(inputs_file), "--out-dir", str(tmp_path)])  # fmt: skip
    expected = np.load(tmp_path / "torch_out.npz")["logits"]
    keras_model = registry.get_model(
        variant, weights=str(tmp_path / f"state.{fmt}"), classifier_activation=None
    )
    x = np.load(inputs_file)["x"]
    if library == "torchvision":  # its Inception v3 has transform_input=True, as with weights
        x = pg.keras_inputs(model, x)
    logits = np.concatenate([keras_model(x[i : i + 16], training=False) for i in range(0, 64, 16)])
    p_torch, p_keras = softmax(expected), softmax(logits)
    delta = np.abs(p_torch - p_keras).max()
    print(f"{library} {model} ({fmt}): max |delta prob| = {delta:.2e}, "
          f"max |delta logit| = {np.abs(expected - logits).max():.2e}")  # fmt: skip
    assert delta <= MAX_DELTA_PROB
    top5_torch = np.argsort(-expected, axis=-1)[:, :5]
    top5_keras = np.argsort(-logits, axis=-1)[:, :5]
    np.testing.assert_array_equal(top5_keras, top5_torch)
    assert p_torch.max() > 0.05  # the softmax is not flat: the comparison can fail
    assert "torch" not in sys.modules


def test_golden_files_are_current(tmp_path):
    """Regenerates the default suite's golden files (`make golden-torch`) and compares."""
    run_torch([f"{SIDE}/make_golden.py", "--out-dir", str(tmp_path)])
    for model in pg.GOLDEN_MODELS:
        spec, logits = pg.load_golden(model)
        new_spec, new_logits = pg.load_golden(model, str(tmp_path))
        assert new_spec == spec
        np.testing.assert_allclose(new_logits, logits, rtol=1e-5, atol=1e-5 * np.abs(logits).max())
    for name in ("tiny_state.pth", "tiny_state_legacy.pth"):
        fresh = readers.read_state_dict(tmp_path / name)
        checked_in = readers.read_state_dict(os.path.join(pg.GOLDEN_DIR, name))
        assert fresh.keys() == checked_in.keys()
        for key, value in fresh.items():
            np.testing.assert_array_equal(value, checked_in[key])
