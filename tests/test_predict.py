"""``keras-convnets predict`` and :class:`keras_convnets.predict.Classifier` on real photo files.

A folder of ordinary photos (mixed sizes, a grey JPEG, an RGBA PNG, a 1000x37 strip, a
unicode file name, a hidden folder) -> ``train`` -> ``predict --run`` (the run's own
evaluation transform: the same probabilities as the evaluation pipeline) -> ``export --run
--quantize=int8`` -> ``predict --file=<.tflite>`` (the same probabilities as the LiteRT
interpreter fed by code of its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("circles", "stripes", "squares")


def cli(*args, check=True, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG",)}
    env.update(PYTHONPATH=ROOT, KERAS_CONVNETS_TF_LOG=os.devnull)
    proc = subprocess.run([sys.executable, "-m", "keras_convnets", *args], cwd=cwd or ROOT,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _pattern(kind, h, w, rng):
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "circles":
        r = np.hypot(yy - h / 2, xx - w / 2)
        base = (np.sin(r / 3) > 0) * 200
    elif kind == "stripes":
        base = ((xx // 4) % 2) * 220
    else:
        base = (((yy // 8) + (xx // 8)) % 2) * 180
    noise = rng.integers(0, 40, (h, w))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_mixed_folder(root, per_class=8, seed=0):
    """``root/<class>/...``: JPEGs and PNGs of different sizes, grey, RGB and RGBA."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    sizes = [(40, 30), (64, 64), (37, 90), (28, 28), (50, 75)]
    for c, kind in enumerate(CLASSES):
        folder = os.path.join(root, kind)
        os.makedirs(folder)
        for i in range(per_class):
            h, w = sizes[(i + c) % len(sizes)]
            grey = _pattern(kind, h, w, rng)
            if i % 4 == 0:
                Image.fromarray(grey, "L").save(os.path.join(folder, f"grey_{i}.jpg"))
            elif i % 4 == 1:
                rgba = np.dstack([grey, grey // 2, 255 - grey, np.full_like(grey, 200)])
                Image.fromarray(rgba, "RGBA").save(os.path.join(folder, f"rgba_{i}.png"))
            else:
                rgb = np.dstack([grey, grey, grey // 3])
                Image.fromarray(rgb, "RGB").save(os.path.join(folder, f"photo_{i}.jpg"))
    strip = np.dstack([_pattern("stripes", 37, 1000, rng)] * 3)
    Image.fromarray(strip).save(os.path.join(root, "stripes", "wide_strip.jpg"))
    Image.fromarray(strip[:, :300]).save(os.path.join(root, "stripes", "café_ü.jpg"))
    os.makedirs(os.path.join(root, ".ipynb_checkpoints"))
    return str(root)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    photos = write_mixed_folder(tmp / "photos")
    run_dir = tmp / "run"
    cli("train", "--model=resnet20", "--input_shape=32,32,3", "--dataset=folder",
        f"--data_dir={photos}", "--epochs=2", "--batch_size=8", f"--model_dir={run_dir}",
        "--noplots")  # fmt: skip
    return photos, str(run_dir), tmp


def _json(proc):
    return json.loads(proc.stdout)


def _images(photos):
    from keras_convnets.predict import image_files

    return image_files([photos])


def test_image_files_skip_hidden_and_find_unicode_names(trained):
    photos, _, _ = trained
    files = _images(photos)
    assert len(files) == 3 * 8 + 2
    assert any(f.endswith("café_ü.jpg") for f in files)
    assert not any("/." in f for f in files)


def test_predict_run_gives_the_evaluation_pipelines_probabilities(trained):
    """predict --run == the run's model on its own evaluation pipeline, image by image."""
    from keras_convnets import data
    from keras_convnets import runs as run_lib

    photos, run_dir, _ = trained
    proc = cli("predict", f"--run={run_dir}", photos, "--json", "--top_k=3")
    doc = _json(proc)
    assert proc.stderr == ""
    files = _images(photos)
    assert [p["image"] for p in doc["predictions"]] == files
    run = run_lib.load_run(run_dir)
    assert doc["classes"] == 3 and set(run.class_names) == set(CLASSES)
    split = data.Split("photos", "all", 3, len(files), (None, None, 3), paths=files,
                       labels=[0] * len(files), class_names=list(run.class_names))  # fmt: skip
    model = run.load_model()
    expected = []
    for x, _, _ in data.build_dataset(split, run.preprocess(), batch_size=8, training=False):
        expected.append(np.asarray(model(x, training=False)))
    expected = np.concatenate(expected)
    for prediction, probs in zip(doc["predictions"], expected):
        top = prediction["top_k"]
        assert [g["label"] for g in top] == [run.class_names[i] for i in np.argsort(-probs)[:3]]
        np.testing.assert_allclose([g["probability"] for g in top], np.sort(probs)[::-1][:3],
                                   atol=1e-5)  # fmt: skip
        assert abs(sum(g["probability"] for g in top) - 1) < 1e-4  # three classes: all of them


def test_predict_text_output_and_an_unreadable_file(trained, tmp_path):
    photos, run_dir, _ = trained
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a JPEG")
    good = os.path.join(photos, "circles", "photo_2.jpg")
    proc = cli("predict", f"--run={run_dir}", good, str(bad), "--top_k=2", check=False)
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{good}: ")
    assert lines[0].count(",") == 1  # two classes: "label p, label p"
    assert "broken.jpg" in proc.stderr and "not a readable image" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (["x.jpg"], "exactly one of --run"),
        (["--run=R", "--file=F", "{photo}"], "exactly one of --run"),
        (["--run={run}", "/nonexistent/photo.jpg"], "/nonexistent/photo.jpg"),
        (["--run={run}", "{empty}"], "holds no images"),
        (["--run=/nonexistent/run", "{photo}"], "run"),
        (["--file={photo}", "{photo}"], ".keras or .tflite"),
        (["--model=resnt20", "{photo}"], "resnt20"),
        (["--run={run}", "--top_k=0", "{photo}"], "top_k"),
    ],
)
def test_bad_arguments_are_one_sentence(trained, tmp_path, args, match):
    photos, run_dir, _ = trained
    (tmp_path / "empty").mkdir()
    photo = os.path.join(photos, "circles", "photo_2.jpg")
    args = [a.format(run=run_dir, photo=photo, empty=tmp_path / "empty") for a in args]
    proc = cli("predict", *args, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and match in proc.stderr, proc.stderr


def test_predict_tflite_equals_the_interpreter(trained):
    """export --run int8 (raw pixels) of the photo folder, then predict --file: the
    interpreter fed by this test's own resize gives the same probabilities."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    photos, run_dir, tmp = trained
    out = tmp / "export" / "photos_int8.tflite"
    cli("export", f"--run={run_dir}", "--quantize=int8", f"--output={out}")
    doc = _json(cli("predict", f"--file={out}", photos, "--json", "--top_k=3"))
    interpreter = Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    outp = interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8
    h, w = int(inp["shape"][1]), int(inp["shape"][2])
    with open(str(out)[: -len(".tflite")] + ".labels.txt", encoding="utf-8") as f:
        labels = f.read().split("\n")[:3]
    assert doc["classes"] == 3
    for prediction in doc["predictions"]:
        image = np.asarray(Image.open(prediction["image"]).convert("RGB"))
        x = tf.image.resize(image[None].astype(np.float32), (h, w)).numpy()
        x = np.clip(np.round(x), 0, 255).astype(np.uint8)
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        probs = interpreter.get_tensor(outp["index"])[0].astype(np.float64)
        if outp["dtype"] != np.float32:
            scale, zero = outp["quantization"]
            probs = (probs - zero) * scale
        got = {g["label"]: g["probability"] for g in prediction["top_k"]}
        for i, label in enumerate(labels):
            assert got[label] == pytest.approx(probs[i], abs=1e-6), prediction["image"]


def test_classifier_python_api_on_arrays():
    import keras_convnets
    from keras_convnets.predict import Classifier

    model = keras_convnets.ResNet20(classes=4, input_shape=(32, 32, 3))
    clf = Classifier.from_keras(model, class_names=list("abcd"), preprocessing=None)
    images = [np.zeros((40, 30, 3), np.uint8), np.full((20, 90), 255, np.uint8)]
    results = clf.predict(images, top_k=10)
    assert [r.image for r in results] == ["image 0", "image 1"]
    assert all(len(r.top) == 4 for r in results)  # top_k capped at the classes
    with pytest.raises(ValueError, match="uint8"):
        clf.predict([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(ValueError, match="class_names"):
        Classifier.from_keras(model, class_names=["a"])
