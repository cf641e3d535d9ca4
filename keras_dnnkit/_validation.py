"""Argument checks whose errors name the argument, the allowed range and the received value."""

from __future__ import annotations

from typing import Any


def check_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value > 0``.

    Example:
        >>> check_positive("decay_steps", 0)
        Traceback (most recent call last):
        ...
        ValueError: Argument decay_steps must be > 0. Received: decay_steps=0
    """
    if not value > 0:
        raise ValueError(f"Argument {name} must be > 0. Received: {name}={value!r}")


def check_non_negative(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value >= 0``.

    Example:
        >>> check_non_negative("power", -1)
        Traceback (most recent call last):
        ...
        ValueError: Argument power must be >= 0. Received: power=-1
    """
    if not value >= 0:
        raise ValueError(f"Argument {name} must be >= 0. Received: {name}={value!r}")


def check_open_interval(name: str, value: Any, low: float, high: float) -> None:
    """Raise ``ValueError`` unless ``low < value < high``.

    Example:
        >>> check_open_interval("pct_start", 1.0, 0.0, 1.0)
        Traceback (most recent call last):
        ...
        ValueError: Argument pct_start must be in the open interval (0.0, 1.0). Received: pct_start=1.0
    """  # noqa: E501 -- a doctest's expected output is one line
    if not low < value < high:
        raise ValueError(
            f"Argument {name} must be in the open interval ({low}, {high}). "
            f"Received: {name}={value!r}"
        )


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``.

    Example:
        >>> check_choice("mode", "up", ("min", "max"))
        Traceback (most recent call last):
        ...
        ValueError: Argument mode must be one of 'min', 'max'. Received: mode='up'
    """
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"Argument {name} must be one of {choices}. Received: {name}={value!r}")
