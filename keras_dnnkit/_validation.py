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


def check_log_dir(name: str, value: Any) -> str:
    """Return ``value`` as a path after making sure it is, or can become, a directory.

    Raises ``TypeError`` for something that is not a path and ``ValueError`` for a path that
    is a file or cannot be created, naming the argument and what was received.

    Example:
        >>> check_log_dir("log_dir", None)
        Traceback (most recent call last):
        ...
        TypeError: Argument log_dir must be a directory path (str or os.PathLike). Received: log_dir=None
    """  # noqa: E501 -- a doctest's expected output is one line
    import os

    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"Argument {name} must be a directory path (str or os.PathLike). "
            f"Received: {name}={value!r}"
        )
    path = os.fspath(value)
    if not path:
        raise ValueError(f"Argument {name} must be a directory path. Received: {name}=''")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"Argument {name} must be a directory, but {path!r} is a file. "
            f"Received: {name}={value!r}"
        )
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"Argument {name} must be a directory that can be created; creating {path!r} "
            f"failed: {error.strerror or error}. Received: {name}={value!r}"
        ) from error
    return str(path)
