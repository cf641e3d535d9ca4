"""Checks shared by the schedules that cycle momentum (``OneCycle``, ``Cyclic``)."""

from __future__ import annotations

from typing import Any


def check_momentum_range(base_momentum: Any, max_momentum: Any) -> None:
    """Raise ``ValueError`` unless ``0 <= base_momentum <= max_momentum < 1``.

    Example:
        >>> check_momentum_range(0.95, 0.9)
        Traceback (most recent call last):
        ...
        ValueError: Argument base_momentum must be <= max_momentum (0.9). Received: base_momentum=0.95
    """  # noqa: E501 -- a doctest's expected output is one line
    for name, value in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"Argument {name} must be in [0, 1). Received: {name}={value!r}")
    if base_momentum > max_momentum:
        raise ValueError(
            f"Argument base_momentum must be <= max_momentum ({max_momentum!r}). "
            f"Received: base_momentum={base_momentum!r}"
        )
