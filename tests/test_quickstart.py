"""``python -m keras_convnets.quickstart`` (``make demo``), end to end with --small."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_convnets import data, quickstart

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_write_idx_round_trips(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = str(tmp_path / "x-idx3-ubyte.gz")
    quickstart.write_idx(path, x)
    np.testing.assert_array_equal(data.read_idx(path), x)
    assert os.listdir(tmp_path) == ["x-idx3-ubyte.gz"]  # no temporary file left


def test_resolve_data_falls_back_to_the_shipped_sample(tmp_path):
    folder, text = quickstart.resolve_data(str(tmp_path / "empty"), str(tmp_path))
    assert text.startswith("shipped sample of Fashion-MNIST")
    x, y = data.load_idx_dataset(folder, "train")
    t, _ = data.load_idx_dataset(folder, "test")
    assert x.shape == (5000, 28, 28, 1) and t.shape == (1000, 28, 28, 1)
    assert np.bincount(y).tolist() == [500] * 10


@pytest.mark.skipif(
    not os.path.exists(os.path.join(data.FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")),
    reason="the Fashion-MNIST IDX files are not installed",
)
def test_resolve_data_prefers_the_full_idx_files(tmp_path):
    folder, text = quickstart.resolve_data(data.FASHION_MNIST_DIR, str(tmp_path))
    assert folder == data.FASHION_MNIST_DIR and text.startswith("full Fashion-MNIST")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "0"], "--steps must be an integer >= 1"),
        (["--epochs", "-1"], "--epochs must be > 0"),
        (["--steps", "5", "--epochs", "1"], "not both"),
    ],
)
def test_bad_flags_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        quickstart.parse_args(argv)
    assert message in capsys.readouterr().err


def test_small_demo_end_to_end(tmp_path):
    # The sample (not the full files) keeps the data step identical on every machine.
    out = tmp_path / "demo"
    (tmp_path / "no_data").mkdir()  # a folder without IDX files: the shipped sample
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_convnets.quickstart",
            "--small",
            "--output_dir",
            str(out),
            "--data_dir",
            str(tmp_path / "no_data"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    for step in ("[1/3] data: shipped sample", "[1/3] training resnet20", "[2/3]", "[3/3]"):
        assert step in text
    keras_acc = float(re.search(r"Accuracy Keras: +([\d.]+)% on 200 test images", text)[1])
    tflite_acc = float(re.search(r"Accuracy TFLite: +([\d.]+)% \(int8", text)[1])
    size_kb = float(re.search(r"TFLite size: +([\d.]+) KB", text)[1])
    assert re.search(r"TFLite latency: +[\d.]+ ms \(1 thread\), [\d.]+ ms \(2 threads\)", text)
    # 100 steps on 1,800 images: far from converged, but well above chance (10%).
    assert keras_acc > 30.0
    assert abs(tflite_acc - keras_acc) <= 10.0
    # ResNet-20: 0.27 M parameters, one byte each in int8, plus the graph.
    assert 200 < size_kb < 600

    summary = json.loads((out / "demo.json").read_text())
    assert summary["keras"]["accuracy"] == pytest.approx(keras_acc, abs=0.01)
    assert summary["tflite"]["accuracy"] == pytest.approx(tflite_acc, abs=0.01)
    assert summary["tflite"]["size_bytes"] == os.path.getsize(out / "resnet20_int8.tflite")
    assert summary["train_steps"] == 100
    assert summary["interpreter_check"]["images"] == 8
    for name in (
        "resnet20_int8.json",
        "resnet20_int8.parity.json",
        "resnet20_int8.labels.txt",
        "resnet20_int8.mean.npy",
        "train/final.weights.h5",
        "train/summary.json",
    ):
        assert (out / name).is_file(), name
    leftovers = [f for f in os.listdir(out) if ".tmp" in f]
    assert not leftovers
