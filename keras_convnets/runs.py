"""The run contract: a run's model and the card saying all that evaluate and export need.

One home, below :mod:`keras_convnets.training` (which writes a run) and
:mod:`keras_convnets.deploy`, :mod:`keras_convnets.run_evaluation` and
:mod:`keras_convnets.predict` (which read it); :func:`check_against_run` is the
one judge of a value that contradicts what the run fixed.

A finished run leaves in ``model_dir``:

* ``model.keras``: the final (evaluation) model; it loads with
  ``keras.models.load_model(..., safe_mode=True)`` once ``keras_convnets`` is
  imported, and carries its registry name and build arguments in its config;
* ``run.json``: the run card (:class:`RunCard`): registry name and build
  arguments, input shape, classes and class names, the evaluation transform
  (pipeline, normalisation, mean image), the dataset and its split rules,
  recipe, seed and the metrics the run measured;
* ``labels.txt``: one class name a line, in class-index order;
* ``mean_image.npy`` when the pipeline subtracts one.

:func:`load_run` reads it back; ``python -m recipes.evaluate --run=DIR`` and
``python -m export --run=DIR`` take model, transform, labels and data from it.
While a run is in progress, :class:`RunLock` keeps a second one out of the
directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import tempfile
import time

import numpy as np

from keras_convnets import atomic

CARD = "run.json"
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.txt"
MEAN_FILE = "mean_image.npy"
LOCK_FILE = "run.lock"
CARD_VERSION = 1


@dataclasses.dataclass
class RunCard:
    """What a finished run knows about its model (``run.json``)."""

    registry_name: str | None
    build_args: dict | None
    input_shape: list
    classes: int
    class_names: list
    pipeline: str
    preprocessing_mode: str | None
    mean_image: str | None  # file name in the run directory
    dataset: str
    data_dir: str | None
    val_fraction: float
    split_seed: int
    max_eval_examples: int | None
    recipe: str
    seed: int
    weights: str | None  # the initial weights (fine-tuning), None from scratch
    metrics: dict
    model_file: str = MODEL_FILE
    labels_file: str = LABELS_FILE
    version: int = CARD_VERSION
    directory: str = dataclasses.field(default="", compare=False)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def eval_transform(self) -> dict:
        """The evaluation transform as data (what the reports record)."""
        return {
            "pipeline": self.pipeline,
            "preprocessing_mode": self.preprocessing_mode,
            "mean_image": self.mean_image,
            "input_shape": list(self.input_shape),
        }

    def mean(self):
        return None if self.mean_image is None else np.load(self.path(self.mean_image))

    def preprocess(self):
        """``fn(image uint8, label) -> (float32 image, label)``: the run's evaluation transform."""
        from keras_convnets import data

        return data.make_preprocess(
            self.pipeline,
            training=False,
            input_shape=tuple(self.input_shape),
            mode=self.preprocessing_mode,
            mean_image=self.mean(),
        )

    def load_model(self):
        """``model.keras``, loaded with ``safe_mode=True``."""
        from keras_convnets.models.saving import load_model

        return load_model(self.path(self.model_file), compile=False, safe_mode=True)

    def load_split(self, split: str = "test"):
        """A split of the run's dataset, with the run's split rules (the test split by default)."""
        from keras_convnets import data

        return data.load_split(
            self.dataset,
            split,
            data_dir=self.data_dir,
            val_fraction=self.val_fraction,
            max_examples=self.max_eval_examples if split != "train" else None,
            split_seed=self.split_seed,
        )

    def fixed_values(self) -> dict:
        """What the run fixes, by argument name, for :func:`check_against_run`."""
        return {
            "model": _OneOf((self.registry_name, self.path(self.model_file))),
            "arch": self.registry_name,
            "classes": self.classes,
            "input_shape": tuple(self.input_shape),
            "pipeline": self.pipeline,
            "preprocessing_mode": self.preprocessing_mode,
            "mean_image": self.path(self.mean_image) if self.mean_image else None,
            "labels": list(self.class_names),
        }

    def to_json(self) -> dict:
        values = dataclasses.asdict(self)
        values.pop("directory")
        return values


