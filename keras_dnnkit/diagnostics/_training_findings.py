"""Rules on the epoch logs: overfitting.

Overfitting (chapter 11; early stopping's signal): the validation loss has made no new best
for ``patience`` epochs while the training loss kept falling (to at most :data:`FALL` of its
value at the best epoch), the gap between the two is wide (validation at least :data:`WIDE`
times training), and the validation loss has risen above its best (by :data:`RISE` or more)
or the gap keeps growing. It resolves when the validation loss makes a new best.

Calibrated on the diagnosis benchmark: 100 training digits (4 x 256 ReLU, Adam, 150
epochs) end at a training loss of 1.6e-05 against a validation loss of 1.46 (best 0.88);
a healthy 6 x 128 ReLU net with dropout under SGD, whose validation loss rose 22 % above
its best in 5 epochs while its training loss fell to 0.088, ends at a ratio of 3.1 (its
validation accuracy stayed at 0.95): not reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from keras_dnnkit.diagnostics._model_facts import ModelFacts
from keras_dnnkit.diagnostics.findings import Observation, format_number

RISE = 1.1
"""Validation loss this many times its best counts as rising."""
WIDE = 5.0
"""Validation loss this many times the training loss is a wide gap."""
FALL = 0.5
"""The training loss must have fallen to this share of its value at the best epoch."""

EpochLosses = Sequence[tuple[float, float]]
"""Per epoch, oldest first: (training loss, validation loss)."""


def epoch_losses(logs: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """Return ``(loss, val_loss)`` from an epoch's logs, or ``None`` without validation.

    Example:
        >>> epoch_losses({"loss": 0.5, "val_loss": 0.75}), epoch_losses({"loss": 0.5})
        ((0.5, 0.75), None)
    """
    if not logs or "loss" not in logs or "val_loss" not in logs:
        return None
    loss, val_loss = float(logs["loss"]), float(logs["val_loss"])
    return (loss, val_loss) if math.isfinite(loss) and math.isfinite(val_loss) else None


def overfitting_advice(facts: ModelFacts) -> str:
    """What chapter 11 suggests against overfitting.

    Example:
        >>> overfitting_advice(ModelFacts())[:40]
        'Try early stopping (keras.callbacks.Earl'
    """
    dropout = "more dropout" if "Dropout" in facts.kinds.values() else "dropout"
    return (
        "Try early stopping (keras.callbacks.EarlyStopping(restore_best_weights=True)), "
        f"{dropout}, L2 regularization, max-norm constraints, a smaller network, or more "
        "data (data augmentation)."
    )


def overfitting(epochs: EpochLosses, patience: int, facts: ModelFacts) -> Observation | None:
    """Return an ``overfitting`` observation when the epoch losses show it.

    Example:
        >>> losses = [(1.0, 1.0), (0.5, 0.6)] + [(0.3 / k, 0.7 + 0.05 * k) for k in range(1, 7)]
        >>> overfitting(losses, patience=5, facts=ModelFacts()).problem
        'overfitting'
        >>> overfitting([(1.0 / k, 1.0 / k) for k in range(1, 9)], 5, ModelFacts()) is None
        True
    """
    if len(epochs) <= patience:
        return None
    validation = [v for _, v in epochs]
    best = min(range(len(validation)), key=validation.__getitem__)
    since = len(epochs) - 1 - best
    if since < patience:
        return None
    train_best, val_best = epochs[best]
    train_now, val_now = epochs[-1]
    if not train_now <= FALL * train_best:
        return None
    if val_now < WIDE * max(train_now, 1e-12):
        return None
    rising = val_now >= RISE * val_best
    growing = val_now - train_now > val_best - train_best
    if not (rising or growing):
        return None
    return Observation(
        "overfitting",
        (),
        f"overfitting: the validation loss's best was {format_number(val_best)}, "
        f"{since} epochs ago; it is {format_number(val_now)} now, while the training loss "
        f"fell from {format_number(train_best)} to {format_number(train_now)}.",
        overfitting_advice(facts),
    )
