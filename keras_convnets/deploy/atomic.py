"""Atomic outputs: every file or folder is written under a temporary name, then renamed.

An export writes several artefacts (the model, its labels, its metadata, its
parity report). :class:`Staging` hands out temporary paths beside the final
ones; only when every artefact has been written does :meth:`Staging.commit`
rename them into place. On any error nothing new appears and an existing
output is left exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def replace_path(src, dst):
    """``os.replace`` that also replaces an existing (non-empty) folder.

    A folder cannot be renamed over a non-empty one, so the old one is moved
    aside first and moved back if the second rename fails.
    """
    if not (os.path.isdir(dst) and not os.path.islink(dst)):
        os.replace(src, dst)
        return
    parent, name = os.path.split(os.path.abspath(dst))
    backup = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
    os.rmdir(backup)
    os.replace(dst, backup)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(backup, dst)
        raise
    shutil.rmtree(backup, ignore_errors=True)


class Staging:
    """Temporary paths for a set of outputs, committed together or not at all.

    Example:
        >>> import os, tempfile
        >>> out = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> with Staging() as staging:
        ...     with open(staging.path(out), "w") as f:
        ...         _ = f.write("hello")
        >>> open(out).read()
        'hello'
    """

    def __init__(self):
        self._staged: list[tuple[str, str]] = []

    def path(self, final_path, *, directory=False) -> str:
        """A fresh temporary path beside ``final_path`` (a folder is created if ``directory``)."""
        final_path = os.path.abspath(os.fspath(final_path))
        parent, name = os.path.split(final_path)
        os.makedirs(parent, exist_ok=True)
        if directory:
            tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
        else:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.tmp-", dir=parent)
            os.close(fd)
        self._staged.append((tmp, final_path))
        return tmp

    def commit(self):
        """Renames every staged path to its final name."""
        umask = os.umask(0)
        os.umask(umask)
        for tmp, final in self._staged:
            # mkstemp/mkdtemp create owner-only entries; give the usual permissions.
            os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~umask)
            replace_path(tmp, final)
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


def write_bytes(path, data: bytes):
    """Writes ``data`` to ``path`` atomically."""
    with Staging() as staging:
        with open(staging.path(path), "wb") as f:
            f.write(data)


def write_text(path, text: str):
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))
