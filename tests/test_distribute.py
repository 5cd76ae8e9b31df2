"""Distribution: one training path for one device, Mirrored and MultiWorkerMirrored.

Every run here is a real subprocess: two logical CPU devices for
MirroredStrategy, and a real two-process MultiWorkerMirroredStrategy cluster
on 127.0.0.1 whose workers must end with identical weights, equal (within
float tolerance) to a single-process run with the same global batch. The
tiny model has no BatchNorm: per-replica batch statistics would (rightly)
differ from single-device ones.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_convnets.training import strategy as strategy_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 240  # seconds; every subprocess is bounded

WORKER = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
mode, out = sys.argv[1], sys.argv[2]
if mode.startswith("worker"):
    index, ports = int(mode[-1]), sys.argv[3].split(",")
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index}})
if mode.startswith("mirrored2"):
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from keras_convnets.training import TrainConfig, train

def tiny(input_shape, classes):
    keras.utils.set_random_seed(1)
    x = inp = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="c1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, x)

strategy = "default" if mode == "single" else "mirrored" if mode.startswith("mirrored2") else "auto"
cfg = TrainConfig(model="tiny", dataset="fashion_mnist", steps=int(os.environ.get("STEPS", 6)),
    batch_size=15 if mode == "mirrored2_bad" else 16, max_train_examples=64, max_eval_examples=32,
    checkpoint_every=2, log_every=2, input_shape="native", verbose=0, strategy=strategy,
    model_dir=out, plots=False, collective_timeout_s=float(os.environ.get("TIMEOUT_S", 60)))
try:
    summary, model = train(cfg, model_fn=tiny, return_model=True)
except ValueError as err:
    print("VALUE_ERROR", err)
    sys.exit(1)
except Exception as err:
    print("ERROR", type(err).__name__, err)
    sys.stdout.flush()
    os._exit(3)
np.savez(os.path.join(out, f"weights_{mode}.npz"), *[v.numpy() for v in model.weights])
print("SUMMARY", json.dumps(summary))
"""


@pytest.fixture(scope="module")
def worker_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("script") / "worker.py"
    path.write_text(WORKER)
    return path


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run(script, mode, out, *args, **env):
    proc = subprocess.run(
        [sys.executable, str(script), mode, str(out), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(**env),
    )
    return proc


def _weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def single_run(worker_script, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    proc = _run(worker_script, "single", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return _weights(out / "weights_single.npz")


def test_mirrored_two_logical_cpus_matches_single_device(worker_script, tmp_path, single_run):
    proc = _run(worker_script, "mirrored2", tmp_path / "m")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    with open(tmp_path / "m" / "config.json") as f:
        cfg = json.load(f)
    assert cfg["num_replicas"] == 2 and cfg["per_replica_batch"] == 8
    assert "mirrored over 2 device(s)" in cfg["strategy"]
    for a, b in zip(single_run, _weights(tmp_path / "m" / "weights_mirrored2.npz")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_batch_not_divisible_by_replicas_fails_at_start(worker_script, tmp_path):
    proc = _run(worker_script, "mirrored2_bad", tmp_path / "bad")
    assert proc.returncode == 1
    assert "must be divisible by the 2 replicas" in proc.stdout
    assert "batch_size=15" in proc.stdout


def _start_cluster(script, out, **env):
    ports = ",".join(str(p) for p in _free_ports(2))
    return [
        subprocess.Popen(
            [sys.executable, str(script), f"worker{i}", str(out), ports],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(**env),
        )
        for i in range(2)
    ]


def _finish(procs, timeout=TIMEOUT):
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return outputs


def test_two_process_multi_worker_cluster_matches_single_process(
    worker_script, tmp_path, single_run
):
    out = tmp_path / "mw"
    procs = _start_cluster(worker_script, out)
    outputs = _finish(procs)
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-3000:]
    w0 = _weights(out / "weights_worker0.npz")
    w1 = _weights(out / "weights_worker1.npz")
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)  # workers identical, bit for bit
    for a, b in zip(single_run, w0):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    with open(out / "config.json") as f:
        cfg = json.load(f)
    assert cfg["num_workers"] == 2 and cfg["num_replicas"] == 2
    assert cfg["strategy"].startswith("multi_worker")
    assert not (out / "checkpoints" / ".worker1_tmp").exists() or not os.listdir(
        out / "checkpoints" / ".worker1_tmp"
    )


def test_lost_worker_ends_the_run_with_a_clear_error(worker_script, tmp_path):
    out = tmp_path / "lost"
    procs = _start_cluster(worker_script, out, STEPS="100000", TIMEOUT_S="10")
    try:
        deadline = time.time() + TIMEOUT
        while not (out / "checkpoints" / "ckpt-4.index").exists():
            assert time.time() < deadline, "the cluster never reached step 4"
            assert procs[0].poll() is None, procs[0].communicate()[0][-3000:]
            time.sleep(0.2)
        procs[1].kill()
        killed = time.time()
        text = procs[0].communicate(timeout=120)[0]
        elapsed = time.time() - killed
    finally:
        _finish(procs, timeout=5)
    assert procs[0].returncode == 3, text[-3000:]
    assert "WorkerLostError" in text and "a peer stopped answering" in text
    assert "resume from" in text
    assert elapsed < 90


def test_strategy_names_and_tf_config(monkeypatch):
    with pytest.raises(ValueError, match="auto, default, mirrored, multi_worker, tpu"):
        strategy_lib.make_strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert strategy_lib.tf_config_cluster() is None
    strategy, text = strategy_lib.make_strategy("auto")
    assert strategy.num_replicas_in_sync == 1 and text.startswith("default")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}}))
    assert strategy_lib.tf_config_cluster() is None  # one task is no cluster
    with pytest.raises(ValueError, match="needs TF_CONFIG naming a cluster"):
        strategy_lib.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    assert strategy_lib.tf_config_cluster() == {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        strategy_lib.tf_config_cluster()


CLIP = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_convnets.training import loop
from keras_convnets.training.config import Resolved

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    var = keras.Variable([0.0, 0.0], name="w")
    opt = loop.make_optimizer(Resolved(optimizer="sgd", learning_rate=1.0, momentum=0.0,
                               clip_global_norm=float(sys.argv[1]), precision="float32"))
    opt.build([var])

@tf.function
def step():
    def replica_step():
        ctx = tf.distribute.get_replica_context()
        # replica 0 holds gradient (3, 0), replica 1 holds (0, 4): the global one is (3, 4)
        g = tf.where(tf.equal(ctx.replica_id_in_sync_group, 0), [3.0, 0.0], [0.0, 4.0])
        g = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [g])  # as the training loop does
        opt.apply(g, [var])
    strategy.run(replica_step)

step()
print("W", *var.numpy().tolist())
"""


@pytest.mark.parametrize("clip, expected", [(1.0, [-0.6, -0.8]), (100.0, [-3.0, -4.0])])
def test_global_clipnorm_sees_the_global_gradient_once(tmp_path, clip, expected):
    # Keras' own order (clip each replica's gradient, then sum) would give (-1, -1) at clip 1;
    # a second cross-replica sum in the optimizer would double the step.
    script = tmp_path / "clip.py"
    script.write_text(CLIP)
    proc = subprocess.run(
        [sys.executable, str(script), str(clip)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("W "))
    np.testing.assert_allclose([float(v) for v in line.split()[1:]], expected, rtol=1e-6)
