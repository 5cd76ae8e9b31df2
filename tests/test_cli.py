"""Command line: ``python -m keras_convnets {list,summary,table}``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from keras_convnets.__main__ import main
from keras_convnets.models import registry, resnet  # noqa: F401  (registers the ResNets)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "keras_convnets", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_summary_resnet50_prints_table_and_paper_figure():
    # As a user runs it: a fresh process.
    result = run_cli("summary", "resnet50")
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "He et al. 2015" in out
    for block in ("conv1", "conv2_block1", "conv5_block3", "predictions", "total"):
        assert block in out
    assert "parameters: 25,636,712 (trainable 25,583,592)" in out
    assert "multiply-adds (main path): 3,857,973,248 = 3.858 x10^9" in out
    assert "paper: 3.8 x10^9 multiply-adds (+1.5%)" in out
    assert "other ops" in out


def test_summary_per_layer_and_input_shape(capsys):
    assert main(["summary", "resnet20", "--per_layer", "--input_shape", "64,64,3"]) == 0
    out = capsys.readouterr().out
    assert "conv2_block1_1_conv" in out and "64x64x16" in out
    assert "parameters: 271,098 (trainable 269,722)" in out
    assert "paper: 0.27 M parameters" in out


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in registry.list_models():
        assert name in out
    assert "25,636,712" in out
    assert main(["list", "plain*"]) == 0
    out = capsys.readouterr().out
    assert "plain20" in out and "resnet20" not in out
    assert main(["list", "resnet5*", "--markdown"]) == 0
    assert "| `resnet50` |" in capsys.readouterr().out


def test_table_pattern(capsys):
    assert main(["table", "resnet2*"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("resnet")]
    assert len(lines) == 1 and lines[0].startswith("resnet20")
    assert "271,098" in lines[0] and "0.27M" in lines[0] and "0.041" in lines[0]


def test_unknown_model_exits_2_with_the_names(capsys):
    assert main(["summary", "resnet7"]) == 2
    err = capsys.readouterr().err
    assert "'resnet7'" in err
    for name in registry.list_models():
        assert name in err


def test_unknown_model_exit_code_of_the_process():
    result = run_cli("summary", "nosuchnet")
    assert result.returncode == 2
    assert "nosuchnet" in result.stderr and "resnet50" in result.stderr


def test_bad_input_shape_text(capsys):
    assert main(["summary", "resnet20", "--input_shape", "a,b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --input_shape") and "'a,b'" in err


# --- One command line: keras-convnets train|evaluate|export|demo|list|summary|table|convert ---
def _keras_convnets(*args):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "keras_convnets", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "command, flag", [("train", "--recipe"), ("evaluate", "--run"), ("export", "--quantize")]
)
def test_forwarded_commands_show_their_own_flags(command, flag):
    proc = _keras_convnets(command, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert flag in proc.stdout and "keras-convnets COMMAND" not in proc.stdout
    # Plain text: the installed command, its line breaks kept, no reStructuredText markup.
    usage = proc.stdout.split("flags:")[0]
    assert f"    keras-convnets {command} --" in usage, usage
    assert " \\\n        --" in usage, usage  # a continued example keeps its line break
    assert "``" not in usage and "::" not in usage and ":func:" not in usage, usage


def test_forwarded_command_errors_are_one_sentence():
    proc = _keras_convnets("export", "--model=resnt20")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "resnt20" in proc.stderr


def test_only_the_package_is_installed():
    import configparser
    import os

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(os.path.dirname(os.path.dirname(__file__)), "setup.cfg"))
    assert cfg["options.packages.find"]["include"].strip() == "keras_convnets*"
    assert "keras_convnets.__main__:main" in cfg["options.entry_points"]["console_scripts"]


_FINISHED_COMMAND = """
import sys
from absl import flags
from keras_convnets._cli import cli_errors, run_absl
@cli_errors
def main(argv):
    import keras, tensorflow as tf  # a teardown that takes about a second
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])(tf.zeros((1, 4)))
    print("done", flush=True)
run_absl(main, sys.modules[__name__])
"""


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_ctrl_c_after_a_command_finished_keeps_its_exit_status(delay):
    # Python restores SIGINT's default early in its shutdown; without the CLI's guard a Ctrl-C
    # during TensorFlow's teardown ended a finished export with exit -2 (CI, fault scenario).
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-c", _FINISHED_COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in proc.stdout:
        if "done" in line:
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in err, (proc.returncode, err[-500:])


@pytest.mark.parametrize("command", [["-m", "recipes.train"], ["-m", "keras_convnets", "list"]])
def test_ctrl_c_while_a_command_starts_is_one_sentence(command):
    # `import keras_convnets` imports TensorFlow (seconds) before any main() runs.
    import signal
    import time

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(
        [sys.executable, *command, "--help"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(0.7)
    assert proc.poll() is None, "the command started faster than the test can interrupt it"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err[-800:])
    assert err.strip().splitlines()[-1].startswith("error: interrupted (Ctrl-C)"), err[-300:]


def test_ctrl_c_while_a_script_imports_the_package_is_pythons_own():
    from keras_convnets import _interrupt

    assert not _interrupt.is_command_line()  # pytest: a program of its own
    with pytest.raises(KeyboardInterrupt):
        with _interrupt.quiet_while_starting():
            raise KeyboardInterrupt


_CONVERTER_SWALLOWS_CTRL_C = """
import os, signal, sys
from keras_convnets._cli import cli_errors, run_absl
@cli_errors
def main(argv):
    try:  # native code that turns the KeyboardInterrupt into an error of its own
        os.kill(os.getpid(), signal.SIGINT)
        import time; time.sleep(5)
    except KeyboardInterrupt:
        raise RuntimeError("ConverterError: <frozen runpy>(198): _run_module_as_main")
