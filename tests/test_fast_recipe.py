"""The fast recipe: schedule, options, zero-init, cutout, and a short run read like any run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_convnets
from keras_convnets import data
from keras_convnets.training import config, schedules, steps
from keras_convnets.training.config import TrainConfig, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _resolve(num_train=54_000, **kw):
    cfg = TrainConfig(recipe="fast", model="resnet20", dataset="fashion_mnist", **kw)
    return resolve(cfg, num_train=num_train, num_replicas=1, input_shape=(28, 28, 1), classes=10)


def test_fast_recipe_resolves_to_its_documented_numbers():
    r = _resolve()
    # 8 epochs of 54,000 images at batch 128: 3375 steps, 15% of them (506) ramping up.
    assert (r.global_batch, r.total_steps, r.warmup_steps) == (128, 3375, 506)
    assert (r.learning_rate, r.weight_decay, r.label_smoothing) == (0.2, 5e-4, 0.1)
    assert r.nesterov and not r.zero_init_residual and r.cutout == 0.0
    assert r.schedule == "warmup_linear" and r.pipeline == "cifar"
    # Linear scaling with the batch, as the paper recipes.
    assert _resolve(batch_size=512).learning_rate == pytest.approx(0.8)
    opt = steps.make_optimizer(r)
    assert isinstance(opt, keras.optimizers.SGD) and opt.nesterov
    assert not steps.make_optimizer(_resolve(recipe_options="nesterov=false")).nesterov


def test_warmup_linear_ramps_up_then_down_to_zero():
    r = config.Resolved(learning_rate=0.4, schedule="warmup_linear", warmup_steps=4, total_steps=10)
    lrs = [schedules.learning_rate(r, s, schedules.initial_state()) for s in range(10)]
    np.testing.assert_allclose(
        lrs, [0.1, 0.2, 0.3, 0.4, 0.4, 0.4 * 5 / 6, 0.4 * 4 / 6, 0.4 * 3 / 6, 0.4 * 2 / 6, 0.4 / 6]
    )
    assert schedules.learning_rate(r, 10, schedules.initial_state()) == 0.0


def test_recipe_options_are_typed_checked_and_recorded():
    r = _resolve(recipe_options="cutout=0,label_smoothing=0,warmup_fraction=0.5,epochs=2")
    assert (r.cutout, r.label_smoothing) == (0.0, 0.0)
    assert r.total_steps == 844 and r.warmup_steps == 422  # 2 x 54,000 / 128, half of it
    assert r.recipe_options == {
        "cutout": 0.0,
        "label_smoothing": 0.0,
        "warmup_fraction": 0.5,
        "epochs": 2.0,
    }
    assert "recipe_options" in config.Resolved.IDENTITY  # a resume with others is refused
    # Any recipe takes them: the paper recipe with Nesterov momentum.
    paper = config.effective_recipe("resnet_cifar", "nesterov=true,milestones=0.3:0.6")
    assert paper.nesterov and paper.milestones == (0.3, 0.6)
    bad = {
        "cutuot=0": "keys among",
        "cutout": "keys among",
        "name=x": "keys among",
        "cutout=big": "is not a float",
        "nesterov=maybe": "is not a bool",
        "cutout=1.5": "cutout=1.5; allowed: in [0, 1)",
        "base_lr=-1": "base_lr=-1.0; allowed: > 0",
        "schedule=cosine": "allowed: piecewise, plateau, step_decay, warmup_linear",
        "pipeline=nope": "allowed: cifar, resnet_imagenet, inception, none, from_weights",
    }
    for text, said in bad.items():
        with pytest.raises(ValueError, match="recipe_options") as err:
            TrainConfig(recipe="fast", recipe_options=text).validate()
        assert said in str(err.value), (text, str(err.value))


def test_zero_init_makes_every_residual_block_start_as_its_shortcut():
    m = keras_convnets.ResNet20(weights=None, input_shape=(28, 28, 1), classes=10)
    zeroed = steps.zero_init_residual(m)
    assert zeroed == [f"conv{s}_block{b}_2_bn" for s in (2, 3, 4) for b in range(1, 4)]
    # ResNet-50: 16 bottlenecks; the 4 projection shortcuts keep their gamma.
    m50 = keras_convnets.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10)
    zeroed50 = steps.zero_init_residual(m50)
    assert len(zeroed50) == 16 and all(n.endswith("_3_bn") for n in zeroed50)
    assert float(np.min(m50.get_layer("conv2_block1_0_bn").gamma.numpy())) == 1.0
    # A block's residual branch now adds exactly 0.
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    probe = keras.Model(m.input, [m.get_layer("conv2_block1_2_bn").output])
    np.testing.assert_array_equal(probe(x, training=False).numpy(), 0.0)
    # Plain nets and Inception have no such branches: unchanged.
    plain = keras_convnets.get_model("plain20", weights=None, input_shape=(28, 28, 1), classes=10)
    assert steps.zero_init_residual(plain) == []


def test_cutout_zeroes_one_seeded_square_in_training_only():
    image = np.full((28, 28, 1), 200, np.uint8)
    kw = {"input_shape": (28, 28, 1), "mean_image": np.zeros((28, 28, 1), np.float32)}
    train = data.make_preprocess("cifar", training=True, cutout=0.25, **kw)
    seed = np.array([3, 7], np.int32)
    a = train(image, 0, seed)[0].numpy()
    b = train(image, 0, seed)[0].numpy()
    np.testing.assert_array_equal(a, b)  # stateless: a resumed run sees the same images
    # No other augmentation ("none"): the zeros are the square, 7x7 (0.25 x 28) or clipped
    # at a border down to 4x4, somewhere else for every example.
    only = data.make_preprocess("none", training=True, cutout=0.25, input_shape=(28, 28, 1))
    squares = [only(image, 0, np.array([s, 1], np.int32))[0].numpy() == 0 for s in range(40)]
    erased = [int(np.sum(z)) for z in squares]
    assert max(erased) == 49 and min(erased) >= 16, erased
    for z in squares:  # one axis-aligned rectangle
        rows, cols = np.nonzero(z[:, :, 0])
        assert len(rows) == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    assert len({z.tobytes() for z in squares}) > 30
    evaluate = data.make_preprocess("cifar", training=False, cutout=0.25, **kw)
    assert int(np.sum(evaluate(image, 0)[0].numpy() == 0)) == 0
    with pytest.raises(ValueError, match="`cutout` must be in"):
        data.make_preprocess("cifar", training=True, cutout=1.0, **kw)


def test_fast_run_from_the_command_line_is_a_run_like_any_other(tmp_path):
    run_dir = tmp_path / "fast"
    env = dict(os.environ, PYTHONPATH=ROOT)
    common = [
        "--recipe=fast",
        "--model=resnet20",
        "--dataset=fashion_mnist",
        "--input_shape=native",
        f"--model_dir={run_dir}",
        "--max_train_examples=512",
        "--max_eval_examples=128",
        "--batch_size=64",
        "--verbose=2",
        "--plots=false",
    ]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_convnets",
            "train",
            *common,
            "--epochs=2",
            "--recipe_options=cutout=0.3,zero_init_residual=true",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["recipe"] == "fast"
    assert cfg["recipe_options"] == {"cutout": 0.3, "zero_init_residual": True}
    assert cfg["schedule"] == "warmup_linear" and cfg["nesterov"] and cfg["zero_init_residual"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == cfg["total_steps"] == 16  # 2 epochs x 512 images / 64
    assert summary["lr_changes"][-1][1] < summary["lr_changes"][3][1]  # decayed by the end
    # evaluate --run reads it as any run and gives the run's own test accuracy.
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [sys.executable, "-m", "keras_convnets", "evaluate", f"--run={run_dir}", f"--output={out}"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli_report = json.loads(out.read_text())
    assert cli_report["top1_accuracy"] == summary["test_accuracy"]
    assert "the same" in proc.stdout
    # The same evaluation from Python: the CLI's numbers.
    said = []
    report = keras_convnets.evaluate_run(str(run_dir), say=said.append)
    for key in ("top1_accuracy", "top5_accuracy", "images", "run_test_accuracy", "transform"):
        assert report[key] == cli_report[key], key
    assert any(line.startswith("transform (from ") for line in said)
    with pytest.raises(ValueError, match="`top_k` must be in \\[1, 10\\]"):
        keras_convnets.evaluate_run(str(run_dir), top_k=(1, 11))
    with pytest.raises(ValueError, match="`split` must be one of"):
        keras_convnets.evaluate_run(str(run_dir), split="nope")
    # The same command with other recipe options is a different run: refused.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_convnets",
            "train",
            *common,
            "--epochs=3",
            "--recipe_options=cutout=0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode != 0 and "recipe_options" in proc.stderr


def test_fast_recipe_fine_tunes_a_run_as_the_finetune_recipe_does(tmp_path):
    from keras_convnets.training import train

    common = dict(
        model="resnet20", dataset="fashion_mnist", batch_size=32, max_train_examples=128,
        max_eval_examples=32, verbose=0, plots=False, input_shape="native",
    )  # fmt: skip
    first = tmp_path / "first"
    # 4 steps leave the moving statistics near their initial values (eval loss ~30): with its
    # residual branches zeroed the source stays near the identity, so that fine-tuning it with
    # those statistics frozen stays finite (without, its loss overflowed in the first steps).
    train(TrainConfig(recipe="fast", steps=4, model_dir=str(first),
                      recipe_options="zero_init_residual=true", **common))  # fmt: skip
    second = tmp_path / "second"
    common["input_shape"] = "model"  # the source run's input
    summary, model = train(
        TrainConfig(recipe="fast", steps=4, weights=str(first), model_dir=str(second), **common),
        return_model=True,
    )
    cfg = json.loads((second / "config.json").read_text())
    # The run's own transform (its mean image), its weights kept (no zero-init), BN frozen.
    assert cfg["pipeline"] == "cifar" and not cfg["zero_init_residual"]
    assert cfg["weights"] == str(first)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and not any(layer.trainable for layer in bns)
    assert min(float(np.abs(b.gamma.numpy()).max()) for b in bns) > 0  # none left at zero
    assert summary["steps"] == 4
