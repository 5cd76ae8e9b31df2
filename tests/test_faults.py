"""Faults survived, with real processes: kills at seeded random points, full disk, read-only.

Each scenario (``tests/fault_cases.py``) must end ``intact``: the previous good
state, or the new one complete, on disk; no temporary file left; one sentence
and no traceback from the process. Slow: each starts several TensorFlow
processes. A scenario needing ``mount`` is skipped, with the reason, where it is
not permitted.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import fault_cases  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name", list(fault_cases.SCENARIOS))
def test_fault_is_survived(name, tmp_path):
    verdict, message = fault_cases.SCENARIOS[name](str(tmp_path))
    if verdict == "skipped":
        pytest.skip(message)
    assert verdict == "intact", f"{name}: {verdict}: {message}"
