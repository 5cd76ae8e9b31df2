"""Writes golden_<model>.npz and tiny_state.pth (PyTorch venv; `make golden-torch`).

Into ``--out-dir`` (default ``tests/data/pretrained``, where the default
suite reads them); ``make test-torch`` writes them to a temporary folder
and checks that they equal the checked-in ones.

The torchvision model's state-dict keys and shapes, and its logits on
``golden_inputs()`` with the NumPy state dict of ``pretrained_golden`` loaded.
Also writes the tiny ``torch.save`` file the default suite reads
(``tiny_state.pth``: known values, a transposed view, float16, int64, 0-d).
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pretrained_golden as pg  # noqa: E402
from torch_reference import build  # noqa: E402


def golden(model: str, library: str, out_dir: str):
    net = build(library, model).eval()
    spec = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    state = pg.numpy_state_dict(spec)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = torch.from_numpy(pg.golden_inputs().transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        logits = net(x).numpy()
    pg.save_golden(model, spec, logits, out_dir)
    print(pg.golden_path(model, out_dir), logits.shape)


def tiny_state(out_dir: str):
    state = {
        "a": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "t": torch.arange(8, dtype=torch.float32).reshape(4, 2).t(),
        "h": torch.tensor([0.5, -2.0], dtype=torch.float16),
        "n": torch.tensor([7, -3], dtype=torch.int64),
        "s": torch.tensor(3.25),
        "bf": torch.tensor([1.5, -0.25], dtype=torch.bfloat16),
    }
    path = os.path.join(out_dir, "tiny_state.pth")
    torch.save(state, path)
    legacy = os.path.join(out_dir, "tiny_state_legacy.pth")  # the format before torch 1.6
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    print(path, legacy)


if __name__ == "__main__":
    out = sys.argv[sys.argv.index("--out-dir") + 1] if "--out-dir" in sys.argv else pg.GOLDEN_DIR
    os.makedirs(out, exist_ok=True)
    for model, library in pg.GOLDEN_MODELS.items():
        golden(model, library, out)
    tiny_state(out)
