"""Checkpoints: ``tf.train.CheckpointManager`` plus a JSON state file per checkpoint.

The state (step, schedule state, history) of checkpoint ``ckpt-N`` is written
atomically to ``ckpt-N.state.json`` BEFORE the checkpoint itself; the
manager's index file (also replaced atomically) names a checkpoint only once
its files are complete. A kill at any moment therefore leaves the previous
checkpoint and its state usable. A save that fails (a full disk) removes what it
had written; the shards a killed save left are removed when the next run starts.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil

from keras_convnets import atomic


class Checkpointer:
    """Saves and restores a ``tf.train.Checkpoint`` with its JSON state.

    In a multi-worker run every worker must save (the variables may need all
    of them), but only the chief writes into ``directory``: the others write
    into a temporary folder that is deleted at once.
    """

    def __init__(self, directory, *, chief: bool, worker: int, max_to_keep: int = 3, **objects):
        import tensorflow as tf

        self.chief = chief
        self.directory = directory if chief else os.path.join(directory, f".worker{worker}_tmp")
        os.makedirs(self.directory, exist_ok=True)
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=max_to_keep, checkpoint_name="ckpt"
        )
        if chief:
            self._remove_leftovers()

    def save(self, step: int, state: dict) -> str:
        prefix = os.path.join(self.directory, f"ckpt-{step}")
        try:
            if self.chief:
                atomic.write_json(prefix + ".state.json", state)
            path = self.manager.save(checkpoint_number=step)
        except BaseException:  # a full disk, Ctrl-C: no half-written checkpoint stays behind
            self._remove_unfinished(prefix)
            raise
        if self.chief:
            self._drop_orphan_states()
        else:
            shutil.rmtree(self.directory, ignore_errors=True)
            os.makedirs(self.directory, exist_ok=True)
        return path

    def _remove_unfinished(self, prefix):
        """Removes what a failed save of ``prefix`` left: TensorFlow's ``<prefix>_temp/``
        shards, and the state file that no checkpoint names."""
        shutil.rmtree(prefix + "_temp", ignore_errors=True)
        if self.chief and os.path.basename(prefix) not in {
            os.path.basename(p) for p in self.manager.checkpoints
        }:
            with contextlib.suppress(OSError):
                os.remove(prefix + ".state.json")

    def _remove_leftovers(self):
        """Shards of a save that a killed process left (``ckpt-N_temp/``): never named by the
        index, so never read; removed so that they do not pile up."""
        for path in glob.glob(os.path.join(glob.escape(self.directory), "ckpt-*_temp")):
            shutil.rmtree(path, ignore_errors=True)

    def _drop_orphan_states(self):
        kept = {os.path.basename(p) for p in self.manager.checkpoints}
        for name in os.listdir(self.directory):
            if name.endswith(".state.json") and name[: -len(".state.json")] not in kept:
                os.remove(os.path.join(self.directory, name))

    def restore_latest(self, main_directory) -> dict | None:
        """Restores the newest checkpoint of ``main_directory``; returns its state or ``None``."""
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(main_directory)
        if latest is None:
            return None
        with open(latest + ".state.json") as f:
            state = json.load(f)
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return state

    @property
    def latest(self):
        return self.manager.latest_checkpoint
