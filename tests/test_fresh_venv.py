"""The installed ``keras-convnets`` command in a fresh virtual environment, outside the checkout.

The package is installed with pip (not editable) into a new venv whose only
link to this one is the third-party packages (TensorFlow & co., added by a
path file, so nothing of the checkout is importable); every command runs
from a folder that is not the checkout, as after ``pip install``. A folder of
ordinary photos (mixed sizes, grey JPEG, RGBA PNG, a 1000-pixel-wide strip,
a unicode name, a hidden ``.ipynb_checkpoints``) goes through train (the fast
recipe), evaluate --run and predict; an unwritable output folder is refused
before any work.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import sysconfig

import pytest
from test_predict import write_mixed_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fresh")
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # Third-party packages only: a plain path entry (its .pth files, among them this
    # checkout's editable finder, are not processed).
    with open(os.path.join(purelib, "parent_packages.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", ROOT],
        capture_output=True, text=True, timeout=600, cwd=tmp,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return tmp, env_dir / "bin" / "keras-convnets"


def _run(venv, *args):
    tmp, script = venv
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
    env["KERAS_CONVNETS_CACHE_DIR"] = str(tmp / "cache")
    return subprocess.run(
        [str(script), *args], cwd=tmp, env=env, capture_output=True, text=True, timeout=900
    )


def test_the_installed_package_is_not_the_checkout(venv):
    tmp, script = venv
    python = script.parent / "python"
    where = subprocess.run(
        [str(python), "-c", "import keras_convnets, sys; print(keras_convnets.__file__)"],
        cwd=tmp, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(tmp)) and not where.startswith(ROOT), where
    found = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('recipes'))"],
        cwd=tmp, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert found == "None"  # the checkout-only shims are not what the commands need


def test_help_is_plain_text_from_the_installed_command(venv):
    for command in ("train", "evaluate", "export", "predict"):
        proc = _run(venv, command, "--help")
        assert proc.returncode == 0, (command, proc.stderr[-2000:])
        assert "``" not in proc.stdout and ":func:" not in proc.stdout, command
        assert "No module named" not in proc.stderr, command
    proc = _run(venv, "train", "--help")
    assert "--recipe_options" in proc.stdout and "keras-convnets train --recipe=fast" in (
        proc.stdout
    )


def test_photo_folder_through_the_installed_commands(venv):
    tmp, _ = venv
    photos = write_mixed_folder(tmp / "photos", per_class=6)
    run_dir = tmp / "runs" / "photos"
    proc = _run(venv, "train", "--recipe=fast", "--model=resnet20", "--dataset=folder",
                f"--data_dir={photos}", "--input_shape=32,32,3", "--epochs=2", "--batch_size=8",
                f"--model_dir={run_dir}", "--verbose=2")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    # TensorFlow's C++ log lines go to a file, not the terminal.
    assert not [ln for ln in proc.stderr.splitlines() if ln.startswith(("I0000", "E0000", "W0000"))]
    assert ".ipynb_checkpoints" in proc.stdout + proc.stderr  # skipped, and said so
    labels = (run_dir / "labels.txt").read_text().split()
    assert ".ipynb_checkpoints" not in labels and len(labels) == 3
    summary = json.loads((run_dir / "summary.json").read_text())
    out = tmp / "eval.json"
    proc = _run(venv, "evaluate", f"--run={run_dir}", f"--output={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(out.read_text())["top1_accuracy"] == summary["test_accuracy"]
    images = [os.path.join(photos, "stripes", "café_ü.jpg"),
              os.path.join(photos, "stripes", "wide_strip.jpg")]  # fmt: skip
    proc = _run(venv, "predict", f"--run={run_dir}", "--json", *images)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert len(doc["predictions"]) == 2
    assert {p["top_k"][0]["label"] for p in doc["predictions"]} <= set(labels)


@contextlib.contextmanager
def _read_only_folder(path):
    """A folder nobody may write into: permissions for a user, a read-only mount for root."""
    os.makedirs(path)
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        yield path
        os.chmod(path, 0o755)
        return
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"root without permission to mount a read-only tmpfs: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_an_unwritable_output_folder_is_refused_before_any_work(venv):
    tmp, _ = venv
    with _read_only_folder(tmp / "read_only") as folder:
        proc = _run(venv, "train", "--recipe=fast", "--model=resnet20", "--steps=2",
                    "--dataset=fashion_mnist", f"--model_dir={folder}/run")  # fmt: skip
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert proc.stderr.strip().splitlines()[-1].startswith("error: `model_dir`")
        assert "cannot be written" in proc.stderr and "Traceback" not in proc.stderr
        assert os.listdir(folder) == []
        proc = _run(venv, "export", "--model=resnet20", f"--output={folder}/m.tflite")
        assert proc.returncode == 2 and "cannot be written" in proc.stderr, proc.stderr[-2000:]
