"""Optimizer presets that Keras spells as options: momentum and Nesterov are SGD settings.

They return Keras' own ``SGD``, so a saved model holds a plain Keras optimizer.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["momentum", "nesterov"]


def momentum(learning_rate: Any = 0.01, momentum: float = 0.9, **kwargs: Any) -> Any:
    """Return momentum optimization: ``keras.optimizers.SGD`` with ``momentum``.

    Args:
        learning_rate: a float or a schedule.
        momentum: the momentum coefficient beta, in [0, 1).
        **kwargs: other ``SGD`` options, e.g. ``clipnorm`` or ``global_clipnorm``.

    Example:
        >>> momentum(0.01, clipnorm=1.0).momentum
        0.9
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"Argument momentum must be in [0, 1). Received: momentum={momentum!r}")
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum, **kwargs)


def nesterov(learning_rate: Any = 0.01, momentum: float = 0.9, **kwargs: Any) -> Any:
    """Return Nesterov accelerated gradient: ``keras.optimizers.SGD(nesterov=True)``.

    Args:
        learning_rate: a float or a schedule.
        momentum: the momentum coefficient beta, in [0, 1).
        **kwargs: other ``SGD`` options, e.g. ``clipvalue``.

    Example:
        >>> nesterov(0.01).nesterov
        True
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"Argument momentum must be in [0, 1). Received: momentum={momentum!r}")
    return keras.optimizers.SGD(
        learning_rate=learning_rate, momentum=momentum, nesterov=True, **kwargs
    )
