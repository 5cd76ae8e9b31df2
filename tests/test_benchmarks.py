"""Smoke tests of the benchmark scripts (``--quick``): they run, print tables, write files.

No figure is asserted against a speed (the machine is shared); what is checked
is that each script measures positive rates, writes its outputs, and that the
peak arithmetic and the table helpers compute what they say.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from benchmarks import _util, bench_gpu_training, bench_peak


def test_peak_arithmetic_zen5_avx512_bf16():
    # 2 cores x 2.5 GHz x 2 FMA pipes x 16 lanes = 160 GMAC/s; VDPBF16PS doubles it.
    facts = {
        "cores": 2,
        "ghz": 2.5,
        "vendor": "AuthenticAMD",
        "family": 26,
        "flags": {"avx512f", "avx512_bf16", "fma", "avx2"},
    }
    p = bench_peak.peak(facts)
    assert p["float32"] == pytest.approx(160e9)
    assert p["bfloat16"] == pytest.approx(320e9)
    assert p["amx_bfloat16"] is None


def test_peak_zen4_halves_and_amx():
    zen4 = {"cores": 1, "ghz": 1.0, "vendor": "AuthenticAMD", "family": 25, "flags": {"avx512f"}}
    assert bench_peak.peak(zen4)["float32"] == pytest.approx(16e9)  # 2 pipes x 8 lanes
    spr = {
        "cores": 1,
        "ghz": 2.0,
        "vendor": "GenuineIntel",
        "family": 6,
        "flags": {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"},
    }
    assert bench_peak.peak(spr)["amx_bfloat16"] == pytest.approx(2e9 * 1024)


def test_peak_rejects_unknown_clock():
    with pytest.raises(ValueError, match="GHz"):
        bench_peak.peak({"cores": 1, "ghz": None, "vendor": "", "family": None, "flags": set()})


def test_this_cpu_facts_are_read():
    facts = bench_peak.cpu_facts()
    assert facts["cores"] >= 1
    assert isinstance(facts["flags"], set)
    ghz = bench_peak.measure_clock(repeats=1, iterations=5_000_000)
    assert ghz is None or 0.1 < ghz < 10


def test_util_tables_and_rates(tmp_path):
    table = _util.format_table(["a", "b", "c"], [[1, 2.5, float("nan")], ["x", 1234.5, 0.1]])
    assert table.splitlines()[2] == "| 1 | 2.50 | - |"
    assert "1,234" in table or "1,235" in table
    rates = _util.alternating_rates({"a": lambda: None, "b": lambda: None}, items=4, rounds=3)
    assert set(rates) == {"a", "b"}
    assert all(len(r["runs"]) == 3 and r["median"] > 0 for r in rates.values())
    with pytest.raises(ValueError, match="repeats"):
        _util.median_rate(lambda: None, items=1, repeats=0)
    _util.write_json(tmp_path / "x.json", {"a": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp_")]


def test_gpu_table_ratio_against_best_torch():
    results = [
        {"framework": "keras-jax", "precision": "bfloat16", "batch": 256, "images_per_s": 600.0},
        {"framework": "torch-eager", "precision": "bfloat16", "batch": 256, "images_per_s": 400.0},
        {
            "framework": "torch-compile",
            "precision": "bfloat16",
            "batch": 256,
            "images_per_s": 500.0,
        },
    ]
    table = bench_gpu_training._table(results, [256], ["bfloat16"])
    row = table.splitlines()[2].split("|")
    assert row[-2].strip() == "1.20"  # 600 / max(400, 500)
    assert row[4].strip() == "-"  # train_on_batch not measured


def test_gpu_script_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch-sizes"):
        bench_gpu_training.main(["--batch-sizes", "0"])


def _rates_positive(rows, columns):
    for row in rows:
        for c in columns:
            value = row[c]
            assert math.isnan(value) or value > 0, row


def test_bench_inference_quick(tmp_path):
    from benchmarks import bench_inference

    assert bench_inference.main(["--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "inference.json").read_text())
    assert {r[3] for r in data["rows"]} == {"float32", "mixed_bfloat16"}
    _rates_positive(data["rows"], [4, 5, 6])
    assert "ours/theirs" in (tmp_path / "inference.md").read_text()


def test_bench_inference_op_histogram_shows_float32_batchnorm():
    # Why bf16 gains less than the convolutions alone: BN runs in float32 between casts.
    import keras

    from benchmarks import bench_inference
    from keras_convnets.models import resnet

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = resnet.ResNet20(input_shape=(32, 32, 3))
    finally:
        keras.config.set_dtype_policy("float32")
    hist = bench_inference.op_histogram(model)
    assert hist[("Conv2D", "bfloat16")] == 19  # conv1 + 18 in the blocks (shortcut A)
    assert hist[("Rsqrt", "float32")] == 19  # one per BN layer
    assert hist[("Cast", "bfloat16->float32")] >= 19


def test_bench_training_quick(tmp_path):
    from benchmarks import bench_training

    assert bench_training.main(["--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "training.json").read_text())["rows"]
    assert [r[0] for r in rows] == ["resnet20", "resnet20"]
    _rates_positive(rows, [3])


def test_bench_peak_quick(tmp_path):
    assert bench_peak.main(["--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "peak.json").read_text())
    assert data["peak"]["float32"] > 0
    assert len(data["rows"]) == 6
    _rates_positive(data["rows"], [2])


def test_bench_scaling_quick(tmp_path):
    from benchmarks import bench_scaling

    assert bench_scaling.main(["--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "scaling.json").read_text())["rows"]
    assert [(r[0], r[1]) for r in rows] == [("resnet18", 32), ("resnet18", 64)]
    # Counted multiply-adds grow with the input area (4x from 32 to 64) but for
    # the classifier's 512 x 1000, which does not: (4 x 36.8M + 0.5M) / 37.3M.
    assert rows[1][2] / rows[0][2] == pytest.approx(3.96, rel=0.01)
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_tflite_quick(tmp_path):
    from benchmarks import bench_tflite

    assert bench_tflite.main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "tflite.json").read_text())["results"]
    sizes = {r["mode"]: r["bytes"] for r in results}
    # Dynamic-range int8 stores the weights in a quarter of the bytes.
    assert sizes["dynamic"] < 0.4 * sizes["none"]
    assert all(r["ms"]["1"] > 0 for r in results)


def test_bench_pipeline_quick(tmp_path):
    from benchmarks import bench_pipeline

    assert bench_pipeline.main(["--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "pipeline.json").read_text())["rows"]
    assert rows[0][:3] == ["cifar10", "cifar", "resnet20"]
    _rates_positive(rows, [5, 6])


def test_bench_gpu_training_quick_cpu(tmp_path):
    # The GPU script's code path on a CPU, where JAX and PyTorch are installed.
    pytest.importorskip("jax")
    code = bench_gpu_training.main(["--quick", "--out", str(tmp_path), "--frameworks", "keras-jax"])
    assert code == 0
    data = json.loads((tmp_path / "gpu_train_step.json").read_text())
    assert data["results"][0]["tensorflow_imported"] is False


def test_strip_batchnorm_keeps_the_rest():
    import keras

    from benchmarks import bench_inference
    from keras_convnets.models import resnet

    model = resnet.ResNet20(input_shape=(32, 32, 3))
    stripped = bench_inference.strip_batchnorm(model)
    names = [layer.name for layer in model.layers]
    assert [layer.name for layer in stripped.layers] == names
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in stripped.layers)
    assert stripped.count_params() == model.count_params() - sum(
        layer.count_params() for layer in model.layers if "_bn" in layer.name
    )


# --- The real-data scripts (issue: recipes), as smoke runs on a slice of the IDX files ----------

FASHION = "/usr/share/datasets/fashion-mnist"


def _script(module, *args, timeout=300):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _result(stdout):
    line = next(ln for ln in stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs dataset-fashion-mnist")
def test_train_fashion_mnist_smoke(tmp_path):
    proc = _script(
        "benchmarks.train_fashion_mnist",
        "--model=resnet20",
        f"--model_dir={tmp_path / 'run'}",
        "--steps=4",
        "--batch_size=32",
        "--max_train_examples=256",
        "--max_eval_examples=64",
        "--verbose=0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _result(proc.stdout)
    assert result["steps"] == 4 and 0.0 <= result["test_accuracy"] <= 1.0
    assert result["reached_target"] == (result["test_accuracy"] >= 0.93)
    assert result["wall_seconds"] > 0 and result["train_images_per_second"] > 0
    assert (tmp_path / "run" / "final.weights.h5").exists()


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs dataset-fashion-mnist")
def test_degradation_smoke_and_replot(tmp_path):
    out = tmp_path / "deg"
    common = [f"--out={out}", "--models=plain20,resnet20", "--verbose=0"]
    proc = _script(
        "benchmarks.degradation",
        *common,
        "--epochs=2",
        "--batch_size=32",
        "--max_train_examples=96",  # 3 steps an epoch: 6 steps, two whole-epoch rows
        "--max_eval_examples=64",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _result(proc.stdout)
    assert set(result) == {"plain20", "resnet20"}
    saved = json.loads((out / "degradation.json").read_text())
    for name in ("plain20", "resnet20"):
        assert len(saved[name]["train_error_by_epoch"]) == 2
        assert saved[name]["final_train_error"] == pytest.approx(
            saved[name]["train_error_by_epoch"][-1], abs=1e-5
        )
    png = out / "degradation.png"
    png.unlink()
    again = _script("benchmarks.degradation", *common, "--plot_only")
    assert again.returncode == 0, again.stderr[-3000:]
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert _result(again.stdout) == result


def test_whole_epochs_drops_the_tail_of_a_started_epoch():
    from benchmarks import degradation

    rows = [{"epoch": 1.0}, {"epoch": 2.0}, {"epoch": 2.0128}]
    assert degradation.whole_epochs(rows) == rows[:2]
    assert degradation.whole_epochs([{"epoch": 0.5}]) == [{"epoch": 0.5}]


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs dataset-fashion-mnist")
def test_time_to_accuracy_smoke(tmp_path):
    """Every part on 512 images: the CSV, the plot and the printed figures exist and agree."""
    out = tmp_path / "tta"
    proc = _script(
        "benchmarks.bench_time_to_accuracy", f"--out={out}", "--parts=rates,equal_steps,curve",
        "--max_train_examples=512", "--max_eval_examples=128", "--short_epochs=1",
        "--fast_epochs=2", "--paper_epochs=1", "--timed_steps=1", "--verbose=0",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _result(proc.stdout)
    assert set(result["rates"]["images_per_second"]) == {"paper", "fast"}
    curve = result["curve"]
    assert curve["timing"] == "alternating step rates (part rates)"
    assert len(curve["fast_accuracy_by_epoch"]) == 2
    rows = (out / "curves.csv").read_text().splitlines()
    assert rows[0] == "recipe,epoch,train_seconds,test_accuracy" and len(rows) == 1 + 1 + 2
    # The time axis is the epoch's steps x batch / the measured rate.
    paper_seconds = float(rows[1].split(",")[2])
    assert paper_seconds == pytest.approx(
        4 * 128 / result["rates"]["images_per_second"]["paper"], abs=0.006
    )
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert result["equal_steps"]["fast_steps"] == 4 and result["equal_steps"]["paper_steps"] == 4
    from benchmarks import bench_time_to_accuracy as tta

    rows = [{"seconds": 5.0, "val_accuracy": 0.5}, {"seconds": 5.0, "val_accuracy": 0.95}]
    assert tta.time_to(rows, 0.9) == 10.0 and tta.time_to(rows, 0.99) is None
