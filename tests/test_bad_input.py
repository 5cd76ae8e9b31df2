"""Every bad input a clear error: cases generated from signatures and flag definitions.

The cases live in ``tests/bad_input_cases.py``; each must get the verdict
``clear`` (a ValueError/TypeError, or exit != 0 with ``error`` on stderr, that
names the argument or the value; no traceback; nothing on disk changed).
RELIABILITY.md is generated from the same cases (``python tests/reliability.py``)
and checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import bad_input_cases as cases_lib  # noqa: E402
import reliability  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PLACEHOLDER = {k: f"<{k}>" for k in cases_lib._SANDBOX_NAMES}
BUILDER_IDS = [c.id for c in cases_lib.builder_cases() + cases_lib.contradiction_cases()]
API_EXPECT = {c.id: c.expect for c in cases_lib.api_cases(_PLACEHOLDER)}
API_IDS = list(API_EXPECT)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    files = cases_lib.make_sandbox(root)
    files.update(root=str(root), work=str(root / "work"))
    return files


@pytest.fixture(scope="session")
def library_results(sandbox, tmp_path_factory):
    """``{case id: (verdict, message)}`` of every library case, computed once."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))  # a builder must not write beside the caller
    try:
        return reliability.library_results(sandbox)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("case_id", BUILDER_IDS)
def test_builder_argument_is_refused_clearly(case_id, library_results):
    verdict, message = library_results[case_id]
    assert verdict == "clear", f"{case_id}: {verdict}: {message}"


@pytest.mark.parametrize("case_id", API_IDS)
def test_function_input_is_refused_clearly(case_id, library_results):
    verdict, message = library_results[case_id]
    expected = "warning" if API_EXPECT[case_id] == "warning" else "clear"
    assert verdict == expected, f"{case_id}: {verdict}: {message}"


def test_every_builder_argument_has_bad_values():
    missing = [c.id for c in cases_lib.builder_cases() if c.call is None]
    assert not missing, f"add bad values to BAD_ARGS for: {missing}"


def test_a_new_argument_gets_cases_without_new_test_code():
    # _by_type covers an argument nobody wrote a rule for, from its default's type.
    assert cases_lib._by_type(True) and cases_lib._by_type(3) and cases_lib._by_type(0.5)
    assert cases_lib._by_type(object()) is None  # -> a "no-case" verdict, which fails


def test_the_verdicts_can_fail():
    accepted = cases_lib.Case("ok", "x", "classes", 10, call=lambda: None)
    assert cases_lib.library_verdict(accepted)[0] == "silent"
    vague = cases_lib.Case(
        "v", "x", "classes", 10, call=lambda: (_ for _ in ()).throw(ValueError("bad"))
    )
    assert cases_lib.library_verdict(vague)[0] == "unclear"
    raw = cases_lib.Case("r", "x", "classes", 10, call=lambda: {}["k"])
    assert cases_lib.library_verdict(raw)[0] == "traceback"
    case = cases_lib.Case("c", "cli", "lr", "-1", argv=("--lr=-1",))
    assert cases_lib.cli_verdict(case, 0, "", False)[0] == "silent"
    assert cases_lib.cli_verdict(case, 1, "Traceback (most recent call last):", False)[0] == (
        "traceback"
    )
    assert cases_lib.cli_verdict(case, 1, "error: `lr` must be > 0", True)[0] == "disk"
    assert cases_lib.cli_verdict(case, 1, "error: `lr` must be > 0", False)[0] == "clear"


def test_preprocess_input_leaves_the_callers_array_alone():
    import numpy as np

    import keras_convnets as kc

    x = np.full((1, 2, 2, 3), 200.0, np.float32)
    kc.preprocess_input(x, mode="caffe")
    assert float(x.min()) == 200.0


@pytest.mark.slow
@pytest.mark.parametrize("cli", cases_lib.CLIS)
def test_cli_flag_is_refused_clearly(cli, cli_results):
    bad = [(cid, v, m) for cid, area, v, m in cli_results[cli] if v != "clear"]
    assert len(cli_results[cli]) >= 4
    assert not bad, "\n".join(f"{cid}: {v}: {m}" for cid, v, m in bad)


