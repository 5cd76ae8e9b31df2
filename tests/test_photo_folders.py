"""A folder of real photos, as a user's phone or notebook leaves it, through every command.

The photos are JPEG and PNG files written here: every one of its own size, grey JPEGs,
RGBA PNGs, non-ASCII file names; beside the classes a hidden ``.ipynb_checkpoints/`` (with
a copy of a photo in it), an empty folder, macOS's ``._`` files, a ``.DS_Store`` and a
text file named ``.jpg``. Training, evaluation and export must read the same classes and
images, say what they skipped, and refuse a folder of one class or a model of another
number of classes with a sentence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_convnets import data
from keras_convnets import runs as run
from keras_convnets.training import TrainConfig, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIPPED_LINE = "skipped 2 folders that are hidden or hold no images: .ipynb_checkpoints, empty_dir"


def write_photos(root, classes=("cat", "dog"), per_class=12):
    """``root/<class>/`` photos of distinct sizes (RGB JPEG, grey JPEG, RGBA PNG), and junk."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        folder = os.path.join(root, name)
        os.makedirs(folder)
        for i in range(per_class):
            h, w = 16 + 2 * i + c, 40 - i  # no two photos of one size
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            rgb[..., c % 3] //= 4  # a colour cast per class: something to learn
            if i % 3 == 0:
                Image.fromarray(rgb).save(os.path.join(folder, f"photo_{i}.jpg"), quality=90)
            elif i % 3 == 1:
                grey = Image.fromarray(rgb).convert("L")
                grey.save(os.path.join(folder, f"été_{i}.JPG"), quality=90)
            else:
                alpha = np.full((h, w, 1), 200, np.uint8)
                rgba = Image.fromarray(np.concatenate([rgb, alpha], -1), "RGBA")
                rgba.save(os.path.join(folder, f"照片_{i}.png"))
        with open(os.path.join(folder, "._photo_0.jpg"), "wb") as f:  # macOS AppleDouble junk
            f.write(b"\x00\x05\x16\x07" + bytes(60))
    with open(os.path.join(root, classes[0], ".DS_Store"), "wb") as f:
        f.write(bytes(16))
    os.makedirs(os.path.join(root, ".ipynb_checkpoints"))
    with open(os.path.join(root, classes[0], "photo_0.jpg"), "rb") as f:
        copy = f.read()
    with open(os.path.join(root, ".ipynb_checkpoints", "photo_0-checkpoint.jpg"), "wb") as f:
        f.write(copy)
    os.makedirs(os.path.join(root, "empty_dir"))
    with open(os.path.join(root, classes[-1], "broken.jpg"), "w") as f:
        f.write("not an image")
    return str(root)


def tiny(input_shape, classes):
    x = inp = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="c1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="tiny")


def small_cfg(model_dir, photos, **kw):
    base = dict(recipe="resnet_cifar", model="tiny", dataset="folder", data_dir=photos,
                batch_size=8, steps=3, input_shape="28,28,3", checkpoint_every=3, verbose=2,
                plots=False, model_dir=str(model_dir))  # fmt: skip
    return TrainConfig(**dict(base, **kw))


def cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos") / "photos")


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory, photos):
    """A tiny run trained on the photo folder: ``(run directory, printed lines)``."""
    model_dir = tmp_path_factory.mktemp("runs") / "photos"
    printed = []
    train(small_cfg(model_dir, photos), model_fn=tiny, print_fn=printed.append)
    return model_dir, printed


# --- which sub-folders are classes, which files images ----------------------------------
def test_hidden_and_imageless_folders_are_no_classes_and_are_named(photos):
    folder = data.scan_image_folder(photos)
    assert folder.class_names == ("cat", "dog")
    assert folder.skipped_folders == (".ipynb_checkpoints", "empty_dir")
    names = sorted(os.path.basename(p) for p in folder.paths)
    assert len(names) == 2 * 12 + 1 and "broken.jpg" in names  # by extension; decoded later
    assert not [n for n in names if n.startswith(".")]  # ._photo_0.jpg, .DS_Store: no images
    assert "été_1.JPG" in names and "照片_2.png" in names
    full = data.load_split("folder", "train_full", data_dir=photos, val_fraction=0.0)
    assert full.class_names == ("cat", "dog") and full.num_examples == 24
    assert [os.path.basename(p) for p in full.skipped] == ["broken.jpg"]
    lines = data.describe_skipped(full)
    assert lines[0] == SKIPPED_LINE
    assert lines[1].startswith("skipped 1 unreadable image file") and "broken.jpg" in lines[1]


def test_a_hidden_folder_in_the_train_test_layout_is_skipped_too(tmp_path):
    write_photos(tmp_path / "train", classes=("cat", "dog", "fox"), per_class=4)
    write_photos(tmp_path / "test", classes=("cat", "fox"), per_class=3)
    os.makedirs(tmp_path / "test" / "dog")  # no test photos of dogs: still class 1
    test = data.load_split("folder", "test", data_dir=str(tmp_path))
    assert test.class_names == ("cat", "dog", "fox") and test.num_examples == 6
    fox = np.array(["fox" in p for p in test.paths])
    assert set(test.labels[fox].tolist()) == {2} and set(test.labels[~fox].tolist()) == {0}
    assert data.describe_skipped(test)[0] == (
        "skipped 3 folders that are hidden or hold no images: "
        "test/.ipynb_checkpoints, test/dog, test/empty_dir"
    )
    write_photos(tmp_path / "other" / "train", per_class=3)
    write_photos(tmp_path / "other" / "test", classes=("cat", "wolf"), per_class=2)
    with pytest.raises(ValueError, match=r"class folders \['wolf'\] of .*test' are not classes"):
        data.load_split("folder", "test", data_dir=str(tmp_path / "other"))


