"""Keeping TensorFlow's native log lines out of a command's own output.

TensorFlow, XLA and the TFLite converter log from C++ straight to file
descriptor 2 (``I0000 ... port.cc ...`` at import, ``loader.cc``,
``flatbuffer_export.cc`` during conversion); ``TF_CPP_MIN_LOG_LEVEL`` does not
silence the start-up lines. A command-line tool that wants its user to read its
own lines sends descriptor 2 to a log file and keeps Python's ``sys.stderr``
(warnings, error sentences) on the terminal.

The command lines (``keras-convnets ...``, ``python -m keras_convnets``,
``python -m recipes.train``) do that by default, into
``~/.cache/keras_convnets/tensorflow.log``, from the first line of ``import
keras_convnets`` on, before TensorFlow starts. The environment variable
``KERAS_CONVNETS_TF_LOG=PATH`` chooses the file (in any process; ``make demo``
sets it), ``KERAS_CONVNETS_TF_LOG=-`` keeps the lines on the terminal;
:func:`send_native_logs_to` redirects from the call on.
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


SHOW = ("-", "stderr", "show")  # KERAS_CONVNETS_TF_LOG values that keep the lines on the terminal
MAX_LOG_BYTES = 10 * 2**20  # the default log starts afresh beyond this
# The scripts a checkout runs (``python -m recipes.train``, ``python -m export``).
_CHECKOUT_SCRIPTS = ("recipes/train.py", "recipes/evaluate.py", "export/__main__.py")


def is_command_line(argv0: str | None = None) -> bool:
    """True in this package's command lines: ``keras-convnets``, ``python -m keras_convnets``,
    ``python -m recipes.train|recipes.evaluate|export``; False in scripts and notebooks.

    Example:
        >>> is_command_line("/venv/bin/keras-convnets"), is_command_line("train_mine.py")
        (True, False)
    """
    if argv0 is None:
        argv0 = sys.argv[0] if sys.argv else ""
    if argv0 == "-m":  # runpy is importing the package of ``python -m keras_convnets[.x]``
        return True
    name = os.path.basename(argv0)
    if name in ("keras-convnets", "keras-convnets.exe", "keras-convnets-script.py"):
        return True
    return argv0.replace(os.sep, "/").endswith(_CHECKOUT_SCRIPTS)


def default_log_path() -> str:
    """``$XDG_CACHE_HOME/keras_convnets/tensorflow.log`` (``~/.cache/...`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "keras_convnets", "tensorflow.log")


def from_environment() -> str | None:
    """Sends TensorFlow's native lines to a file where that is wanted; returns it or None.

    ``KERAS_CONVNETS_TF_LOG=PATH``: to ``PATH``, in any process. Unset: to
    :func:`default_log_path` in this package's command lines
    (:func:`is_command_line`), nowhere else. ``-`` (or ``stderr``): left on the
    terminal.
    """
    path = os.environ.get(ENV_VAR)
    if path is None and is_command_line():
        default = default_log_path()
        try:
            if os.path.getsize(default) > MAX_LOG_BYTES:
                os.remove(default)
        except OSError:
            pass
        try:
            return send_native_logs_to(default)
        except OSError:  # read-only home: the lines stay on the terminal
            return None
    if not path or path in SHOW:
        return None
    try:
        return send_native_logs_to(path)
    except OSError as err:  # an unusable path must not break the import
        print(f"warning: {ENV_VAR}={path!r} is not usable ({err}); logs stay here", file=sys.stderr)
        return None
