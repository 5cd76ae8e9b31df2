"""History files written during and after training: CSV and PNG learning curves."""

from __future__ import annotations

import csv
import os

from keras_convnets import atomic


def write_csv_atomic(path, rows: list[dict]):
    """Writes the history rows (one per epoch) as CSV, atomically."""
    if not rows:
        return
    keys = list(rows[0])
    for row in rows[1:]:
        keys.extend(k for k in row if k not in keys)
    with atomic.writing(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def plot_curves(path, curves: dict, *, title="", ylabel="error (%)", xlabel="epoch"):
    """Saves a PNG of named curves ``{label: (xs, ys)}`` atomically.

    Draws on a standalone Agg figure: pyplot's backend and open figures are untouched.
    "train X" (dashed) and "test X" / "val X" (solid) share a colour.

    Example:
        >>> import tempfile, os
        >>> from keras_convnets.training import plots
        >>> p = os.path.join(tempfile.mkdtemp(), "c.png")
        >>> plots.plot_curves(p, {"train": ([1, 2], [50.0, 40.0])})
        >>> os.path.getsize(p) > 0
        True
    """
    # A standalone Figure drawn by the Agg canvas: no pyplot, so the caller's backend
    # (a notebook's inline one, say) and its open figures are left as they were.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = {}
    for label, (xs, ys) in curves.items():
        kind, _, series = label.partition(" ")
        style = "--" if kind == "train" else "-"
        # "train X" and "test X" share X's colour.
        color = colors.setdefault(series or label, f"C{len(colors) % 10}")
        ax.plot(xs, ys, style, color=color, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic.writing(path, "wb") as f:
        fig.savefig(f, format=os.path.splitext(path)[1].lstrip(".") or "png")


def plot_history(path, history: list[dict], title=""):
    """Training/validation error and loss per epoch of a run's history."""
    if not history:
        return
    xs = [row["epoch"] for row in history]
    curves = {"train error": (xs, [100 * (1 - row["train_accuracy"]) for row in history])}
    if all("val_accuracy" in row for row in history):
        curves["val error"] = (xs, [100 * (1 - row["val_accuracy"]) for row in history])
    plot_curves(path, curves, title=title)