def test_a_folder_of_one_class_is_refused_with_the_folder_and_the_class(tmp_path):
    one = write_photos(tmp_path / "one", classes=("cat",), per_class=3)  # + .ipynb_checkpoints
    pattern = (
        r"The image folder data_dir='.*one' holds one class, 'cat' \(4 images\) \(skipped, "
        r"hidden or without images: \.ipynb_checkpoints, empty_dir\): a classifier needs at "
        "least two classes"
    )
    with pytest.raises(ValueError, match=pattern):
        data.load_split("folder", "train", data_dir=one)
    with pytest.raises(ValueError, match=pattern):
        train(small_cfg(tmp_path / "run", one), model_fn=tiny)
    assert not os.path.exists(tmp_path / "run" / "config.json")  # refused before training
    proc = cli("recipes.train", "--dataset=folder", f"--data_dir={one}", "--model=resnet20",
               "--steps=1", f"--model_dir={tmp_path / 'cli_run'}")  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "error: The image folder data_dir=" in proc.stderr and "one class, 'cat'" in proc.stderr


# --- images of different sizes as one array: the training rule -------------------------
def test_split_arrays_brings_photos_of_different_sizes_to_one_as_training_does(photos):
    split = data.load_split("folder", "train_full", data_dir=photos, val_fraction=0.0)
    with pytest.raises(ValueError, match=r"different sizes.*pass `size`.*Received: size=None"):
        data.split_arrays(split)
    with pytest.raises(ValueError, match=r"`size` must be \(height, width\).*size=28"):
        data.split_arrays(split, size=28)
    images, labels = data.split_arrays(split, size=(28, 28))
    import tensorflow as tf

    assert images.shape == (24, 28, 28, 3) and images.dtype == np.uint8
    assert sorted(np.bincount(labels).tolist()) == [12, 12]
    pipeline = data.make_preprocess("cifar", training=False, input_shape=(28, 28, 3),
                                    mean_image=np.zeros((28, 28, 3), np.float32))  # fmt: skip
    for path, fitted in zip(split.paths, images):
        stored = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        trained = np.asarray(pipeline(stored, 0)[0])  # what training feeds the model
        np.testing.assert_allclose(fitted, trained, atol=0.5)
        if stored.shape[0] <= 28 and stored.shape[1] <= 28:  # padded, not stretched
            np.testing.assert_array_equal(fitted, trained)


# --- training, evaluation and export read the same folder -----------------------------
def test_training_names_what_it_skipped_and_learns_only_the_real_classes(photo_run):
    model_dir, printed = photo_run
    assert SKIPPED_LINE in printed
    unreadable = [line for line in printed if "unreadable image file" in line]
    assert unreadable and "broken.jpg" in unreadable[0]  # on the console, not only the summary
    assert (model_dir / "labels.txt").read_text().split() == ["cat", "dog"]
    assert run.load_run(model_dir).classes == 2


def test_export_int8_of_a_photo_run_reads_the_folder_training_read(photo_run, tmp_path):
    model_dir, _ = photo_run
    out = tmp_path / "phone" / "photos.tflite"
    proc = cli("export", f"--run={model_dir}", "--quantize=int8", f"--output={out}",
               "--representative_count=16")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert SKIPPED_LINE in proc.stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    parity = json.loads(out.with_suffix(".parity.json").read_text())
    card = run.load_run(model_dir)
    assert meta["classes"] == 2 and meta["representative"]["count"] == 16
    assert parity["samples"] == card.metrics["num_test"]
    assert out.with_suffix(".labels.txt").read_text().split() == ["cat", "dog"]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(out))
    assert interpreter.get_input_details()[0]["shape"].tolist() == [1, 28, 28, 3]  # the model's


def test_export_with_a_raw_size_reads_photos_of_different_sizes(photo_run, tmp_path):
    from keras_convnets.deploy import export_model
    from keras_convnets.deploy.exporter import run_export_arguments

    args = run_export_arguments(str(photo_run[0]))
    report = export_model(args.pop("model"), tmp_path / "m.tflite", quantize="int8",
                          raw_size=(64, 64), representative_count=8, **args)  # fmt: skip
    assert report["samples"] == run.load_run(photo_run[0]).metrics["num_test"]
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["input"]["shape"] == [1, 64, 64, 3]


def test_evaluate_refuses_a_model_of_another_number_of_classes(photos, tmp_path):
    path = str(tmp_path / "ten.keras")
    tiny((28, 28, 3), 10).save(path)
    proc = cli("recipes.evaluate", "--model_file", path, "--dataset", photos)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "The model has 10 classes" in proc.stderr and "has 2 classes (cat, dog)" in proc.stderr
    assert "top-1 acc" not in proc.stdout
