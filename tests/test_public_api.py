"""The public API does not change by accident: ``keras_convnets.__all__`` and the signature
of every public callable are compared with ``tests/golden/public_api.json``.

The snapshot was taken before the package was reorganised by concern, so the move is
checked to keep every public name and signature. A deliberate API change regenerates it:
``python tests/test_public_api.py --update`` (and says so in the commit).
"""

from __future__ import annotations

import inspect
import json
import os
import sys

import pytest

pytestmark = pytest.mark.quick

SNAPSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "public_api.json")


def current_api() -> dict:
    import keras_convnets

    signatures = {}
    for name in sorted(keras_convnets.__all__):
        obj = getattr(keras_convnets, name)
        if inspect.ismodule(obj):
            signatures[name] = "module"
        elif callable(obj):
            try:
                signatures[name] = str(inspect.signature(obj))
            except (TypeError, ValueError):
                signatures[name] = "callable"
        else:
            signatures[name] = type(obj).__name__
    return {"__all__": sorted(keras_convnets.__all__), "signatures": signatures}


def test_all_names_are_importable():
    import keras_convnets

    missing = [name for name in keras_convnets.__all__ if not hasattr(keras_convnets, name)]
    assert missing == []


def test_public_api_matches_the_snapshot():
    with open(SNAPSHOT) as f:
        expected = json.load(f)
    actual = current_api()
    assert actual["__all__"] == expected["__all__"], "names added or removed from __all__"
    changed = {
        name: (expected["signatures"][name], sig)
        for name, sig in actual["signatures"].items()
        if expected["signatures"].get(name) != sig
    }
    assert changed == {}, f"signatures changed (snapshot, now): {changed}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_public_api.py --update")
    os.makedirs(os.path.dirname(SNAPSHOT), exist_ok=True)
    with open(SNAPSHOT, "w") as f:
        json.dump(current_api(), f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {SNAPSHOT}")
