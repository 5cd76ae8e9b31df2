"""The error layer every command-line entry point shares: one sentence, no traceback.

:func:`cli_errors` wraps a ``main`` function. The exceptions a user can cause
(bad flags or files: ``ValueError``, ``TypeError``, ``OSError``; a full disk;
an unreadable input TensorFlow reports; Ctrl-C) become ``error: <sentence>`` on
stderr and a non-zero exit status. Anything else is a bug and keeps its
traceback.

:func:`check_output_dir` and :func:`check_output_file` refuse, before any
work, an output path that is an existing entry of the wrong kind or cannot be
written (read-only file system, ``/proc``), without creating anything.

Example:
    >>> @cli_errors
    ... def main():
    ...     raise ValueError("`--lr` must be > 0. Received: lr=-0.1")
    >>> main()  # doctest: +SKIP
    error: `--lr` must be > 0. Received: lr=-0.1
    2
"""

from __future__ import annotations

import errno
import functools
import gc
import logging
import os
import re
import sys
import tempfile

# Exit status, the same for every command (README "Exit status"):
EXIT_ERROR = 1  # the work failed: a download, a file, NaN/inf weights, a lost worker
EXIT_USAGE = 2  # a bad flag or value (ValueError, TypeError, unknown flag): nothing was done
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT


def exit_code(err: BaseException) -> int:
    """The exit status for ``err``: 2 for a bad value or usage, 130 for Ctrl-C, else 1.

    Example:
        >>> exit_code(ValueError("`lr` must be > 0")), exit_code(OSError()), exit_code(
        ...     KeyboardInterrupt())
        (2, 1, 130)
    """
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(err, (ValueError, TypeError)):
        return EXIT_USAGE
    return EXIT_ERROR


def one_sentence(err: BaseException) -> str:
    """The message of ``err`` on one line, saying what happened in the user's terms."""
    if isinstance(err, KeyboardInterrupt):
        return (
            "interrupted (Ctrl-C); outputs are written atomically, so the previous ones are "
            "intact and a training run resumes from its last checkpoint."
        )
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" while writing {err.filename!r}" if err.filename else ""
        return f"no space left on device{where}; the previous outputs are intact."
    if _is_tf_error(err, "ResourceExhaustedError"):
        text = str(getattr(err, "message", err))
        if "No space left on device" in text:
            what = " while saving a checkpoint" if "Save" in text else ""
            return f"no space left on device{what}; the previous outputs are intact."
        return "resource exhausted (out of memory?): " + _first_line(text)[:200]
    if isinstance(err, OSError) and err.strerror:
        where = f": {os.fspath(err.filename)!r}" if err.filename else ""
        return f"{err.strerror}{where}."
    if _is_tf_error(err, "OpError"):
        return f"{type(err).__name__}: " + _first_line(getattr(err, "message", str(err)))
    extra = missing_extra(err)
    if extra:
        return extra
    return _first_line(str(err)) or type(err).__name__


# Optional dependencies: import name or distribution name -> (distribution, extra of setup.cfg).
OPTIONAL = {
    "ai_edge_quantizer": ("ai-edge-quantizer", "export"),
    "ai_edge_litert": ("ai-edge-litert", "export"),
    "tf_keras": ("tf_keras", "export"),
    "tensorflow_model_optimization": ("tensorflow-model-optimization", "export"),
    "flatbuffers": ("flatbuffers", "export"),
    "tensorflow_datasets": ("tensorflow-datasets", "train"),
    "matplotlib": ("matplotlib", "train"),
    "mediapipe": ("mediapipe", "mediapipe"),
}
OPTIONAL.update({dist: (dist, extra) for dist, extra in list(OPTIONAL.values())})


def missing_extra(err: BaseException) -> str | None:
    """The sentence for a missing optional dependency, or None if ``err`` is not one.

    Example:
        >>> err = ModuleNotFoundError("No module named 'mediapipe'", name="mediapipe")
        >>> missing_extra(err).split("; ")[1]
        'it comes with the mediapipe extra: pip install "keras_convnets[mediapipe]"'
    """
    from importlib import metadata

    if isinstance(err, ModuleNotFoundError) and err.name:
        key = err.name.split(".")[0]
    elif isinstance(err, metadata.PackageNotFoundError) and err.args:
        key = str(err.args[0])
    else:
        return None
    if key not in OPTIONAL:
        return None
    dist, extra = OPTIONAL[key]
    return (
        f"{dist} is not installed; it comes with the {extra} extra: "
        f'pip install "keras_convnets[{extra}]"'
    )


def _first_line(text: str) -> str:
    # TensorFlow appends the graph location on further lines; the first says what.
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _is_tf_error(err, name) -> bool:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return False
    cls = getattr(tf.errors, name, None)
    return cls is not None and isinstance(err, cls)


def _known(err) -> bool:
    if isinstance(err, (ValueError, TypeError, OSError, KeyboardInterrupt)):
        return True
    return _is_tf_error(err, "OpError") or missing_extra(err) is not None


_SIGNALS = {"interrupted": False}  # set by the handler that run_absl installs


