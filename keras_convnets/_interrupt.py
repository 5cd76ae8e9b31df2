"""Ctrl-C while a command line starts: one sentence, exit 130, no traceback.

``import keras_convnets`` imports Keras and TensorFlow, which takes seconds,
before any command's ``main`` (and its :func:`keras_convnets._cli.cli_errors`)
runs. :func:`quiet_while_starting` wraps those imports: when the program is one
of the package's command lines, a ``KeyboardInterrupt`` there ends it as
``cli_errors`` would; a script or notebook that imports the package keeps
Python's own behaviour. Standard library only: it runs before TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import sys

# ``python -m`` module names and installed scripts that are the package's command lines.
COMMAND_MODULES = frozenset(
    {
        "keras_convnets",
        "keras_convnets.__main__",
        "keras_convnets.cli.train",
        "keras_convnets.cli.evaluate",
        "keras_convnets.cli.export",
        "keras_convnets.quickstart",
        "recipes.train",
        "recipes.evaluate",
        "export",
        "export.__main__",
    }
)
COMMAND_SCRIPTS = frozenset({"keras-convnets"})
EXIT_INTERRUPTED = 130


def is_command_line() -> bool:
    """Whether the running program is one of the package's command lines."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name in COMMAND_MODULES:
        return True
    # ``python -m keras_convnets`` imports the package before its __main__ exists.
    argv = list(getattr(sys, "orig_argv", ()))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] in COMMAND_MODULES:
        return True
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return script in COMMAND_SCRIPTS


@contextlib.contextmanager
def quiet_while_starting():
    """Turns a Ctrl-C inside the block into ``error: ...`` and exit 130 for a command line."""
    try:
        yield
    except KeyboardInterrupt:
        if not is_command_line():
            raise
        print("error: interrupted (Ctrl-C) while starting; nothing was written.", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Half-imported modules (TensorFlow's) are in no state to be torn down: their exit
        # handlers may fail and print tracebacks. Nothing was written yet, so end at once.
        os._exit(EXIT_INTERRUPTED)
