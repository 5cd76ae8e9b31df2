"""Atomic outputs: the one place where files and folders are written under a temporary name.

Every writer of the package goes through here (:func:`write_bytes`,
:func:`write_text`, :func:`writing`, :class:`Staging`). A single file is
written under ``.NAME.tmp-<pid>-XXXX`` beside its final name and renamed.

A *set* of files (an export: model, labels, metadata, mean image, parity
report) is one unit: :meth:`Staging.commit` first writes a journal
(``.NAME.commit.json``, itself atomically) listing every ``temporary -> final``
rename, then renames, then deletes the journal. A process killed between two
renames leaves the journal behind; the next writer or reader in that folder
(:func:`recover`, called by :meth:`Staging.path` and :func:`verify_unit`)
finishes the renames, so the set is never left half old, half new. With
``Staging(manifest=...)`` a manifest of SHA-256 sums is renamed last, and
:func:`verify_unit` checks the files against it on read.

:func:`recover` also deletes the temporary files of processes that no longer
run (a killed or failed writer), which earlier versions left behind for ever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time

JOURNAL_SUFFIX = ".commit.json"
# Temporaries of older versions carry no pid; they are stale after this long.
LEGACY_STALE_SECONDS = 3600
_TEMP_RE = re.compile(r"^\..+\.(tmp|old)-(\d+)-[^/]*$")
_LEGACY_TEMP_RE = re.compile(r"^\..+\.tmp-[a-z0-9_]{8}$")


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_path(final_path, kind="tmp", directory=False, suffix="") -> str:
    parent, name = os.path.split(final_path)
    prefix = f".{name}.{kind}-{os.getpid()}-"
    if directory:
        return tempfile.mkdtemp(prefix=prefix, dir=parent)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
    os.close(fd)
    return tmp


def replace_path(src, dst):
    """``os.replace`` that also replaces an existing (non-empty) folder.

    A folder cannot be renamed over a non-empty one, so the old one is moved
    aside first and moved back if the second rename fails.
    """
    if not (os.path.isdir(dst) and not os.path.islink(dst)):
        os.replace(src, dst)
        return
    backup = _temp_path(os.path.abspath(dst), kind="old", directory=True)
    os.rmdir(backup)
    os.replace(dst, backup)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(backup, dst)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def recover(directory) -> list[str]:
    """Finishes interrupted commits in ``directory`` and deletes dead writers' temporaries.

    Returns the final paths whose interrupted rename was completed. Journals and
    temporaries of processes still running are left alone.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    done = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(".") and entry.endswith(JOURNAL_SUFFIX):
            done += _roll_forward(os.path.join(directory, entry))
    now = time.time()
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        match = _TEMP_RE.match(entry)
        if match and not _alive(int(match.group(2))):
            _remove(path)
        elif _LEGACY_TEMP_RE.match(entry):
            with contextlib.suppress(OSError):
                if now - os.lstat(path).st_mtime > LEGACY_STALE_SECONDS:
                    _remove(path)
    return done


def _roll_forward(journal) -> list[str]:
    try:
        with open(journal, encoding="utf-8") as f:
            record = json.load(f)
        pid, pairs = int(record["pid"]), record["pairs"]
    except (OSError, ValueError, KeyError, TypeError):
        # Journals are written atomically: an unreadable one is not ours.
        return []
    if _alive(pid):
        return []  # a running process (maybe this one) is committing right now
    done = []
    for tmp, final in pairs:
        if os.path.lexists(tmp):
            replace_path(tmp, final)
            done.append(final)
    os.remove(journal)
    return done


def _sha256(path) -> str:
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode() + b"\0")
                digest.update(_sha256(full).encode())
        return digest.hexdigest()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path):
    if os.path.isfile(path):
        with open(path, "rb") as f:
            os.fsync(f.fileno())


