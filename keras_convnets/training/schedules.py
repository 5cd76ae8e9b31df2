"""Learning-rate schedules of the recipes, as pure functions of the step and a small state.

The state (warm-up end, plateau reductions) is saved with every checkpoint,
so that a resumed run follows the same schedule as an uninterrupted one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keras_convnets.training.config import Resolved


def initial_state() -> dict:
    return {"warmup_end": None, "plateau_best": None, "plateau_wait": 0, "plateau_reductions": 0}


def learning_rate(resolved: Resolved, step: int, state: dict) -> float:
    """The rate used for training step ``step`` (0-based).

    Example:
        >>> from keras_convnets.training import schedules
        >>> from keras_convnets.training.config import Resolved
        >>> r = Resolved(learning_rate=0.1, schedule="piecewise", milestone_steps=[10, 20])
        >>> [round(schedules.learning_rate(r, s, schedules.initial_state()), 6)
        ...  for s in (0, 10, 25)]
        [0.1, 0.01, 0.001]
    """
    if resolved.warmup_lr is not None:
        end = state.get("warmup_end")
        if end is None or step < end:
            return resolved.warmup_lr
    lr = resolved.learning_rate
    kind = resolved.schedule
    if kind == "piecewise":
        passed = sum(step >= m for m in resolved.milestone_steps)
        return lr * 0.1**passed
    if kind == "step_decay":
        return lr * resolved.decay_factor ** (step // resolved.decay_every_steps)
    if kind == "plateau":
        return lr * 0.1 ** state.get("plateau_reductions", 0)
    if kind == "warmup_linear":  # up from lr/warmup_steps to lr, then down to 0 at the end
        ramp = resolved.warmup_steps
        if step < ramp:
            return lr * (step + 1) / ramp
        return lr * max(0.0, resolved.total_steps - step) / max(1, resolved.total_steps - ramp)
    raise ValueError(f"Unknown schedule {kind!r}")


def update_warmup(resolved: Resolved, state: dict, step: int, train_error: float) -> bool:
    """Ends the warm-up after ``step`` when the training error fell below the threshold.

    Returns whether the warm-up ended now. Also ends it at ``warmup_max_steps``.
    """
    if resolved.warmup_lr is None or state.get("warmup_end") is not None:
        return False
    if train_error < resolved.warmup_until_error or step >= resolved.warmup_max_steps:
        state["warmup_end"] = step
        return True
    return False


def update_plateau(resolved: Resolved, state: dict, val_error: float) -> bool:
    """At an epoch end: divides the rate by 10 after ``plateau_patience`` epochs without a
    new best validation error. Returns whether the rate was reduced."""
    if resolved.schedule != "plateau":
        return False
    best = state.get("plateau_best")
    if best is None or val_error < best - 1e-4:
        state["plateau_best"] = val_error
        state["plateau_wait"] = 0
        return False
    state["plateau_wait"] = state.get("plateau_wait", 0) + 1
    if (
        state["plateau_wait"] >= resolved.plateau_patience
        and state.get("plateau_reductions", 0) < resolved.plateau_max_reductions
    ):
        state["plateau_reductions"] = state.get("plateau_reductions", 0) + 1
        state["plateau_wait"] = 0
        return True
    return False
