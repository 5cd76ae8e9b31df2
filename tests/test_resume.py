"""Fault tolerance: a run killed with SIGKILL mid-epoch resumes and ends like an uninterrupted one.

Real subprocesses of the real entry point (``python -m recipes.train``), a
real ResNet-20 on 256 Fashion-MNIST images at their native 28x28x1, 16
steps per epoch, 40 steps, checkpoints every 3 steps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300


def _command(model_dir, *extra):
    return [
        sys.executable,
        "-m",
        "recipes.train",
        "--recipe=resnet_cifar",
        "--model=resnet20",
        "--dataset=fashion_mnist",
        "--input_shape=native",
        "--batch_size=16",
        "--max_train_examples=256",
        "--max_eval_examples=64",
        "--steps=40",
        "--checkpoint_every=3",
        "--log_every=1",
        "--verbose=2",
        "--noplots",
        f"--model_dir={model_dir}",
        *extra,
    ]


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return env


def _run(model_dir, *extra):
    proc = subprocess.run(
        _command(model_dir, *extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    return proc


def _summary(model_dir):
    with open(os.path.join(model_dir, "summary.json")) as f:
        return json.load(f)


def _final_weights(model_dir):
    from keras_convnets import get_model

    model = get_model("resnet20", input_shape=(28, 28, 1), classes=10)
    model.load_weights(os.path.join(model_dir, "final.weights.h5"))
    return [v.numpy() for v in model.weights]


def test_sigkill_mid_epoch_then_restart_resumes_with_same_steps_and_schedule(tmp_path):
    reference = tmp_path / "reference"
    proc = _run(reference)
    assert proc.returncode == 0, proc.stderr[-3000:]

    killed = tmp_path / "killed"
    ckpt_dir = killed / "checkpoints"
    p = subprocess.Popen(
        _command(killed),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        deadline = time.time() + TIMEOUT
        # ckpt-6 is mid-epoch (16 steps per epoch): kill as soon as it is complete.
        while (
            not (ckpt_dir / "checkpoint").exists()
            or "ckpt-6" not in (ckpt_dir / "checkpoint").read_text()
        ):
            assert p.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.02)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists()

    proc = _run(killed)  # the same command
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed, ref = _summary(killed), _summary(reference)
    assert 6 <= resumed["resumed_from_step"] < 16  # mid-epoch
    assert resumed["resumed_from_step"] % 16 != 0
    assert f"Resumed from checkpoint step {resumed['resumed_from_step']}" in proc.stdout
    assert resumed["steps"] == ref["steps"] == 40
    assert resumed["lr_changes"] == ref["lr_changes"]
    assert [s for s, _ in ref["lr_changes"]] == [0, 20, 30]
    hist_ref = open(reference / "history.csv").read().splitlines()
    hist = open(killed / "history.csv").read().splitlines()
    assert len(hist) == len(hist_ref) == 1 + 3  # header + epochs ending at 16, 32, 40
    assert [r.split(",")[1] for r in hist] == [r.split(",")[1] for r in hist_ref]
    # Same data order and per-example augmentation: the same weights, up to float noise.
    for a, b in zip(_final_weights(reference), _final_weights(killed)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    assert abs(resumed["test_accuracy"] - ref["test_accuracy"]) <= 1 / 64


def test_nan_loss_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    model_dir = tmp_path / "nan"
    common = ["--steps=4", "--max_train_examples=64", "--checkpoint_every=2"]
    proc = _run(model_dir, *common)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Without --allow_config_change another length and rate are refused, config.json untouched.
    before = (model_dir / "config.json").read_text()
    proc = _run(model_dir, "--steps=12", "--max_train_examples=64", "--lr=1e30")
    assert proc.returncode == 2 and "holds a run with another configuration" in proc.stderr
    assert "learning_rate" in proc.stderr and (model_dir / "config.json").read_text() == before
    # The same run made longer with an absurd rate: it resumes at step 4 and diverges.
    proc = _run(
        model_dir, "--steps=12", "--max_train_examples=64", "--lr=1e30", "--allow_config_change"
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Loss became NaN or infinite" in proc.stderr
    assert "ckpt-4" in proc.stderr  # names the last finite checkpoint
    text = (model_dir / "checkpoints" / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-4"' in text
    with open(model_dir / "checkpoints" / "ckpt-4.state.json") as f:
        assert json.load(f)["step"] == 4
