"""The README as a newcomer reads it: its model table and its code examples."""

from __future__ import annotations

import pathlib
import re

import keras_convnets
from keras_convnets.models import registry

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_model_table_is_generated_from_the_registry():
    text = README.read_text()
    match = re.search(r"<!-- model-table:start -->\n(.*?)\n<!-- model-table:end -->", text, re.S)
    assert match, "README lost its model-table markers"
    assert match.group(1).strip() == registry.markdown_table().strip(), (
        "README model table is stale: regenerate it with `python -m keras_convnets list --markdown`"
    )


def test_every_registered_model_is_in_the_readme_table():
    text = README.read_text()
    for name in keras_convnets.list_models():
        assert f"| `{name}` |" in text


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files (phone/...) where they run
    blocks = _python_blocks(README.read_text())
    assert len(blocks) >= 2
    namespace: dict = {}  # one session, as a reader pasting the blocks in order
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README is ours
