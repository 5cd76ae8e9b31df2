"""The package's architecture, read from its import statements (every ``import``, also
those inside functions): no module imports itself back through others, and the lower
layers (the networks, the data) never import the higher ones (analysis, training,
deployment, command lines).
"""

from __future__ import annotations

import ast
import os

import pytest

pytestmark = pytest.mark.quick

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "keras_convnets")
# A module may import its own layer and the layers below it.
LAYERS = {
    "keras_convnets._logs": 0,
    "keras_convnets._interrupt": 0,
    "keras_convnets._cli": 0,
    "keras_convnets.atomic": 0,
    "keras_convnets.models": 1,
    "keras_convnets.data": 2,
    "keras_convnets.analysis": 3,
    # The run contract: what a run directory holds and how it is read, below the training that
    # writes it and the export and evaluation that read it.
    "keras_convnets.runs": 3,
    "keras_convnets.training": 4,
    "keras_convnets.deploy": 4,
    "keras_convnets.quickstart": 5,
    "keras_convnets.predict": 5,
    "keras_convnets.run_evaluation": 5,
    "keras_convnets.cli": 5,
    "keras_convnets.__main__": 5,
}


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(ROOT))[: -len(".py")].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _modules():
    out = {}
    for dirpath, _, files in os.walk(ROOT):
        for fn in files:
            if fn.endswith(".py"):
                path = os.path.join(dirpath, fn)
                out[_module_name(path)] = path
    return out


def _imports(path, name, known):
    """keras_convnets modules that ``name`` imports (``from pkg import mod`` counts as mod)."""
    tree = ast.parse(open(path).read())
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known and m != name}


def _graph():
    known = _modules()
    return {name: _imports(path, name, known) for name, path in known.items()}


def _layer(module):
    best = max(
        (p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None
    )
    return None if best is None else LAYERS[best]


def test_every_module_has_a_layer():
    assert [m for m in _graph() if m != "keras_convnets" and _layer(m) is None] == []


def test_lower_layers_never_import_higher_ones():
    bad = [
        f"{m} -> {d}"
        for m, deps in _graph().items()
        if m != "keras_convnets"
        for d in deps
        if d != "keras_convnets" and _layer(d) > _layer(m)
    ]
    assert bad == []


def _find_cycles(graph):
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_import_graph_has_no_cycles():
    graph = {m: {d for d in deps if d != "keras_convnets"} for m, deps in _graph().items()}
    # A module importing its own package's __init__ (re-exports) is not a cycle of the design.
    for m in graph:
        graph[m] = {d for d in graph[m] if not m.startswith(d + ".")}
    assert _find_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]


def test_the_checker_sees_a_violation(tmp_path):
    """The scan is not vacuous: a fake models module importing training is caught."""
    fake = tmp_path / "bad.py"
    fake.write_text("from keras_convnets.training import loop\n")
    known = set(_modules()) | {"keras_convnets.models.bad"}
    deps = _imports(str(fake), "keras_convnets.models.bad", known)
    assert "keras_convnets.training.loop" in deps
    assert _layer("keras_convnets.training.loop") > _layer("keras_convnets.models.bad")


def _long_functions(limit=80):
    """Functions of the package longer than ``limit`` lines of code (docstring excluded)."""
    found = []
    for name, path in sorted(_modules().items()):
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                first = body[0]
                is_doc = isinstance(first, ast.Expr) and isinstance(
                    getattr(first, "value", None), ast.Constant
                )
                start = (
                    (body[1].lineno if len(body) > 1 else first.end_lineno)
                    if is_doc
                    else (first.lineno)
                )
                length = node.end_lineno - start + 1
                if length > limit:
                    found.append(f"{name}.{node.name}: {length} lines")
    return found


def test_no_library_function_longer_than_80_lines():
    assert _long_functions() == []


def test_the_length_check_sees_a_long_function():
    assert _long_functions(limit=10) != []