run_absl(main, sys.modules[__name__])
"""


def _interrupted_program(script):
    """Runs ``script`` as a command line (SIGINT as a terminal leaves it); checks that it
    ended as an interruption: exit 130, the one sentence last, no traceback."""
    import signal

    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr[-800:]
    assert proc.stderr.strip().splitlines()[-1].startswith("error: interrupted (Ctrl-C)")
    return proc


def test_an_error_caused_by_ctrl_c_is_reported_as_the_interruption():
    _interrupted_program(_CONVERTER_SWALLOWS_CTRL_C)


_NOISY_TEARDOWN = """
import atexit, logging, sys
from keras_convnets._cli import cli_errors, run_absl
@cli_errors
def main(argv):
    # What an interrupted checkpoint restore does when it is collected at exit.
    atexit.register(lambda: logging.getLogger("tensorflow").warning("Value in checkpoint ..."))
    raise ValueError("`--output` cannot be written.")
run_absl(main, sys.modules[__name__])
"""


def test_the_error_sentence_stays_the_last_line_after_teardown():
    proc = subprocess.run(
        [sys.executable, "-c", _NOISY_TEARDOWN], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-800:]  # a bad value
    assert proc.stderr.strip().splitlines()[-1] == "error: `--output` cannot be written."
    assert "Value in checkpoint" not in proc.stderr


_HALF_DONE_RESTORE = """
import logging, os, signal, sys, time
from keras_convnets._cli import cli_errors, run_absl
class Status:  # like TensorFlow's load status: it logs what was not restored when collected
    def __del__(self):
        logging.getLogger("tensorflow").warning("Value in checkpoint could not be found")
@cli_errors
def main(argv):
    status = Status()
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
run_absl(main, sys.modules[__name__])
"""


def test_ctrl_c_sentence_is_not_followed_by_what_half_done_work_logs():
    proc = _interrupted_program(_HALF_DONE_RESTORE)
    assert "Value in checkpoint" not in proc.stderr


# --- TensorFlow's native log lines stay off the terminal of every command line ---
def _quiet_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "KERAS_CONVNETS"))}
    env.update(PYTHONPATH=ROOT, XDG_CACHE_HOME=str(tmp_path / "cache"), **extra)
    return env


def _command_lines():
    yield [sys.executable, "-m", "keras_convnets"]
    script = os.path.join(os.path.dirname(sys.executable), "keras-convnets")
    if os.path.exists(script):  # the installed console script (make venv installs it)
        yield [script]


@pytest.mark.parametrize("prefix", list(_command_lines()), ids=lambda p: os.path.basename(p[-1]))
def test_native_tensorflow_logs_go_to_a_file_not_the_terminal(tmp_path, prefix):
    # `summary` builds a model: TensorFlow starts a device (cuInit, cudart_stub lines on CPU).
    proc = subprocess.run(
        [*prefix, "summary", "resnet20"],
        cwd=tmp_path,
        env=_quiet_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""
    assert "paper: 0.27 M parameters" in proc.stdout
    assert (tmp_path / "cache" / "keras_convnets" / "tensorflow.log").exists()


def test_native_logs_to_a_chosen_file_and_errors_still_on_the_terminal(tmp_path):
    log = tmp_path / "tf.log"
    proc = subprocess.run(
        [sys.executable, "-m", "recipes.train", "--model=resnt20"],
        cwd=ROOT,
        env=_quiet_env(tmp_path, KERAS_CONVNETS_TF_LOG=str(log)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: Unknown model 'resnt20'"), proc.stderr[-2000:]
    assert log.exists() and not (tmp_path / "cache" / "keras_convnets").exists()


def test_which_processes_are_command_lines():
    from keras_convnets import _logs

    assert _logs.is_command_line("/venv/bin/keras-convnets")
    assert _logs.is_command_line("-m")  # python -m keras_convnets, while the package imports
    assert _logs.is_command_line(os.path.join(ROOT, "recipes", "train.py"))
    assert not _logs.is_command_line("/home/me/train_mine.py")
    assert not _logs.is_command_line("-c")
    assert not _logs.is_command_line("")


def test_every_command_gives_the_same_exit_status_for_the_same_mistake(tmp_path):
    """README "Exit status": 2 for a bad value or flag (nothing done), the same everywhere."""
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(photo)
    out = str(tmp_path / "out")
    bad_model = {
        "train": ["train", "--model=resnet_9000", "--dataset=fashion_mnist", f"--model_dir={out}"],
        "evaluate": ["evaluate", "--model=resnet_9000", "--dataset=fashion_mnist"],
        "export": ["export", "--model=resnet_9000", f"--output={out}.tflite"],
        "predict": ["predict", "--model=resnet_9000", str(photo)],
        "summary": ["summary", "resnet_9000"],
    }
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for args in bad_model.values():
        for argv in (args, [*args, "--no_such_flag=1"]):
            proc = subprocess.run(
                [sys.executable, "-m", "keras_convnets", *argv],
                cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
            )  # fmt: skip
            said = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
            assert proc.returncode == 2, (argv, proc.returncode, proc.stderr[-1500:])
            assert "Traceback" not in proc.stderr, (argv, proc.stderr[-1500:])
            wanted = "resnet_9000" if "--no_such_flag=1" not in argv else "no_such_flag"
            assert wanted in proc.stderr, (argv, said)
    assert not os.path.exists(out)  # nothing was written by any of them
