"""Runs as artefacts: split rules, the run directory and its lock, resume checks, finite
checkpoints, fine-tuning, and the stages that read a run (issue 12, hazards 1-7).

Real images throughout: Fashion-MNIST images of the shipped sample written as JPEG
files into an image folder, the way a user's photos arrive.
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
from keras_convnets.data.sample_data import load_fashion_mnist_sample
from keras_convnets.models import _common
from keras_convnets.training import TrainConfig, train
from keras_convnets.training.loop import NonFiniteLossError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker", 8: "bag"}  # sorted: bag, sneaker, ...


def write_photo_folder(root, per_class, *, split="train", offset=0):
    """``root/<class>/<i>.jpg``: real Fashion-MNIST images as RGB JPEGs (28x28)."""
    from PIL import Image

    x, y = load_fashion_mnist_sample(split)
    for label, name in CLASSES.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i, index in enumerate(np.flatnonzero(y == label)[offset : offset + per_class]):
            image = Image.fromarray(x[index, :, :, 0]).convert("RGB")
            image.save(os.path.join(root, name, f"{i:03d}.jpg"), quality=95)
    return str(root)


def tiny(input_shape, classes):
    x = inp = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="c1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="tiny")


def small_cfg(model_dir, photos, **kw):
    base = dict(
        recipe="resnet_cifar",
        model="tiny",
        dataset="folder",
        data_dir=photos,
        batch_size=16,
        steps=4,
        input_shape="28,28,3",
        checkpoint_every=2,
        verbose=0,
        plots=False,
        model_dir=str(model_dir),
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photo_folder(tmp_path_factory.mktemp("photos"), 20)


# --- hazard 4: a seeded, stratified holdout in every layout ----------------------------
def test_every_class_is_in_both_splits_with_the_expected_counts(tmp_path):
    single = write_photo_folder(tmp_path / "single", 20)
    test = data.load_split("folder", "test", data_dir=single, val_fraction=0.1)
    train = data.load_split("folder", "train", data_dir=single, val_fraction=0.1)
    val = data.load_split("folder", "val", data_dir=single, val_fraction=0.1)
    assert np.bincount(test.labels).tolist() == [2] * 4  # 10% of each class's 20
    # 10% of the remaining 72 is 7: 1.8 a class, so three classes give 2 and one gives 1.
    assert sorted(np.bincount(val.labels).tolist()) == [1, 2, 2, 2]
    assert (np.bincount(train.labels) + np.bincount(val.labels)).tolist() == [18] * 4
    assert not set(test.paths) & set(train.paths) | set(val.paths) & set(train.paths)
    # train/ + val/: validation is a stratified holdout of train/, never one class.
    layout = tmp_path / "layout"
    write_photo_folder(layout / "train", 30)
    write_photo_folder(layout / "val", 5, offset=30)
    train = data.load_split("folder", "train", data_dir=str(layout), val_fraction=0.1)
    val = data.load_split("folder", "val", data_dir=str(layout), val_fraction=0.1)
    test = data.load_split("folder", "test", data_dir=str(layout), val_fraction=0.1)
    assert np.bincount(val.labels).tolist() == [3] * 4
    assert np.bincount(train.labels).tolist() == [27] * 4
    assert np.bincount(test.labels).tolist() == [5] * 4
    # The first examples mix the classes (max_examples takes a sample, not one class).
    assert len(set(train.labels[:12].tolist())) >= 3
    # Seeded: the same split every time, another with another seed.
    again = data.load_split("folder", "val", data_dir=str(layout), val_fraction=0.1)
    other = data.load_split("folder", "val", data_dir=str(layout), split_seed=1)
    assert list(again.paths) == list(val.paths) and set(other.paths) != set(val.paths)


def test_stratified_holdout_keeps_the_plain_total_and_each_class_proportion():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    kept, held = data.stratified_holdout(labels, 0.1, seed=3)
    assert np.bincount(labels[held]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(100))
    kept, held = data.stratified_holdout(np.repeat(np.arange(10), 2), 0.1)
    assert len(held) == 2  # round(20 * 0.1), as a plain holdout


# --- the model carries its build arguments ----------------------------------------------
def test_a_saved_model_still_knows_how_it_was_built(tmp_path):
    import keras_convnets

    model = keras_convnets.ResNet20(classes=4, input_shape=(28, 28, 1))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert _common.build_spec(loaded) == _common.build_spec(model)
    assert _common.build_spec(loaded)[1]["classes"] == 4
    twin = keras_convnets.tf_keras_twin(loaded)  # no arch= needed any more
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(twin.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-5)


# --- hazard 7: the run directory is protected -------------------------------------------
def test_a_second_run_into_a_held_directory_is_refused_and_a_stale_lock_taken_over(tmp_path):
    import socket

    model_dir = tmp_path / "run"
    model_dir.mkdir()
    holder = {"pid": os.getppid(), "host": socket.gethostname(), "since": 0}
    (model_dir / run.LOCK_FILE).write_text(json.dumps(holder))
    with pytest.raises(run.RunLockedError, match=f"in use by pid {os.getppid()} on host"):
        train(small_cfg(model_dir, str(tmp_path)), model_fn=tiny)
    assert os.listdir(model_dir) == [run.LOCK_FILE]  # nothing written
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True).stdout.strip()  # fmt: skip
    (model_dir / run.LOCK_FILE).write_text(json.dumps(dict(holder, pid=int(dead))))
    with run.RunLock(model_dir) as lock:
        assert json.loads((model_dir / run.LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(run.RunLockedError):
            run.RunLock(model_dir).acquire()
    assert lock.held is False and not (model_dir / run.LOCK_FILE).exists()


def test_resume_with_another_configuration_is_refused_before_config_json_changes(tmp_path, photos):
    model_dir = tmp_path / "run"
    train(small_cfg(model_dir, photos), model_fn=tiny)
    before = (model_dir / "config.json").read_text()
    for change in (
        {"lr": 0.5},
        {"batch_size": 8},
        {"recipe": "inception_v3", "val_fraction": 0.1},
        {"steps": 8},
    ):
        with pytest.raises(ValueError, match="holds a run with another configuration") as err:
            train(small_cfg(model_dir, photos, **change), model_fn=tiny)
        assert "--allow_config_change" in str(err.value)
        assert (model_dir / "config.json").read_text() == before
    summary = train(small_cfg(model_dir, photos, steps=6, allow_config_change=True), model_fn=tiny)
    assert summary["steps"] == 6 and summary["resumed_from_step"] == 4
    changes = json.loads((model_dir / "config.json").read_text())["config_changes"]
    assert changes == [
        {"step": 4, "changes": {"total_steps": [4, 6], "milestone_steps": [[2, 3], [3, 4]]}}
    ]


def test_checkpoints_are_finite_and_the_stop_names_a_finite_one(tmp_path, photos):
    import tensorflow as tf

    model_dir = tmp_path / "nan"
    train(small_cfg(model_dir, photos, steps=2), model_fn=tiny)
    with pytest.raises(NonFiniteLossError) as err:
        cfg = small_cfg(model_dir, photos, steps=40, lr=1e30, checkpoint_every=1)
        train(dataclass_replace(cfg, allow_config_change=True, keep_checkpoints=2), model_fn=tiny)
    named = str(err.value).split("kept: ")[1].split(".")[0].split()[0]
    ckpt_dir = model_dir / "checkpoints"
    kept = tf.train.get_checkpoint_state(str(ckpt_dir)).all_model_checkpoint_paths
    assert named in kept[-1] or kept[-1].endswith(os.path.basename(named))
    for path in kept:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                assert np.isfinite(value).all(), (path, name)


def dataclass_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


# --- hazard 5: a run writes its model, class names and card; fine-tuning ---------------
def test_a_run_writes_model_labels_and_card_that_reproduce_its_accuracy(tmp_path, photos):
    model_dir = tmp_path / "run"
    summary = train(small_cfg(model_dir, photos), model_fn=tiny)
    card = run.load_run(model_dir)
    assert card.class_names == ["bag", "sneaker", "trouser", "tshirt"]
    assert (model_dir / "labels.txt").read_text().split() == card.class_names
    assert (card.pipeline, card.mean_image, card.input_shape) == (
        "cifar",
        "mean_image.npy",
        [28, 28, 3],
    )
    assert card.metrics["test_accuracy"] == summary["test_accuracy"]
    model = card.load_model()
    ds = data.build_dataset(card.load_split(), card.preprocess(), batch_size=7, training=False)
    hits = sum(
        int((np.argmax(model.predict(x, verbose=0), -1) == y.numpy()).sum()) for x, y, _ in ds
    )
    assert hits / card.metrics["num_test"] == summary["test_accuracy"]


def test_finetune_from_a_run_gets_a_new_head_and_a_frozen_backbone(tmp_path, photos):
    source = tmp_path / "source"
    train(small_cfg(source, photos), model_fn=tiny)
    fewer = write_photo_folder(tmp_path / "two", 12)
    for name in ("bag", "sneaker"):
        import shutil

        shutil.rmtree(os.path.join(fewer, name))
    target = tmp_path / "ft"
    cfg = small_cfg(target, fewer, recipe="finetune", weights=str(source), freeze_backbone=True,
                    batch_size=8, steps=3, input_shape="model")  # fmt: skip
    summary, model = train(cfg, model_fn=tiny, return_model=True)
    before = run.load_run(source).load_model()
    np.testing.assert_array_equal(model.get_layer("c1").get_weights()[0],
                                  before.get_layer("c1").get_weights()[0])  # fmt: skip
    for a, b in zip(model.get_layer("bn1").get_weights(), before.get_layer("bn1").get_weights()):
        np.testing.assert_array_equal(a, b)  # BatchNorm frozen, statistics included
    assert model.get_layer("predictions").get_weights()[0].shape[-1] == 2
    card = run.load_run(target)
    assert card.class_names == ["trouser", "tshirt"] and card.mean_image == "mean_image.npy"
    np.testing.assert_array_equal(
        card.mean(), run.load_run(source).mean()
    )  # the source's transform
    with pytest.raises(ValueError, match="fine-tunes pretrained weights: pass `weights`"):
        TrainConfig(recipe="finetune").validate()


# --- hazards 2, 3, 6: export reads the run, takes its data, says what it measured ------
def test_export_refuses_registry_normalisation_on_a_model_it_does_not_fit(tmp_path):
    from keras_convnets.deploy import export_model

    with pytest.raises(ValueError, match="'caffe', for 3-channel ImageNet images"):
        export_model("resnet20", tmp_path / "m.tflite", input_shape=(28, 28, 1), classes=10)
    assert os.listdir(tmp_path) == []


def test_export_takes_folder_data_and_checks_classes_and_top_k_before_work(tmp_path, photos):
    from keras_convnets.deploy import export_model

    model = tiny((28, 28, 3), 4)
    with pytest.raises(ValueError, match="the model has 3 classes. Received 4 labels"):
        export_model(tiny((28, 28, 3), 3), tmp_path / "m.tflite", preprocessing_mode="tf",
                     dataset=photos)  # fmt: skip
    with pytest.raises(ValueError, match=r"`top_k` must be an integer in \[1, 4\]"):
        export_model(model, tmp_path / "sm", format="savedmodel", preprocessing_mode="tf",
                     top_k=5, dataset=photos)  # fmt: skip
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="must be one of cifar10.*an image folder"):
        export_model(model, tmp_path / "m.tflite", dataset="photos_that_do_not_exist")


def test_export_without_labels_prints_agreement_only(tmp_path, capsys):
    from keras_convnets.deploy import export_model

    report = export_model(tiny((28, 28, 3), 4), tmp_path / "m.tflite", preprocessing_mode="tf",
                          eval_count=8)  # fmt: skip
    printed = capsys.readouterr().out
    assert "no labels: agreement only" in printed and "100.00%" not in printed
    assert report["eval_set"].startswith("random")


# --- hazards 1 and 6 through the command lines ----------------------------------------
def _cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.mark.slow  # five command lines, each importing TensorFlow: ~40-100 s
def test_evaluate_and_export_read_the_run(tmp_path, photos):
    model_dir = tmp_path / "run"
    summary = train(small_cfg(model_dir, photos, max_eval_examples=6), model_fn=tiny)
    out = tmp_path / "eval.json"
    proc = _cli("recipes.evaluate", f"--run={model_dir}", f"--output={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["images"] == 6 and report["top_k"] == [1, 4]  # min(5, classes)
    assert report["top1_accuracy"] == summary["test_accuracy"]
    assert report["transform"]["pipeline"] == "cifar" and "the same" in proc.stdout
    bad = _cli("recipes.evaluate", f"--run={model_dir}", "--classes=10")
    assert bad.returncode == 2 and "--classes=10 contradicts --run=" in bad.stderr
    assert "whose classes is 4" in bad.stderr
    bad = _cli("export", f"--run={model_dir}", "--pipeline=inception", "--top_k=2")
    assert bad.returncode == 2 and "`pipeline`='inception' contradicts the run" in bad.stderr
    bad = _cli("export", f"--run={model_dir}", "--top_k=7")
    assert bad.returncode == 2 and "`top_k` must be an integer in [1, 4]" in bad.stderr
    bad = _cli("export", f"--model={model_dir / 'model.keras'}")
    assert bad.returncode == 2 and f"--run={model_dir}" in bad.stderr
    assert not (model_dir / "export").exists()


def test_one_judge_of_a_value_that_contradicts_the_run(tmp_path):
    card = run.RunCard(
        registry_name="resnet20", build_args={}, input_shape=[32, 32, 3], classes=3,
        class_names=["a", "b", "c"], pipeline="cifar", preprocessing_mode=None,
        mean_image="mean_image.npy", dataset="folder", data_dir=None, val_fraction=0.1,
        split_seed=0, max_eval_examples=None, recipe="fast", seed=0, weights=None, metrics={},
        directory=str(tmp_path),
    )  # fmt: skip
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    # Saying again what the run says passes, in every spelling a caller has it.
    run.check_against_run(card, {
        "model": "resnet20", "classes": 3, "input_shape": "32,32,3", "labels": str(labels),
        "pipeline": "cifar", "mean_image": str(tmp_path / "mean_image.npy"), "arch": None,
    })  # fmt: skip
    run.check_against_run(
        card, {"model": str(tmp_path / "model.keras"), "input_shape": (32, 32, 3)}
    )
    labels.write_text("a\nb\n")
    for given, message in [
        ({"classes": 10}, r"`classes`=10 contradicts the run '.*', whose classes is 3\."),
        ({"input_shape": (28, 28, 1)}, r"whose input_shape is \(32, 32, 3\)"),
        ({"labels": str(labels)}, r"whose labels is \['a', 'b', 'c'\]"),
        ({"model": "resnet32"}, r"whose model is 'resnet20'"),
        ({"weights": "x.weights.h5"}, r"`weights`='x.weights.h5' contradicts .*are the run's"),
        ({"pipeline": "inception"}, r"whose pipeline is 'cifar'"),
    ]:
        with pytest.raises(ValueError, match=message):
            run.check_against_run(card, given)
    with pytest.raises(
        ValueError, match=r"^--classes=10 contradicts --run=.*, whose classes is 3\.$"
    ):
        run.check_against_run(card, {"classes": 10}, as_flags=True)