def read_labels(path) -> list:
    """A labels file (``labels.txt``): one class name a line, blank lines ignored."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


class _OneOf(tuple):
    """Any of these values agrees with the run (its registry name, or its model file)."""


def check_against_run(run: RunCard, given: dict, *, as_flags: bool = False) -> None:
    """The one judge of "this value contradicts the run", for evaluate, export and predict.

    ``given`` maps argument names to the caller's values (``None``: not given).
    A value equal to the run's passes (``classes=10`` for a 10-class run,
    ``input_shape="32,32,3"``, a labels file holding the run's class names); a
    different one, or a name the run fixes with no value to compare (``weights``:
    the run's model holds its weights), raises ``ValueError`` naming both.
    ``as_flags``: the message spells them as a command line does
    (``--classes=10 contradicts --run=DIR``), else as arguments.
    """
    fixed = run.fixed_values()
    for key, value in given.items():
        if value is None:
            continue
        if as_flags:
            said, where = f"--{key}={value}", f"--run={run.directory}"
        else:
            said, where = f"`{key}`={value!r}", f"the run {run.directory!r}"
        if key not in fixed:
            raise ValueError(
                f"{said} contradicts {where}: its model ({run.model_file}) and evaluation "
                f"transform ({run.pipeline}) are the run's."
            )
        expected = fixed[key]
        if not _agrees(value, expected):
            shown = expected[0] if isinstance(expected, _OneOf) else expected
            shown = shown if as_flags else repr(shown)
            raise ValueError(f"{said} contradicts {where}, whose {key} is {shown}.")


def _agrees(value, expected) -> bool:
    if isinstance(expected, _OneOf):
        return os.fspath(value) in expected or os.path.abspath(value) in map(
            os.path.abspath, filter(None, expected)
        )
    if isinstance(expected, tuple):  # a shape: (32, 32, 3) or "32,32,3"
        if isinstance(value, str):
            value = value.split(",")
        try:
            return tuple(int(d) for d in value) == expected
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list):  # class names, or a labels file holding them
        if isinstance(value, (str, os.PathLike)):
            if not os.path.isfile(value):
                return False
            value = read_labels(value)
        return [str(v) for v in value] == expected
    if isinstance(expected, int) and not isinstance(value, bool):
        try:
            return int(value) == expected
        except (TypeError, ValueError):
            return False
    if isinstance(value, os.PathLike) or (expected and os.sep in str(expected)):
        return os.path.abspath(value) == os.path.abspath(expected)
    return value == expected


def is_run_dir(path) -> bool:
    return os.path.isfile(os.path.join(os.fspath(path), CARD))


def load_run(directory, *, arg="run") -> RunCard:
    """The :class:`RunCard` of a finished run (``ValueError`` when ``directory`` is none).

    ``arg``: the argument the error names (``weights`` when fine-tuning from a run).

    Example:
        >>> try:
        ...     load_run("/nonexistent")
        ... except ValueError as err:
        ...     print(str(err)[:45])
        `run` must be a finished run directory holdin
    """
    directory = os.fspath(directory)
    card = os.path.join(directory, CARD)
    if not os.path.isfile(card):
        hint = (
            " (it has config.json but no run.json: the run has not finished, or it was "
            "written by an older version; finish or re-run it)"
            if os.path.isfile(os.path.join(directory, "config.json"))
            else ""
        )
        raise ValueError(
            f"`{arg}` must be a finished run directory holding {CARD}. "
            f"Received: {arg}={directory!r}" + hint
        )
    with open(card, encoding="utf-8") as f:
        values = json.load(f)
    names = {f.name for f in dataclasses.fields(RunCard)}
    run = RunCard(**{k: v for k, v in values.items() if k in names})
    run.directory = directory
    if not os.path.isfile(run.path(run.model_file)):
        raise ValueError(f"The run {directory!r} has no {run.model_file}.")
    return run


def write_run(directory, *, model, card: RunCard):
    """Writes ``model.keras``, ``labels.txt`` and ``run.json`` (last), each atomically."""
    from keras_convnets.models import _common

    directory = os.fspath(directory)
    scratch = tempfile.mkdtemp(prefix=".model-", dir=directory)  # Keras wants a .keras name
    try:
        with _common.deep_recursion():
            model.save(os.path.join(scratch, MODEL_FILE))
        atomic.replace_path(os.path.join(scratch, MODEL_FILE), card_path(directory, MODEL_FILE))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    atomic.write_text(card_path(directory, LABELS_FILE), "\n".join(card.class_names) + "\n")
    atomic.write_json(card_path(directory, CARD), card.to_json())


def card_path(directory, name):
    return os.path.join(os.fspath(directory), name)


class RunLockedError(ValueError):
    """Another live process holds the run directory."""


class RunLock:
    """``model_dir/run.lock``: one training process per run directory.

    The lock file holds the owner's pid and host. A second process refuses to
    start, naming them; a lock left by a dead process of this host is taken
    over. Usable as a context manager.
    """

    def __init__(self, directory):
        self.path = os.path.join(os.fspath(directory), LOCK_FILE)
        self.held = False

    def acquire(self):
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None or self._stale(holder):
                    self._remove_stale(holder)
                    continue
                raise RunLockedError(
                    f"model_dir {os.path.dirname(self.path)!r} is in use by pid "
                    f"{holder.get('pid')} on host {holder.get('host')!r} (since "
                    f"{time.ctime(holder.get('since', 0))}). Wait for that run or pick another "
                    f"--model_dir; a lock of a dead process on this host is taken over, on "
                    f"another host remove {self.path} once that run is gone."
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise RunLockedError(f"Could not take the lock {self.path}: it keeps changing hands.")

    def _holder(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None  # being written, or a torn file of a crash: treated as stale

    @staticmethod
    def _stale(holder) -> bool:
        if holder.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, KeyError, TypeError, ValueError):
            return False
        return False

    def _remove_stale(self, holder):
        if holder is None and time.time() - os.path.getmtime(self.path) < 5:
            time.sleep(0.2)  # a lock being written right now: look again
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def release(self):
        if self.held:
            holder = self._holder()
            if holder is not None and holder.get("pid") == os.getpid():
                os.remove(self.path)
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