class Staging:
    """Temporary paths for a set of outputs, committed together or not at all.

    ``manifest``: a final path for a JSON manifest (SHA-256 of every file of
    the set), renamed last; :func:`verify_unit` checks it.

    Example:
        >>> import os, tempfile
        >>> out = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> with Staging() as staging:
        ...     with open(staging.path(out), "w") as f:
        ...         _ = f.write("hello")
        >>> open(out).read()
        'hello'
    """

    def __init__(self, *, manifest=None):
        self._staged: list[tuple[str, str]] = []
        self._manifest = None if manifest is None else os.path.abspath(os.fspath(manifest))
        self._recovered: set[str] = set()

    def path(self, final_path, *, directory=False, suffix="") -> str:
        """A fresh temporary path beside ``final_path`` (a folder is created if ``directory``).

        ``suffix`` ends the temporary name, for writers that insist on one
        (Keras' ``save_weights`` wants ``.weights.h5``).
        """
        final_path = os.path.abspath(os.fspath(final_path))
        parent = os.path.dirname(final_path)
        os.makedirs(parent, exist_ok=True)
        if parent not in self._recovered:
            recover(parent)
            self._recovered.add(parent)
        tmp = _temp_path(final_path, directory=directory, suffix=suffix)
        self._staged.append((tmp, final_path))
        return tmp

    def _write_manifest(self):
        files = {os.path.basename(final): _sha256(tmp) for tmp, final in self._staged}
        tmp = self.path(self._manifest)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"files": files, "pid": os.getpid()}, f, indent=2, sort_keys=True)
            f.write("\n")

    def commit(self):
        """Renames every staged path to its final name, as one unit (see the module doc)."""
        if not self._staged:
            return
        if self._manifest is not None:
            self._write_manifest()
        umask = os.umask(0)
        os.umask(umask)
        for tmp, _ in self._staged:
            # mkstemp/mkdtemp create owner-only entries; give the usual permissions.
            os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~umask)
            _fsync(tmp)
        journal = None
        if len(self._staged) > 1:
            parent, name = os.path.split(self._staged[0][1])
            journal = os.path.join(parent, f".{name}{JOURNAL_SUFFIX}")
            write_text(journal, json.dumps({"pid": os.getpid(), "pairs": self._staged}))
        for tmp, final in self._staged:
            replace_path(tmp, final)
        if journal is not None:
            os.remove(journal)
        self._staged = []

    def abort(self):
        """Deletes every staged path; the final paths are untouched."""
        for tmp, _ in self._staged:
            _remove(tmp)
        self._staged = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
        return False


def verify_unit(manifest) -> dict:
    """Checks the files a manifest lists against their SHA-256; returns the manifest.

    Interrupted commits in the folder are finished first (:func:`recover`).
    Raises ``ValueError`` naming the files that are missing or differ.
    """
    manifest = os.path.abspath(os.fspath(manifest))
    parent = os.path.dirname(manifest)
    recover(parent)
    if not os.path.isfile(manifest):
        raise ValueError(f"No manifest {manifest!r}: the set was never completely written.")
    with open(manifest, encoding="utf-8") as f:
        record = json.load(f)
    bad = []
    for name, digest in record["files"].items():
        path = os.path.join(parent, name)
        if not os.path.exists(path) or _sha256(path) != digest:
            bad.append(name)
    if bad:
        raise ValueError(
            f"The files {bad} beside {manifest!r} are missing or differ from the manifest: "
            "they do not belong to one complete write."
        )
    return record


@contextlib.contextmanager
def writing(path, mode="wb", **open_kwargs):
    """``open`` for writing that commits on success and leaves ``path`` untouched on error.

    Example:
        >>> import os, tempfile
        >>> out = os.path.join(tempfile.mkdtemp(), "b.txt")
        >>> with writing(out, "w") as f:
        ...     _ = f.write("hi")
        >>> open(out).read()
        'hi'
    """
    with Staging() as staging:
        with open(staging.path(path), mode, **open_kwargs) as f:
            yield f


def write_bytes(path, data: bytes):
    """Writes ``data`` to ``path`` atomically."""
    with writing(path, "wb") as f:
        f.write(data)


def write_text(path, text: str):
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj, *, sort_keys: bool = False, make_folder: bool = False):
    """Writes ``obj`` as indented JSON (one trailing newline) to ``path`` atomically.

    The one JSON writer of the package: arrays and NumPy scalars become lists
    and numbers, anything else unknown its ``str``. ``make_folder`` creates the
    parent folder first.

    Example:
        >>> import os, tempfile
        >>> out = os.path.join(tempfile.mkdtemp(), "r.json")
        >>> write_json(out, {"b": 1, "a": [1.5]}, sort_keys=True)
        >>> import json
        >>> json.load(open(out)), open(out).read().endswith("}\\n")
        ({'a': [1.5], 'b': 1}, True)
    """
    import json

    if make_folder:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, default=json_value)
    write_text(path, text + "\n")


def json_value(value):
    """What :func:`write_json` writes for a value JSON has no type for (``json`` ``default``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
