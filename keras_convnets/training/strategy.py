"""``tf.distribute`` strategies by name, and which worker is the chief.

``auto``: a TPU when one is found, ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` names a cluster of more than one task, ``MirroredStrategy``
over all GPUs when there are several, else the default strategy. Collective
operations get a timeout, so that a lost worker ends the run with an error
instead of a hang.
"""

from __future__ import annotations

import json
import os

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


class WorkerLostError(RuntimeError):
    """A peer of a multi-worker run stopped answering (collective timeout or failure)."""


def tf_config_cluster() -> dict | None:
    """The ``cluster`` of ``TF_CONFIG``, or ``None`` when it names no multi-task cluster."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON: {err}. Received: {raw[:200]!r}") from err
    cluster = cfg.get("cluster") or {}
    tasks = sum(len(v) for v in cluster.values())
    return cluster if tasks > 1 else None


def _find_tpu():
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        resolver.cluster_spec()  # raises when there is none
        return resolver
    except (ValueError, RuntimeError, tf.errors.OpError, KeyError):
        return None


def make_strategy(name: str = "auto", *, collective_timeout_s: float = 300.0):
    """``(strategy, description)`` for a strategy name.

    Example:
        >>> from keras_convnets.training import strategy
        >>> s, text = strategy.make_strategy("default")
        >>> s.num_replicas_in_sync
        1
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {', '.join(STRATEGIES)}. Received: strategy={name!r}"
        )
    if name == "auto":
        if tf_config_cluster():
            name = "multi_worker"
        elif tf.config.list_logical_devices("GPU")[1:]:
            name = "mirrored"
        elif os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):
            name = "tpu"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy(), "default (one device)"
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
        return strategy, f"mirrored over {len(devices)} device(s): {', '.join(devices)}"
    if name == "multi_worker":
        if not tf_config_cluster():
            raise ValueError(
                "strategy='multi_worker' needs TF_CONFIG naming a cluster of at least two tasks. "
                f"Received: TF_CONFIG={os.environ.get('TF_CONFIG')!r}"
            )
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING,
            timeout_seconds=collective_timeout_s,
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        resolver = strategy.cluster_resolver
        return strategy, (
            f"multi_worker: task {resolver.task_type}:{resolver.task_id} of "
            f"{num_workers(strategy)} workers, {strategy.num_replicas_in_sync} replicas, "
            f"collective timeout {collective_timeout_s:g} s"
        )
    resolver = _find_tpu()
    if resolver is None:
        raise ValueError("strategy='tpu' but no TPU was found (TPUClusterResolver failed).")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = tf.distribute.TPUStrategy(resolver)
    return strategy, f"tpu: {strategy.num_replicas_in_sync} cores"


def num_workers(strategy) -> int:
    """Input pipelines (workers) of a strategy."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(k, [])) for k in ("chief", "worker"))


def worker_index(strategy) -> int:
    """This worker's index among the workers (the chief is 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0
    spec = resolver.cluster_spec().as_dict()
    if resolver.task_type == "chief":
        return 0
    return resolver.task_id + (1 if "chief" in spec else 0)


def is_chief(strategy) -> bool:
    """Whether this process writes the run's files (the chief, or worker 0 without a chief)."""
    return worker_index(strategy) == 0
