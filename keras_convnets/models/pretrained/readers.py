"""Reading PyTorch state dicts into NumPy, without PyTorch and without running code.

* ``.safetensors``: the ``safetensors`` NumPy API (a JSON header and raw
  tensors; no code can be carried).
* ``.pth`` / ``.pt`` / ``.bin``: ``torch.save``'s zip format (torch >= 1.6)
  or its legacy format (older files, such as some of torchvision's): the
  pickle is read by :class:`RestrictedUnpickler`, which resolves
  only the few globals a state dict needs (``collections.OrderedDict``,
  ``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter``
  and the typed storages), maps them to NumPy, and refuses every other global
  with :class:`UnsafeCheckpointError`. A ``.pth`` file can carry code (a
  pickle may call any importable function); nothing here imports or calls
  anything the file names.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np

STATE_DICT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")

# torch.<Name>Storage -> NumPy dtype (bfloat16 is widened to float32 on read).
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafeCheckpointError(ValueError):
    """A checkpoint names a global that a plain state dict never needs."""


class _StorageType:
    """Stands for ``torch.FloatStorage`` and its kin: only its dtype is kept."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _LazyStorage:
    """A legacy-format storage: its bytes follow the pickle, so tensors wait for them."""

    def __init__(self, dtype, numel):
        self.dtype, self.numel, self.array = dtype, numel, None


class _LazyTensor:
    def __init__(self, storage, args):
        self.storage, self.args = storage, args

    def resolve(self):
        return _rebuild_tensor_v2(self.storage.array, *self.args)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *meta):
    """``torch._utils._rebuild_tensor_v2`` on a NumPy storage: a strided view, copied."""
    if isinstance(storage, _LazyStorage):
        return _LazyTensor(storage, (offset, size, stride))
    if not isinstance(storage, np.ndarray):
        raise UnsafeCheckpointError(f"A tensor's storage is a {type(storage).__name__}.")
    size, stride = tuple(size), tuple(stride)
    if not size:
        return np.array(storage[offset])
    needed = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride) if n > 0)
    if any(n == 0 for n in size):
        return np.zeros(size, storage.dtype)
    if needed > storage.size or min(stride) < 0:
        raise UnsafeCheckpointError(
            f"A tensor of size {size} and stride {stride} at offset {offset} reaches past its "
            f"storage of {storage.size} elements: the file is corrupt."
        )
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
    )
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, requires_grad=False, hooks=None, *rest):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a ``torch.save`` state dict into NumPy arrays; refuses anything else."""

    def __init__(self, file, read_storage):
        super().__init__(file)
        self._read_storage = read_storage

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"The checkpoint asks for the global {module}.{name}, which a state dict of "
            "tensors never needs; it was refused (a .pth file can run code). Nothing was "
            "loaded. Convert the file with PyTorch to .safetensors if you trust it."
        )

    def persistent_load(self, pid):
        # zip: ("storage", type, key, location, numel); legacy: the same + view_metadata (None).
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"Unexpected persistent id in the checkpoint: {pid!r}")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(storage_type, _StorageType) or (len(pid) == 6 and pid[5] is not None):
            raise UnsafeCheckpointError(f"Unexpected storage in the checkpoint: {pid!r}")
        return self._read_storage(str(key), storage_type.dtype, int(numel))


def _from_bytes(raw, dtype, numel, byteorder="little"):
    if dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2" if byteorder == "little" else ">u2")[:numel]
        return (bits.astype(np.uint32) << 16).view(np.float32)
    dt = np.dtype(dtype).newbyteorder("<" if byteorder == "little" else ">")
    return np.frombuffer(raw, dtype=dt)[:numel].astype(np.dtype(dtype))


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_legacy_pth(path):
    """torch.save's format before 1.6: magic, version, sys info, the pickle, storage keys, bytes."""
    storages: dict[str, _LazyStorage] = {}

    def lazy_storage(key, dtype, numel):
        return storages.setdefault(key, _LazyStorage(dtype, numel))

    with open(path, "rb") as f:
        if RestrictedUnpickler(f, lazy_storage).load() != _LEGACY_MAGIC:
            raise ValueError(f"{path!r} is neither a zip nor a legacy torch.save file.")
        for _ in range(2):  # protocol version, sys info
            RestrictedUnpickler(f, lazy_storage).load()
        result = RestrictedUnpickler(f, lazy_storage).load()
        keys = RestrictedUnpickler(f, lazy_storage).load()
        for key in keys:
            storage = storages[str(key)]
            numel = int(np.frombuffer(f.read(8), "<i8")[0])
            itemsize = 2 if storage.dtype == "bfloat16" else np.dtype(storage.dtype).itemsize
            storage.array = _from_bytes(f.read(numel * itemsize), storage.dtype, numel)
    if not isinstance(result, dict):
        raise ValueError(f"{path!r} does not hold a state dict of tensors.")
    return {
        k: v.resolve() if isinstance(v, _LazyTensor) else v
        for k, v in _flatten_lazy(result).items()
    }


def _flatten_lazy(obj):
    for key in ("state_dict", "model"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj


def _read_zip_pth(path):
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ValueError(
                f"{path!r} is a zip file without exactly one data.pkl: not a torch.save file."
            )
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "little"
        if f"{prefix}byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}byteorder").decode().strip()

        def read_storage(key, dtype, numel):
            return _from_bytes(archive.read(f"{prefix}data/{key}"), dtype, numel, byteorder)

        return RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), read_storage).load()


def _flatten(obj, path):
    """The ``{name: array}`` state dict inside a checkpoint (``state_dict`` / ``model`` keys)."""
    if isinstance(obj, dict):
        if obj and all(isinstance(v, np.ndarray) for v in obj.values()):
            return dict(obj)
        for key in ("state_dict", "model", "state_dict_ema"):
            if isinstance(obj.get(key), dict):
                return _flatten(obj[key], path)
    raise ValueError(f"{path!r} does not hold a state dict of tensors.")


def read_state_dict(path) -> dict[str, np.ndarray]:
    """``{parameter name: NumPy array}`` from a ``.safetensors`` or ``torch.save`` file.

    Example:
        >>> from keras_convnets.models.pretrained import readers
        >>> callable(readers.read_state_dict)
        True
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"State dict file {path!r} does not exist.")
    if path.endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError as err:  # pragma: no cover - safetensors is a dependency
            raise ImportError("Reading .safetensors needs `pip install safetensors`.") from err
        return dict(load_file(path))
    if not zipfile.is_zipfile(path):
        try:
            return _flatten(_read_legacy_pth(path), path)
        except (pickle.UnpicklingError, EOFError, KeyError, IndexError) as err:
            raise ValueError(
                f"{path!r} is neither .safetensors nor a torch.save file (zip or legacy): {err}"
            ) from err
    return _flatten(_read_zip_pth(path), path)
