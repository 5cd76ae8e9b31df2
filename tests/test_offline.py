"""Offline downloads and missing optional dependencies: one sentence each, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import keras_convnets
from keras_convnets import _cli
from keras_convnets.models import weights as weights_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONPATH=ROOT, KERAS_CONVNETS_TF_LOG=os.devnull, **extra)
    return env


def test_offline_imagenet_weights_name_the_url_and_the_place(local_server):
    # The local server serves nothing: a 404, as a blocked or offline network gives an error.
    base, _ = local_server
    file_name, url, _ = weights_lib.weights_url("resnet50v2", include_top=False)
    with pytest.raises(OSError) as info:
        keras_convnets.ResNet50V2(weights="imagenet", include_top=False, input_shape=(64, 64, 3))
    message = str(info.value)
    assert url in message and url.startswith(base)
    cache = os.environ["KERAS_CONVNETS_CACHE_DIR"]
    assert f"place it as {os.path.join(cache, 'models', file_name)}" in message
    assert "\n" not in message


def test_train_offline_is_one_sentence_and_leaves_no_run_folder(tmp_path):
    from test_predict import write_mixed_folder

    photos = write_mixed_folder(tmp_path / "photos", per_class=2)
    model_dir = tmp_path / "runs" / "offline"
    proc = subprocess.run(
        [sys.executable, "-m", "keras_convnets", "train", "--recipe=finetune",
         "--model=resnet50", "--weights=imagenet", "--dataset=folder", f"--data_dir={photos}",
         f"--model_dir={model_dir}", "--epochs=1", "--batch_size=2"],
        env=_env(KERAS_CONVNETS_WEIGHTS_URL="http://127.0.0.1:9/",
                 KERAS_CONVNETS_CACHE_DIR=str(tmp_path / "cache")),
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Could not download resnet50_weights_tf_dim_ordering")
    assert "place it as" in last
    assert not (tmp_path / "runs").exists()  # neither the run folder nor its parent


@pytest.mark.parametrize(
    "module, dist, extra",
    [
        ("ai_edge_quantizer", "ai-edge-quantizer", "export"),
        ("tensorflow_datasets", "tensorflow-datasets", "train"),
        ("tf_keras.src", "tf_keras", "export"),
    ],
)
def test_missing_optional_dependency_names_the_extra(module, dist, extra):
    from importlib import metadata

    sentence = _cli.missing_extra(ModuleNotFoundError(f"No module named {module!r}", name=module))
    assert sentence == (
        f"{dist} is not installed; it comes with the {extra} extra: "
        f'pip install "keras_convnets[{extra}]"'
    )
    assert _cli.missing_extra(metadata.PackageNotFoundError(dist)) == sentence
    assert _cli.missing_extra(ModuleNotFoundError("x", name="keras_convnets.nope")) is None


def test_export_with_ai_edge_quantizer_missing_is_one_sentence(tmp_path):
    """As if ai-edge-quantizer were not installed: the import and its metadata both fail."""
    script = textwrap.dedent(
        """
        import sys
        from importlib import metadata
        sys.modules["ai_edge_quantizer"] = None  # import raises ModuleNotFoundError
        real_version = metadata.version
        def version(name):
            if name == "ai-edge-quantizer":
                raise metadata.PackageNotFoundError(name)
            return real_version(name)
        metadata.version = version
        from keras_convnets.__main__ import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "export", "--model=resnet20", "--quantizer=ai_edge",
         "--quantize=int8", "--dataset=fashion_mnist", f"--output={tmp_path / 'r.tflite'}"],
        env=_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: ai-edge-quantizer is not installed; it comes with the export extra: "
        'pip install "keras_convnets[export]"'
    )
    assert not os.path.exists(tmp_path / "r.tflite")