def cli_errors(main):
    """Decorates ``main``: known errors become one sentence on stderr and :func:`exit_code`.

    After a Ctrl-C any exception is the interruption's: native code (the TFLite
    converter, a tf.data pipeline) may turn the ``KeyboardInterrupt`` into an
    error of its own, which must not read as a bug or a failed conversion.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except BaseException as err:
            interrupted = isinstance(err, KeyboardInterrupt) or (
                _SIGNALS["interrupted"] and not isinstance(err, SystemExit)
            )
            if not interrupted and not _known(err):
                raise
            sentence = one_sentence(KeyboardInterrupt() if interrupted else err)
            code = EXIT_INTERRUPTED if interrupted else exit_code(err)
            if interrupted:  # what half-done work logs as it is collected is noise
                logging.disable(logging.WARNING)
        # The exception's frames, and what they held, are collected before the sentence, so
        # that anything they log (TensorFlow's warnings of an unfinished restore) comes first.
        gc.collect()
        print(f"error: {sentence}", file=sys.stderr, flush=True)
        return code

    return wrapper


def _note_interrupts() -> None:
    """Python's Ctrl-C handler, which also records that the command was interrupted."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # ignored or someone else's: left alone

    def handler(signum, frame):
        _SIGNALS["interrupted"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


def _existing_ancestor(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _probe_writable(directory: str, flag: str, value) -> None:
    # os.access() says yes to root on a read-only mount or /proc; a real probe does not.
    try:
        probe = tempfile.mkdtemp(prefix=".write-probe-", dir=directory)
    except OSError as err:
        raise ValueError(
            f"`{flag}` {os.fspath(value)!r} cannot be written: {err.strerror} in {directory!r}."
        ) from None
    os.rmdir(probe)


def check_output_dir(path, flag="model_dir") -> str:
    """Checks that ``path`` is, or can be created as, a writable folder; creates nothing."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"`{flag}` must be a folder path. Received: {flag}={path!r}")
    path = os.fspath(path)
    ancestor = _existing_ancestor(path)
    if not os.path.isdir(ancestor):
        what = "is an existing file" if ancestor == os.path.abspath(path) else "is under a file"
        raise ValueError(
            f"`{flag}` {path!r} {what} ({ancestor!r}); pass a folder. Received: {flag}={path!r}"
        )
    _probe_writable(ancestor, flag, path)
    return path


def check_output_file(path, flag="output") -> str:
    """Checks that ``path`` can be written as a file (its folder exists or can be created)."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"`{flag}` must be a file path. Received: {flag}={path!r}")
    path = os.fspath(path)
    check_output_dir(os.path.dirname(os.path.abspath(path)), flag)
    return path


def plain_help(doc: str | None) -> str | None:
    """A docstring as ``--help`` shows it: plain text, not reStructuredText.

    A paragraph's closing ``::`` becomes ``:``; inline code and Sphinx roles
    lose their markup; line breaks and indentation stay as written.

    Example:
        >>> print(plain_help("Run it::\\n\\n    cmd ``--x`` (:func:`f.g`)"))
        Run it:
        <BLANKLINE>
            cmd --x (f.g)
    """
    if doc is None:
        return None
    doc = re.sub(r"::$", ":", doc, flags=re.M)
    doc = re.sub(r":(?:func|class|mod|meth|data|attr):`~?([^`]+)`", r"\1", doc)
    return re.sub(r"``([^`]+)``", r"\1", doc)


def run_absl(main, module, argv=None):
    """Runs an absl command line whose flags ``module`` defines, as its own program.

    absl's ``--help`` shows the docstring and key flags of the program
    (``sys.argv[0]``); they are made ``module``'s, also when a shim
    (``python -m recipes.train``) or ``keras-convnets train`` runs it. absl exits
    1 after printing help; asking for help is not a failure, so that exits 0.
    ``argv``: the whole command, program name first (default ``sys.argv``).
    """
    from absl import app, flags

    sys.modules["__main__"].__doc__ = plain_help(module.__doc__)
    for flag in flags.FLAGS.get_key_flags_for_module(module.__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    _note_interrupts()
    try:
        app.run(main, argv=argv, flags_parser=_parse_flags)
    except SystemExit as done:
        asked = {"--help", "-h", "-?", "--helpfull", "--helpshort"}
        if done.code == 1 and asked & set((sys.argv if argv is None else argv)[1:]):
            raise SystemExit(0) from None
        raise
    finally:
        _quiet_teardown()


def _parse_flags(argv):
    """absl's flag parsing, with a bad or unknown flag exiting :data:`EXIT_USAGE`, not 1."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"Pass --help to see the flags of {os.path.basename(argv[0])}.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _quiet_teardown() -> None:
    """The command is over (outputs committed or its error said); only teardown is left.

    * Python gives SIGINT back its default action early in its shutdown, and
      TensorFlow's teardown then takes about a second: a Ctrl-C in that window
      killed a finished export with no word (exit -2). SIGINT is ignored now,
      so the process ends with the status its command chose.
    * Objects collected at exit still log: an interrupted export's half-done
      checkpoint restore printed dozens of "Value in checkpoint could not be
      found" warnings after the command's ``error:`` sentence. Python logging
      is off from here on, so that sentence stays the last line.
    """
    import logging
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stderr.flush()
    logging.disable(logging.CRITICAL)