@pytest.fixture(scope="session")
def cli_results(sandbox, tmp_path_factory):
    return reliability.cli_results(sandbox, str(tmp_path_factory.mktemp("cli")))


def test_reliability_md_library_sections_are_up_to_date(library_results, sandbox):
    text = open(os.path.join(ROOT, "RELIABILITY.md"), encoding="utf-8").read()
    for area, rows in reliability.group(library_results_with_areas(library_results)).items():
        section = reliability.render_section(area, rows, sandbox["root"])
        assert section in text, f"RELIABILITY.md is out of date for {area!r}: run {reliability.CMD}"


def library_results_with_areas(results):
    areas = {c.id: c.area for c in cases_lib.builder_cases() + cases_lib.contradiction_cases()}
    areas.update({c.id: c.area for c in cases_lib.api_cases(_PLACEHOLDER)})
    return [(cid, areas[cid], v, m) for cid, (v, m) in results.items()]


@pytest.mark.slow
def test_reliability_md_cli_sections_are_up_to_date(cli_results, sandbox):
    text = open(os.path.join(ROOT, "RELIABILITY.md"), encoding="utf-8").read()
    for cli, rows in cli_results.items():
        section = reliability.render_section(cli, rows, sandbox["root"])
        assert section in text, f"RELIABILITY.md is out of date for {cli!r}: run {reliability.CMD}"


def test_reliability_md_lists_every_fault_scenario():
    import fault_cases

    text = open(os.path.join(ROOT, "RELIABILITY.md"), encoding="utf-8").read()
    for name in fault_cases.SCENARIOS:
        assert f"| {name} |" in text, f"RELIABILITY.md lacks fault scenario {name!r}"


def test_cli_runner_reports_json(tmp_path):
    # The runner the slow tests use works end to end on the cheapest CLI.
    files = dict(_PLACEHOLDER, root=str(tmp_path), work=str(tmp_path / "work"))
    # The predict cases need one image that exists; every other sandbox file may be absent.
    files["one_class_dir"] = str(tmp_path / "photos")
    cases_lib._write_one_class_folder(files["one_class_dir"])
    json.dump(files, open(tmp_path / "s.json", "w"))
    out = tmp_path / "out.json"
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "bad_input_cases.py"), "cli",
         "keras_convnets", str(tmp_path / "s.json"), str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.load(open(out))
    assert {r[2] for r in rows} == {"clear"}, rows


def test_cli_error_layer_says_one_sentence(capsys):
    import errno

    from keras_convnets import _cli

    def failing(err):
        @_cli.cli_errors
        def main():
            raise err

        return main

    assert failing(ValueError("`lr` must be > 0.\nmore"))() == 2
    assert capsys.readouterr().err == "error: `lr` must be > 0.\n"
    assert failing(KeyboardInterrupt())() == 130
    assert capsys.readouterr().err.startswith("error: interrupted")
    full = OSError(errno.ENOSPC, "No space left on device", "/x/m.tflite")
    assert failing(full)() == 1
    assert "no space left on device while writing '/x/m.tflite'" in capsys.readouterr().err
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        failing(ZeroDivisionError("bug"))()


def test_output_checks_create_nothing(tmp_path):
    from keras_convnets import _cli

    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="`model_dir`.*existing file"):
        _cli.check_output_dir(str(a_file), "model_dir")
    with pytest.raises(ValueError, match="`output`.*cannot be written"):
        _cli.check_output_file("/proc/kc/x/m.tflite", "output")
    assert _cli.check_output_dir(str(tmp_path / "new" / "run")) == str(tmp_path / "new" / "run")
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_export_metadata_text_is_checked():
    import types

    from keras_convnets.deploy import exporter

    def request(**kw):
        fields = dict.fromkeys(exporter.METADATA_FIELDS)
        return types.SimpleNamespace(**{**fields, **kw})

    exporter._check_metadata(request(description="two\nlines", model_version=2, author="Ann"))
    for name, value in [("model_name", ""), ("author", " "), ("license", "MIT\nx"),
                        ("description", "a\0b"), ("model_version", 1.5)]:  # fmt: skip
        with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
            exporter._check_metadata(request(**{name: value}))
