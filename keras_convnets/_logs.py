"""Keeping TensorFlow's native log lines out of a command's own output.

TensorFlow, XLA and the TFLite converter log from C++ straight to file
descriptor 2 (``I0000 ... port.cc ...`` at import, ``loader.cc``,
``flatbuffer_export.cc`` during conversion); ``TF_CPP_MIN_LOG_LEVEL`` does not
silence the start-up lines. A command-line tool that wants its user to read its
own lines sends descriptor 2 to a log file and keeps Python's ``sys.stderr``
(warnings, error sentences) on the terminal.

The environment variable ``KERAS_CONVNETS_TF_LOG=PATH`` does that from the
first line of ``import keras_convnets`` on, before TensorFlow starts (``make
demo`` sets it); :func:`send_native_logs_to` does it from the call on.
Standard library only: this module runs before TensorFlow is imported.
"""

from __future__ import annotations

import os
import sys

ENV_VAR = "KERAS_CONVNETS_TF_LOG"
_state: dict = {}  # "path", "terminal_fd" while redirected


def send_native_logs_to(path: str) -> str:
    """Redirects descriptor 2 to ``path`` (appended); Python's stderr stays on the terminal.

    Returns ``path``. Lasts until :func:`restore_native_logs` or the end of the
    process; a second call while redirected keeps the first file.

    Example:
        >>> import os, tempfile
        >>> log = send_native_logs_to(os.path.join(tempfile.mkdtemp(), "tf.log"))  # doctest: +SKIP
    """
    if "path" in _state:
        return _state["path"]
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    _state.update(path=path, terminal_fd=terminal, python_stderr=sys.stderr)
    sys.stderr = os.fdopen(os.dup(terminal), "w", buffering=1, encoding="utf-8", errors="replace")
    return path


def native_log_path() -> str | None:
    """The file descriptor 2 goes to, or None when it is not redirected."""
    return _state.get("path")


def restore_native_logs() -> None:
    """Sends descriptor 2 back to where it went before :func:`send_native_logs_to`."""
    if "path" not in _state:
        return
    sys.stderr.flush()
    os.dup2(_state["terminal_fd"], 2)
    os.close(_state["terminal_fd"])
    sys.stderr = _state["python_stderr"]
    _state.clear()


def from_environment() -> str | None:
    """Applies ``KERAS_CONVNETS_TF_LOG`` if it is set; returns the log path or None."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return None
    try:
        return send_native_logs_to(path)
    except OSError as err:  # an unusable path must not break the import
        print(f"warning: {ENV_VAR}={path!r} is not usable ({err}); logs stay here", file=sys.stderr)
        return None
