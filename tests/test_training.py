"""Recipes, schedules, weight decay, and short real training runs of the custom loop."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_convnets import data
from keras_convnets.training import config, loop, schedules
from keras_convnets.training.config import TrainConfig, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _resolve(recipe="resnet_cifar", model="resnet20", num_train=45_000, replicas=1, **kw):
    cfg = TrainConfig(recipe=recipe, model=model, **kw)
    return resolve(
        cfg, num_train=num_train, num_replicas=replicas, input_shape=(32, 32, 3), classes=10
    )


def test_resnet_cifar_is_the_papers_schedule_on_cifar10():
    r = _resolve()
    assert (r.global_batch, r.learning_rate, r.momentum, r.weight_decay) == (
        128,
        0.1,
        0.9,
        1e-4,
    )
    assert r.total_steps == 64_000 and r.milestone_steps == [32_000, 48_000]
    assert r.warmup_lr is None and r.val_fraction == 0.1
    lrs = [
        schedules.learning_rate(r, s, schedules.initial_state())
        for s in (0, 31_999, 32_000, 47_999, 48_000, 63_999)
    ]
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_rules_for_other_batches_and_dataset_sizes():
    # Linear scaling with the global batch; same epochs, so half the steps.
    r = _resolve(batch_size=256, replicas=8)
    assert r.learning_rate == pytest.approx(0.2) and r.per_replica_batch == 32
    assert r.total_steps == 32_000 and r.milestone_steps == [16_000, 24_000]
    # Fashion-MNIST: 54,000 training images, the same 182 epochs.
    r = _resolve(num_train=54_000)
    assert r.total_steps == round(64_000 * 54_000 / 45_000) == 76_800
    assert r.milestone_steps == [38_400, 57_600]
    # A shortened run keeps the milestones at the same fractions.
    r = _resolve(epochs=10)
    assert r.total_steps == round(10 * 45_000 / 128) and r.milestone_steps == [1758, 2637]
    assert any("linear scaling" in rule for rule in r.rules)
    assert any("not AdamW" in rule for rule in r.rules)
    with pytest.raises(ValueError, match="divisible by the 3 replicas.*batch_size=128"):
        _resolve(replicas=3)
    with pytest.raises(ValueError, match="larger than the 100 training examples"):
        _resolve(num_train=100)


def test_resnet110_warms_up_at_001_until_training_error_below_80_percent():
    r = _resolve(model="resnet110")
    assert r.warmup_lr == 0.01 and _resolve(model="resnet56").warmup_lr is None
    state = schedules.initial_state()
    assert schedules.learning_rate(r, 100, state) == 0.01
    assert not schedules.update_warmup(r, state, 380, train_error=0.85)
    assert schedules.update_warmup(r, state, 400, train_error=0.79)
    assert state["warmup_end"] == 400
    assert schedules.learning_rate(r, 399, state) == 0.01
    assert schedules.learning_rate(r, 400, state) == 0.1


def test_googlenet_inception_v3_and_imagenet_recipes():
    g = _resolve("googlenet", "googlenet", num_train=1_281_167, batch_size=32)
    every = g.decay_every_steps
    assert every == round(8 * 1_281_167 / 32)
    state = schedules.initial_state()
    assert schedules.learning_rate(g, every - 1, state) == pytest.approx(0.01)
    assert schedules.learning_rate(g, every, state) == pytest.approx(0.01 * 0.96)
    assert g.ema_decay == 0.9999 and g.pipeline == "inception"
    v3 = _resolve("inception_v3", "inception_v3", num_train=1_281_167, batch_size=32)
    assert (v3.optimizer, v3.rho, v3.epsilon, v3.learning_rate) == (
        "rmsprop",
        0.9,
        1.0,
        0.045,
    )
    assert v3.decay_every_steps == round(2 * 1_281_167 / 32)
    assert schedules.learning_rate(v3, v3.decay_every_steps * 3, state) == pytest.approx(
        0.045 * 0.94**3
    )
    assert (v3.clip_global_norm, v3.label_smoothing, v3.ema_decay) == (2.0, 0.1, 0.9999)
    im = _resolve("resnet_imagenet", "resnet50", num_train=1_281_167, batch_size=256)
    assert im.learning_rate == 0.1 and im.schedule == "plateau"
    assert im.total_steps == 600_000 and im.val_fraction == 0.0
    state = schedules.initial_state()
    for err in (0.5, 0.4, 0.41, 0.40, 0.42, 0.40, 0.41):
        reduced = schedules.update_plateau(im, state, err)
    assert reduced and state["plateau_reductions"] == 1
    assert schedules.learning_rate(im, 10, state) == pytest.approx(0.01)


def test_bad_config_values_fail_listing_what_is_allowed():
    with pytest.raises(ValueError, match="Allowed recipes: resnet_cifar, resnet_imagenet"):
        config.get_recipe("adam")
    with pytest.raises(ValueError, match="float32, mixed_float16, mixed_bfloat16"):
        TrainConfig(precision="float64").validate()
    with pytest.raises(ValueError, match="input_shape"):
        TrainConfig(input_shape="32x32").validate()
    with pytest.raises(ValueError, match="Registered models: .*resnet20"):
        loop.train(TrainConfig(model="vgg16", verbose=0))
    with pytest.raises(ValueError, match="Allowed datasets"):
        loop.train(TrainConfig(dataset="svhn", verbose=0))
    with pytest.raises(ValueError, match="data_dir"):
        loop.train(TrainConfig(dataset="cifar10", data_dir="/nonexistent/dir", verbose=0))


def test_weight_decay_is_l2_on_kernels_giving_the_papers_update():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, name="fc"),
        ]
    )
    kernels = loop.decayed_kernels(model)
    assert sorted(v.path.split("/", 1)[1] for v in kernels) == ["conv/kernel", "fc/kernel"]
    expected = 0.5 * 1e-4 * sum(float(np.sum(v.numpy() ** 2)) for v in kernels)
    assert float(loop.l2_penalty(model, 1e-4)) == pytest.approx(expected, rel=1e-5)
    with tf.GradientTape() as tape:
        penalty = loop.l2_penalty(model, 1e-4)
    grads = tape.gradient(penalty, [v.value for v in kernels])
    for g, v in zip(grads, kernels):  # d/dw = wd * w: SGD's w -= lr * (grad + wd * w)
        np.testing.assert_allclose(g.numpy(), 1e-4 * v.numpy(), rtol=1e-5)


def test_optimizers_follow_the_recipes():
    r = _resolve("inception_v3", "inception_v3", num_train=1000, batch_size=32)
    opt = loop.make_optimizer(r)
    assert isinstance(opt, keras.optimizers.RMSprop)
    assert (opt.rho, opt.epsilon, opt.global_clipnorm) == (0.9, 1.0, 2.0)
    r = _resolve(num_train=1000, precision="mixed_float16")
    opt = loop.make_optimizer(r)
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert isinstance(opt.inner_optimizer, keras.optimizers.SGD)


def _two_output(input_shape, classes):
    x = inp = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="c1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    aux = keras.layers.GlobalAveragePooling2D(name="aux_pool")(x)
    aux = keras.layers.Dense(classes, activation="softmax", name="aux")(aux)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    main = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, [main, aux], name="two_output")


def _small(tmp_path, **kw):
    base = dict(
        dataset="fashion_mnist",
        batch_size=16,
        max_train_examples=64,
        max_eval_examples=32,
        log_every=2,
        verbose=0,
        model_dir=str(tmp_path),
        input_shape="native",
    )
    base.update(kw)
    return TrainConfig(**base)


def test_multi_output_model_trains_with_inception_v3_recipe_and_writes_every_file(tmp_path):
    cfg = _small(
        tmp_path, recipe="inception_v3", model="two_output", steps=6, verbose=1, checkpoint_every=4
    )
    printed = []
    summary = loop.train(
        cfg,
        model_fn=_two_output,
        loss_weights={"predictions": 1.0, "aux": 0.4},
        print_fn=printed.append,
    )
    text = "\n".join(printed)
    assert "Resolved configuration (inception_v3" in text and "label_smoothing" in text
    assert summary["steps"] == 6 and 0.0 <= summary["test_accuracy"] <= 1.0
    with open(tmp_path / "config.json") as f:
        resolved = json.load(f)
    assert resolved["outputs"] == ["predictions", "aux"]
    assert resolved["loss_weights"] == {"predictions": 1.0, "aux": 0.4}
    assert resolved["steps_per_epoch"] == 4 and resolved["total_steps"] == 6
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["epoch"]) for r in rows] == [1.0, 1.5]
    assert all(np.isfinite(float(r["train_loss"])) for r in rows)
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert (tmp_path / "final.weights.h5").exists() and (tmp_path / "summary.json").exists()
    events = os.listdir(tmp_path / "tensorboard")
    assert events and events[0].startswith("events.out.tfevents")
    ckpts = sorted(os.listdir(tmp_path / "checkpoints"))
    assert "ckpt-4.index" in ckpts and "ckpt-6.state.json" in ckpts
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]  # atomic writes left nothing


def test_moving_average_is_the_final_model(tmp_path):
    cfg = _small(tmp_path, recipe="googlenet", model="two_output", steps=3, plots=False)
    summary, model = loop.train(
        cfg, model_fn=_two_output, return_model=True, loss_weights={"predictions": 1.0, "aux": 0.3}
    )
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints" / "ckpt-3"))
    names = [n for n, _ in tf.train.list_variables(str(tmp_path / "checkpoints" / "ckpt-3"))]
    ema_keys = sorted(
        (n for n in names if n.startswith("ema/ema/")), key=lambda n: int(n.split("/")[2])
    )
    assert len(ema_keys) == len(model.trainable_variables)
    for key, v in zip(ema_keys, model.trainable_variables):
        np.testing.assert_allclose(v.numpy(), reader.get_tensor(key), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "precision,jit", [("mixed_float16", False), ("mixed_bfloat16", False), ("float32", True)]
)
def test_precision_and_jit_compile(tmp_path, precision, jit):
    cfg = _small(
        tmp_path, model="two_output", steps=2, precision=precision, jit_compile=jit, plots=False
    )
    summary = loop.train(cfg, model_fn=_two_output, loss_weights={"predictions": 1, "aux": 0.3})
    assert summary["steps"] == 2 and np.isfinite(summary["test_loss"])
    assert keras.config.dtype_policy().name == "float32"  # restored after the run


def test_image_folder_run_counts_the_broken_jpegs_in_the_summary(tmp_path):
    from tests.test_data import _write_folder

    images = tmp_path / "images"
    os.makedirs(images)
    _write_folder(images)
    cfg = _small(
        tmp_path / "run",
        recipe="resnet_cifar",
        dataset="folder",
        data_dir=str(images),
        batch_size=2,
        steps=2,
        input_shape="24,24,3",
        max_train_examples=None,
        plots=False,
    )
    summary = loop.train(cfg, model_fn=_two_output, loss_weights={"predictions": 1, "aux": 0.3})
    assert summary["skipped_images"] == 2
    assert sorted(os.path.basename(p) for p in summary["skipped_files"]) == [
        "not_an_image.jpg",
        "truncated.jpg",
    ]


def test_real_googlenet_trains_with_its_aux_heads(tmp_path):
    from keras_convnets.models import heads

    cfg = _small(
        tmp_path,
        recipe="googlenet",
        model="googlenet",
        steps=1,
        batch_size=4,
        max_train_examples=8,
        max_eval_examples=4,
        input_shape="65,65,3",
        plots=False,
    )
    summary, model = loop.train(cfg, return_model=True)
    assert heads.output_names(model) == ["predictions", "aux1", "aux2"]
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["loss_weights"] == {"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}
    assert summary["steps"] == 1 and np.isfinite(summary["test_loss"])


def test_command_line_reads_a_flagfile_and_reports_bad_flags(tmp_path):
    flagfile = tmp_path / "run.flags"
    flagfile.write_text("--recipe=resnet_cifar\n--model=resnet_9000\n--dataset=fashion_mnist\n")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "recipes.train", f"--flagfile={flagfile}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    assert "Unknown model 'resnet_9000'" in proc.stderr and "resnet56" in proc.stderr


def test_deep_net_warm_up_runs_at_001_then_switches_to_the_scaled_rate(tmp_path):
    # A "110"-layer name triggers the ResNet-110 warm-up; on 10 classes a fresh
    # net's error stays above 80% here, so the cap (2 epochs = 8 steps) ends it.
    cfg = _small(tmp_path, model="tiny110", steps=40, plots=False)  # milestones 20, 30
    summary = loop.train(cfg, model_fn=_two_output, loss_weights={"predictions": 1, "aux": 0.3})
    (s0, lr0), (s1, lr1) = summary["lr_changes"][:2]
    assert (s0, lr0) == (0, pytest.approx(0.01 * 16 / 128))
    assert s1 == summary["warmup_end"] and 1 <= s1 <= 8
    assert lr1 == pytest.approx(0.1 * 16 / 128)
    # Evaluation reuses the run's preprocessing (pipeline, input shape, mean image).
    fn = config.eval_preprocess(str(tmp_path))
    images, _ = data.load_idx_dataset(data.FASHION_MNIST_DIR, "test")
    x, _ = fn(images[0], 0)
    mean = np.load(tmp_path / "mean_image.npy")
    np.testing.assert_allclose(x.numpy(), images[0].astype("float32") - mean, atol=1e-4)


def test_real_inception_v3_trains_with_its_aux_head(tmp_path):
    from keras_convnets.models import heads

    cfg = _small(
        tmp_path,
        recipe="inception_v3",
        model="inception_v3",
        steps=1,
        batch_size=2,
        max_train_examples=4,
        max_eval_examples=2,
        input_shape="model",
        plots=False,
    )
    summary, model = loop.train(cfg, return_model=True)
    assert heads.output_names(model) == ["predictions", "aux"]
    with open(tmp_path / "config.json") as f:
        resolved = json.load(f)
    assert resolved["input_shape"] == [299, 299, 3] and resolved["preprocessing_mode"] == "tf"
    assert set(resolved["loss_weights"]) == {"predictions", "aux"}
    assert summary["steps"] == 1 and np.isfinite(summary["test_loss"])


def test_epochs_asked_are_the_epochs_reported():
    """--epochs=6 on 300 images at batch 128: round(6 x 300 / 128) = 14 steps, which draw
    14 x 128 = 1792 images = 5.97 passes (not 14 / (300 // 128) = 7.00, as was reported)."""
    r = _resolve(epochs=6, batch_size=128, num_train=300)
    assert (r.steps_per_epoch, r.total_steps) == (2, 14)
    assert r.epochs == pytest.approx(1792 / 300)
    assert f"{r.epochs:.2f}" == "5.97"
