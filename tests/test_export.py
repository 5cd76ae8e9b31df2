"""Export for deployment: formats, parity, QAT, atomic writes, errors before work.

Randomly initialised models check the format matrix (every registered family at
a small input size, every format, in the interpreter within parity bounds); a
ResNet-20 trained briefly on Fashion-MNIST (module fixture) checks the accuracy
targets of the issue: float32 max |dprob| <= 1e-4, full-int8 top-1 accuracy
within 1 point of float, int8 file <= 0.3x the float file, QAT within 0.5 point.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from keras_convnets.deploy import parity, preprocessing, savedmodel, tflite
from keras_convnets.deploy.exporter import export_model
from keras_convnets.models import googlenet, heads, inception_v3, registry, resnet  # noqa: F401

# Parity bounds of the format matrix (random weights). float32 is the issue's
# target; the quantized ones bound what quantization noise may do to probabilities.
MAX_DPROB = {"none": 1e-4, "float16": 5e-3, "dynamic": 0.1, "int8": 0.15, "qat": 0.15}
FAST = dict(eval_count=16, latency_runs=20, representative_count=8, verbose=False)


def _families():
    """One small configuration per registered family (the registry says which exist)."""
    cases = [("resnet20", {"input_shape": (32, 32, 3)}, "resnet20_A")]
    cases.append(("resnet20", {"input_shape": (32, 32, 3), "shortcut": "B"}, "resnet20_B"))
    cases.append(("plain20", {"input_shape": (32, 32, 3)}, "plain20"))
    # GoogLeNet keeps its auxiliary heads (the export must drop them); Inception
    # needs 299x299 with its head, so the matrix uses 75x75 without it.
    cases.append(("googlenet", {"input_shape": (65, 65, 3), "classes": 10}, "googlenet"))
    for name in ("inception_v3", "inception_v2"):
        kwargs = {"input_shape": (75, 75, 3), "classes": 10, "aux_logits": False}
        cases.append((name, kwargs, name))
    cases.append(("resnet50v2", {"input_shape": (64, 64, 3), "classes": 10}, "resnet50v2"))
    kwargs = {"input_shape": (75, 75, 3), "classes": 10}
    cases.append(("inception_resnet_v2", kwargs, "inception_resnet_v2"))
    cases.append(("inception_v4", kwargs, "inception_v4"))
    return cases


def _build(name, kwargs):
    keras.utils.set_random_seed(0)
    return registry.get_model(name, **kwargs)


def sig_outputs_shape(meta):
    return meta["signature"]["outputs"]["probabilities"]["shape"]


def _files(directory):
    return sorted(os.listdir(directory))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"format": "onnx"}, "`format` must be one of savedmodel, tflite. Received: format='onnx'"),
        ({"quantize": "int4"}, "`quantize` must be one of none, float16"),
        ({"quantize": "int8", "io_type": "int16"}, "`io_type` must be one of"),
        ({"quantize": "int8"}, "Full-integer int8 needs representative data"),
        ({"quantize": "qat"}, "QAT fine-tunes on labelled images"),
        ({"format": "savedmodel", "quantize": "int8"}, "applies to TFLite only"),
        ({"dataset": "imagenet"}, "`dataset` must be one of cifar10, cifar100, fashion_mnist"),
        ({"preprocessing_mode": "inception"}, "`preprocessing` must be one of caffe, tf, torch"),
        ({"labels": ["a", "b"]}, "one name per class: the model has 10 classes"),
        ({"latency_runs": 5}, "`latency_runs` must be an integer >= 20"),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path, no_conversion, kwargs, match):
    out = tmp_path / "m.tflite"
    if kwargs.get("format") == "savedmodel":
        out = tmp_path / "sm"
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        export_model("resnet20", out, **kwargs)
    assert _files(tmp_path) == []


def test_unknown_model_and_mismatched_weights_fail_before_conversion(tmp_path, no_conversion):
    with pytest.raises(ValueError, match="Unknown model 'resnet21'"):
        export_model("resnet21", tmp_path / "m.tflite")
    weights = tmp_path / "r20.weights.h5"
    resnet.ResNet20().save_weights(weights)
    # ResNet-32 has more blocks than the ResNet-20 file holds.
    with pytest.raises(ValueError, match="does not match model 'resnet32'"):
        export_model("resnet32", tmp_path / "m.tflite", weights=weights)
    with pytest.raises(ValueError, match="does not exist"):
        export_model("resnet20", tmp_path / "m.tflite", weights=tmp_path / "missing.weights.h5")
    assert _files(tmp_path) == ["r20.weights.h5"]


# ----------------------------------------------------------------------------- atomic


def test_failed_conversion_leaves_nothing_and_keeps_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "r20.tflite"
    export_model(_build("resnet20", {}), out, arch="resnet20", **FAST)
    before = {name: (tmp_path / name).read_bytes() for name in _files(tmp_path)}
    assert sorted(before) == [
        "r20.json",
        "r20.labels.txt",
        "r20.manifest.json",
        "r20.parity.json",
        "r20.tflite",
    ]

    from tensorflow.lite.python.lite import TFLiteSavedModelConverterV2

    real_convert = TFLiteSavedModelConverterV2.convert

    def convert_then_fail(self):
        real_convert(self)  # the work is done, then the converter dies midway
        raise RuntimeError(
            "'tf.MadeUpOp' op is neither a custom op nor a flex op (conv2_block1_1_conv)"
        )

    monkeypatch.setattr(TFLiteSavedModelConverterV2, "convert", convert_then_fail)
    with pytest.raises(tflite.ConversionError) as info:
        export_model(_build("resnet20", {}), out, quantize="float16", arch="resnet20", **FAST)
    message = str(info.value)
    assert "tf.MadeUpOp" in message and "conv2_block1_1_conv" in message
    assert "quantize='float16'" in message
    after = {name: (tmp_path / name).read_bytes() for name in _files(tmp_path)}
    assert after == before  # no temporary file, previous export byte-identical


def test_failed_savedmodel_leaves_no_partial_folder(tmp_path, monkeypatch):
    out = tmp_path / "sm"
    export_model(_build("resnet20", {}), out, format="savedmodel", arch="resnet20", **FAST)
    listing = sorted(os.listdir(out))
    pb = (out / "saved_model.pb").read_bytes()

    def half_written(model, directory, **kwargs):
        with open(os.path.join(directory, "saved_model.pb"), "wb") as f:
            f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(savedmodel, "write_serving_savedmodel", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        export_model(_build("resnet20", {}), out, format="savedmodel", arch="resnet20", **FAST)
    assert sorted(os.listdir(out)) == listing
    assert (out / "saved_model.pb").read_bytes() == pb
    assert _files(tmp_path) == [
        "sm",
        "sm.json",
        "sm.labels.txt",
        "sm.manifest.json",
        "sm.parity.json",
    ]


# ----------------------------------------------------------------------------- SavedModel


def test_savedmodel_takes_uint8_images_of_any_size(tmp_path, rng):
    model = _build("resnet20", {})
    labels = [f"class {i}" for i in range(10)]
    out = tmp_path / "sm"
    report = export_model(
        model, out, format="savedmodel", arch="resnet20", labels=labels, top_k=3, **FAST
    )
    assert report["max_abs_diff_prob"] <= 1e-5
    runner = savedmodel.SavedModelRunner(str(out))
    for shape in ((2, 28, 28, 3), (3, 45, 37, 3)):
        images = rng.integers(0, 256, size=shape).astype(np.uint8)
        result = runner(images)
        assert result["probabilities"].shape == (shape[0], 10)
        assert result["top_k_classes"].shape == (shape[0], 3)
        assert result["top_k_labels"].shape == (shape[0], 3)
        expected = model(
            preprocessing.prepare(images, size=(32, 32), channels=3, mode="caffe"),
            training=False,
        )
        np.testing.assert_allclose(result["probabilities"], np.asarray(expected), atol=1e-5)
        np.testing.assert_array_equal(
            result["top_k_classes"][:, 0], np.asarray(expected).argmax(-1)
        )
        assert result["top_k_labels"][0, 0].decode() == labels[result["top_k_classes"][0, 0]]
    meta = json.loads((tmp_path / "sm.json").read_text())
    assert meta["signature"]["inputs"]["images"] == {
        "dtype": "uint8",
        "shape": [None, None, None, 3],
    }
    assert meta["input_normalization"]["mode"] == "caffe"
    assert (tmp_path / "sm.labels.txt").read_text().splitlines() == labels


def test_preprocessing_matches_keras_applications(rng):
    images = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    for mode in preprocessing.PREPROCESSING_MODES:
        ours = preprocessing.prepare(images, size=(32, 32), channels=3, mode=mode).numpy()
        theirs = keras.applications.imagenet_utils.preprocess_input(
            images.astype("float32"), mode=mode
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-4)


# ----------------------------------------------------------------------------- format matrix


def _check_export(tmp_path, name, kwargs, label, quantize):
    model = _build(name, kwargs)
    main = heads.inference_model(model)  # shapes of the main output (no aux heads)
    fmt = "savedmodel" if quantize == "savedmodel" else "tflite"
    out = tmp_path / (f"{label}_sm" if fmt == "savedmodel" else f"{label}_{quantize}.tflite")
    extra = {"qat_steps": 2, "qat_batch_size": 4} if quantize == "qat" else {}
    if quantize == "qat":
        rng = np.random.default_rng(0)
        shape = model.input_shape[1:]
        extra["train_images"] = rng.integers(0, 256, size=(8, *shape)).astype(np.uint8)
        extra["train_labels"] = np.arange(8) % main.output_shape[-1]
    if quantize == "int8":
        rng = np.random.default_rng(1)
        extra["representative_images"] = rng.integers(
            0, 256, size=(8, *model.input_shape[1:])
        ).astype(np.uint8)
    report = export_model(
        model,
        out,
        format=fmt,
        quantize="none" if fmt == "savedmodel" else quantize,
        arch=name,
        **extra,
        **FAST,
    )
    bound = 1e-5 if fmt == "savedmodel" else MAX_DPROB[quantize]
    # QAT changes the weights (fine-tuning): the conversion is checked against
    # the fine-tuned, fake-quantized model it translates.
    key = "qat_conversion_max_abs_diff_prob" if quantize == "qat" else "max_abs_diff_prob"
    assert report[key] <= bound, report
    meta = json.loads((tmp_path / (out.name.removesuffix(".tflite") + ".json")).read_text())
    classes = main.output_shape[-1]
    if fmt == "tflite":
        assert set(report["latency_ms"]) == {"1", "2"}
        # a single output: the auxiliary heads never reach an export
        assert sig_outputs_shape(meta) == [1, classes]
        sig = meta["signature"]
        assert list(sig["inputs"]) == ["input"] and list(sig["outputs"]) == ["probabilities"]
        assert sig["inputs"]["input"]["shape"] == [1, *model.input_shape[1:]]
        # int8 and QAT files take raw uint8 pixels by default (the transform in the graph)
        want = {"int8": "uint8", "qat": "uint8"}.get(quantize, "float32")
        assert sig["inputs"]["input"]["dtype"] == want
    return report


FORMATS = ["savedmodel", "none", "float16", "dynamic", "int8", "qat"]


def _matrix():
    """Every family x every format. Default: ResNet-20 (option A) in every format but
    QAT, and every family but Inception-ResNet-v2 and Inception-v4 in float32; the rest
    (QAT: 0.5-2 min each) is slow."""
    for family in _families():
        label = family[2]
        for quantize in FORMATS:
            if label == "resnet20_A" and quantize == "qat":
                continue  # test_qat_end_to_end_resnet20_option_a
            # Inception-ResNet-v2 and Inception-v4 (54 M and 41 M parameters even at 75x75):
            # ~2 min each in float32, slow.
            big = label in ("inception_resnet_v2", "inception_v4")
            fast = (quantize == "none" and not big) or (label == "resnet20_A" and quantize != "qat")
            marks = () if fast else (pytest.mark.slow,)
            yield pytest.param(family, quantize, marks=marks, id=f"{label}-{quantize}")


@pytest.mark.parametrize("family, quantize", list(_matrix()))
def test_every_family_exports_to_every_format(tmp_path, family, quantize):
    name, kwargs, label = family
    _check_export(tmp_path, name, kwargs, label, quantize)


@pytest.mark.slow
def test_qat_end_to_end_resnet20_option_a(tmp_path):
    # Option A: the custom ChannelPadding layer (no-op QuantizeConfig) and 1x1/2 max pooling.
    report = _check_export(tmp_path, "resnet20", {"input_shape": (32, 32, 3)}, "r20", "qat")
    # The default file takes raw uint8 pixels (checked in _check_export) and returns float32
    # probabilities: io_type sets the output of a raw-pixel file.
    assert report["io_type"] == "float32"
    meta = json.loads((tmp_path / "r20_qat.json").read_text())
    assert meta["qat"]["steps"] == 2
    # Importing tfmot must not leave tf_keras semantics to child processes.
    assert os.environ.get("TF_USE_LEGACY_KERAS") in (None, "0", "")


def test_export_from_a_keras_file(tmp_path):
    path = tmp_path / "r20.keras"
    _build("resnet20", {}).save(path)
    report = export_model(str(path), tmp_path / "r20.tflite", **FAST)
    assert report["max_abs_diff_prob"] <= 1e-4
    meta = json.loads((tmp_path / "r20.json").read_text())
    assert meta["input_normalization"]["source"] == "registry"


def test_cifar_training_pipeline_with_mean_image(tmp_path, rng):
    # The recipes' "cifar" pipeline: 28x28 zero-padded to 32x32, minus the
    # training set's per-pixel mean (mean_image.npy beside the weights).
    from keras_convnets import data

    model = _build("resnet20", {})
    weights = tmp_path / "run" / "ckpt.weights.h5"
    weights.parent.mkdir()
    model.save_weights(weights)
    mean = rng.uniform(0, 255, size=(32, 32, 3)).astype(np.float32)
    np.save(weights.parent / "mean_image.npy", mean)
    out = tmp_path / "sm"
    report = export_model(
        "resnet20", out, format="savedmodel", weights=weights, pipeline="cifar", **FAST
    )
    assert report["max_abs_diff_prob"] <= 1e-5
    images = rng.integers(0, 256, size=(2, 28, 28, 1)).astype(np.uint8)
    fn = data.make_preprocess("cifar", training=False, input_shape=(32, 32, 3), mean_image=mean)
    x = np.stack([np.asarray(fn(im, 0)[0]) for im in images])
    expected = np.asarray(model(x, training=False))
    served = savedmodel.SavedModelRunner(str(out))(np.repeat(images, 3, axis=-1))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    meta = json.loads((tmp_path / "sm.json").read_text())
    assert meta["input_normalization"]["pipeline"] == "cifar"
    np.testing.assert_array_equal(np.load(tmp_path / "sm.mean.npy"), mean)
    with pytest.raises(ValueError, match="subtracts the training set's per-pixel mean"):
        export_model("resnet20", tmp_path / "x.tflite", pipeline="cifar", **FAST)


def test_qat_refuses_a_twin_that_differs(monkeypatch):
    from keras_convnets.deploy import qat

    model = _build("resnet20", {})
    from keras_convnets.models import twin as twin_lib

    real = twin_lib.tf_keras_twin

    def broken_twin(m, *args, **kwargs):
        t = real(m, *args, **kwargs)
        layer = t.get_layer("predictions")
        kernel, bias = layer.get_weights()
        # A different bias per class (a constant shift would cancel in the softmax).
        layer.set_weights([kernel, bias + np.arange(len(bias), dtype=bias.dtype)])
        return t

    monkeypatch.setattr(twin_lib, "tf_keras_twin", broken_twin)
    with pytest.raises(ValueError, match="differs from it by"):
        qat.quantize_model(model)


# ----------------------------------------------------------------------------- trained model


EVAL_COUNT = 1000


@pytest.fixture(scope="module")
def trained(trained_resnet20_weights):
    """ResNet-20 (option A) trained ~1 min on 4,000 Fashion-MNIST images at 32x32x3 (the
    conftest fixture). Preprocessing "tf" (not the registry's "caffe"): the export must record
    and apply the training normalisation it is given."""
    return trained_resnet20_weights


def _export_trained(tmp_path, weights, quantize, **kwargs):
    return export_model(
        "resnet20",
        tmp_path / f"r20_{quantize}.tflite",
        quantize=quantize,
        weights=weights,
        input_shape=(32, 32, 3),
        preprocessing_mode="tf",
        dataset="fashion_mnist",
        eval_count=EVAL_COUNT,
        representative_count=200,
        verbose=True,
        **kwargs,
    )


@pytest.mark.slow
def test_trained_resnet20_float_and_int8_targets(tmp_path, trained, capsys):
    float_report = _export_trained(tmp_path, trained, "none")
    int8_report = _export_trained(tmp_path, trained, "int8")
    uint8_report = _export_trained(tmp_path / "u", trained, "int8", io_type="uint8")
    assert float_report["keras_accuracy"] > 70.0  # the model did learn
    assert float_report["max_abs_diff_prob"] <= 1e-4
    assert float_report["top1_agreement"] == 100.0
    for report in (int8_report, uint8_report):
        assert abs(report["export_accuracy"] - float_report["export_accuracy"]) <= 1.0, report
        assert report["size_bytes"] <= 0.3 * float_report["size_bytes"]
    meta = json.loads((tmp_path / "r20_int8.json").read_text())
    assert meta["input_normalization"]["mode"] == "tf"
    assert meta["input_normalization"]["source"].startswith("argument")
    assert meta["representative"]["count"] == 200
    saved = json.loads((tmp_path / "r20_int8.parity.json").read_text())
    assert saved["export_accuracy"] == int8_report["export_accuracy"]
    assert "r20_int8.tflite" in capsys.readouterr().out  # the table was printed
    with capsys.disabled():
        print("\n" + parity.format_table([float_report, int8_report, uint8_report]))


@pytest.mark.slow
def test_trained_resnet20_qat_within_half_a_point(tmp_path, trained):
    float_report = _export_trained(tmp_path, trained, "none")
    qat_report = _export_trained(tmp_path, trained, "qat", qat_steps=150, qat_batch_size=32)
    print(parity.format_table([float_report, qat_report]))
    print("QAT Keras model accuracy:", qat_report["qat_keras_accuracy"])
    # QAT fine-tunes: on this briefly trained model the extra steps *raise* accuracy
    # (measured: 77.6% float -> 81.8% QAT int8), so "within 0.5 point" is checked as
    # the loss it bounds (int8 never more than 0.5 below float) and, symmetrically,
    # for the quantization itself: the int8 TFLite against the fine-tuned QAT model.
    assert qat_report["export_accuracy"] >= float_report["export_accuracy"] - 0.5, qat_report
    assert abs(qat_report["export_accuracy"] - qat_report["qat_keras_accuracy"]) <= 0.5, qat_report
    assert qat_report["size_bytes"] <= 0.3 * float_report["size_bytes"]


def test_cli_reports_bad_arguments_before_work(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "export",
            "--model=resnet20",
            "--format=tflite",
            "--quantize=int8",
            f"--output={tmp_path / 'm.tflite'}",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Full-integer int8 needs representative data" in proc.stderr
    assert _files(tmp_path) == []


def test_export_is_one_unit_with_a_manifest_and_cleans_dead_temporaries(tmp_path):
    from keras_convnets import atomic
    from keras_convnets.deploy.exporter import verify_export

    out = tmp_path / "m.tflite"
    # A temporary of a dead writer (pid 2**22 + 1 is above the default pid_max) and an
    # interrupted commit's journal, as a SIGKILL between renames leaves them.
    stale = tmp_path / f".m.tflite.tmp-{2**22 + 1}-abcdefgh"
    stale.write_bytes(b"half")
    export_model(_build("resnet20", {}), out, arch="resnet20", **FAST)
    assert not stale.exists()
    assert verify_export(out)["files"].keys() == {
        "m.tflite",
        "m.labels.txt",
        "m.json",
        "m.parity.json",
    }
    labels = tmp_path / "m.labels.txt"
    labels.write_text("edited\n")
    with pytest.raises(ValueError, match="m.labels.txt"):
        verify_export(out)
    # Roll forward: a journal of a dead process names a finished temporary -> final rename.
    new = tmp_path / f".m.labels.txt.tmp-{2**22 + 1}-zzzzzzzz"
    new.write_text("a\n")
    journal = tmp_path / ".m.tflite.commit.json"
    journal.write_text(json.dumps({"pid": 2**22 + 1, "pairs": [[str(new), str(labels)]]}))
    assert atomic.recover(tmp_path) == [str(labels)]
    assert labels.read_text() == "a\n" and not journal.exists() and not new.exists()
