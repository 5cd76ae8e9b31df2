"""Your own photos to a phone, end to end, through the command lines a user types (issue 12).

An image folder of real Fashion-MNIST images (JPEG files, 4 classes) -> ``recipes.train``
-> fine-tuning of that run with ``--recipe=finetune --weights=RUN`` -> ``recipes.evaluate
--run`` (exactly the accuracy the run reported, on the same images) -> ``export --run
--quantize=int8`` (calibrated on the folder) -> the LiteRT interpreter on the raw images
reproduces the parity report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_run import write_photo_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def litert_accuracy(tflite_path, run_card):
    """Top-1 accuracy of the .tflite on the run's raw test images, fed as its ``.json`` says.

    A raw-pixel file (the int8 default, issue 14) takes the uint8 pixels as they are (grey
    repeated to RGB, as a camera frame); a normalised-input file gets the run's transform,
    quantized with the input's parameters.
    """
    from ai_edge_litert.interpreter import Interpreter

    from keras_convnets import data

    with open(tflite_path[: -len(".tflite")] + ".json") as f:
        raw = json.load(f)["input"] != "normalized"
    split = run_card.load_split("test")
    images, labels = data.split_arrays(split)
    pre = run_card.preprocess()
    interpreter = Interpreter(model_path=tflite_path)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    hits = 0
    for image, label in zip(images, labels):
        if raw:
            x = np.asarray(image, np.uint8)[None]
            x = np.repeat(x, inp["shape"][-1] // x.shape[-1], axis=-1)
            assert x.shape == tuple(inp["shape"]), (x.shape, inp["shape"])
        else:
            x = np.asarray(pre(image, 0)[0])[None]
        if not raw and inp["dtype"] != np.float32:  # int8 input: quantized with its parameters
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        hits += int(np.argmax(interpreter.get_tensor(out["index"])[0]) == label)
    return 100.0 * hits / len(labels)


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    """The walkthrough's commands once: train, fine-tune, evaluate, export int8 (raw pixels)."""
    from keras_convnets import runs as run

    tmp_path = tmp_path_factory.mktemp("photos_to_phone")
    photos = write_photo_folder(tmp_path / "photos", 50)
    base = tmp_path / "runs" / "base"
    common = ["--dataset=folder", f"--data_dir={photos}", "--batch_size=32", "--verbose=2",
              "--noplots"]  # fmt: skip
    cli("recipes.train", "--model=resnet20", "--input_shape=32,32,3", "--epochs=3",
        f"--model_dir={base}", *common)  # fmt: skip
    tuned = tmp_path / "runs" / "tuned"
    printed = cli("recipes.train", "--recipe=finetune", f"--weights={base}", "--model=resnet20",
                  "--epochs=2", f"--model_dir={tuned}", *common)  # fmt: skip
    assert "Initial weights from the run" in printed
    report = tmp_path / "eval.json"
    evaluated = cli("recipes.evaluate", f"--run={tuned}", f"--output={report}")
    tflite = tmp_path / "phone" / "model.tflite"
    cli("export", f"--run={tuned}", "--quantize=int8", f"--output={tflite}", "--eval_count=500")
    return dict(
        tmp=tmp_path, photos=photos, base=base, card=run.load_run(tuned), tflite=tflite,
        report=json.loads(report.read_text()), evaluated=evaluated,
    )  # fmt: skip


@pytest.mark.slow
def test_photos_to_phone(phone):
    tmp_path, photos, card, tflite = phone["tmp"], phone["photos"], phone["card"], phone["tflite"]
    assert card.weights == str(phone["base"])
    assert card.class_names == ["bag", "sneaker", "trouser", "tshirt"]

    result, printed = phone["report"], phone["evaluated"]
    assert "transform (from" in printed and "top-4 acc" in printed  # top_k = min(5, classes)
    assert result["images"] == card.metrics["num_test"] == 20
    assert result["top1_accuracy"] == card.metrics["test_accuracy"]  # exactly the run's figure
    assert "the same" in printed

    parity = json.loads((tmp_path / "phone" / "model.parity.json").read_text())
    meta = json.loads((tmp_path / "phone" / "model.json").read_text())
    assert parity["samples"] == 20 and photos in parity["eval_set"]
    assert meta["representative"]["dataset"].startswith("folder") and meta["classes"] == 4
    assert meta["input_normalization"]["pipeline"] == "cifar"
    labels = (tmp_path / "phone" / "model.labels.txt").read_text().split()
    assert labels == card.class_names
    assert parity["keras_accuracy"] == pytest.approx(100.0 * card.metrics["test_accuracy"])
    assert litert_accuracy(str(tflite), card) == pytest.approx(parity["export_accuracy"])


@pytest.mark.slow
@pytest.mark.mediapipe
def test_photos_folder_through_mediapipe(phone, tmp_path):
    """MediaPipe's ImageClassifier on the walkthrough's int8 file and the folder's own JPEG
    files (decoded to RGB as a phone's image decoder does): the same top-1 and category names
    as the LiteRT interpreter, for every photo of the folder."""
    import glob

    from PIL import Image
    from test_tflite_app import feed_like_an_app

    from keras_convnets.deploy import metadata

    python = os.environ.get("MEDIAPIPE_PYTHON") or sys.executable
    files = sorted(glob.glob(os.path.join(phone["photos"], "*", "*.jpg")))
    rgb = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    np.save(tmp_path / "photos.npy", rgb)
    result = tmp_path / "mediapipe.json"
    run = subprocess.run(
        [python, os.path.join(ROOT, "tests", "mediapipe_client.py"), str(phone["tflite"]),
         str(tmp_path / "photos.npy"), str(result)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    mp_result = json.loads(result.read_text())
    content = phone["tflite"].read_bytes()
    ours = feed_like_an_app(content, rgb)
    names = metadata.associated_files(content)["labels.txt"].decode().splitlines()
    assert names == phone["card"].class_names
    assert len(files) == 200 and len(mp_result["index"]) == len(files)
    assert np.array_equal(np.array(mp_result["index"]), ours)  # 100% agreement
    assert mp_result["name"] == [names[i] for i in ours]
