"""CI's deadline (conftest.py DEADLINE_ENV): a test not started in time is skipped, saying so."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.quick

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE = "tests/test_cost.py"


def _run(deadline):
    env = dict(os.environ, KERAS_CONVNETS_TEST_DEADLINE=deadline, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", CASE]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_passed_deadline_skips_every_test_with_the_reason():
    proc = _run("1")  # 1970: long past
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed" not in proc.stdout.splitlines()[-1], proc.stdout
    assert "CI-SKIPPED: not started, CI's time was up" in proc.stdout


def test_a_future_deadline_runs_the_tests():
    proc = _run("99999999999")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed" in proc.stdout.splitlines()[-1] and "skipped" not in proc.stdout, proc.stdout


def test_a_deadline_that_is_not_a_time_is_refused():
    proc = _run("soon")
    assert proc.returncode != 0
    assert "KERAS_CONVNETS_TEST_DEADLINE='soon' is not a time" in proc.stdout + proc.stderr
