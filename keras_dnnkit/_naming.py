"""How component names are derived and checked."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KERAS_PACKAGE = "keras_dnnkit"


def snake_case(name: str) -> str:
    """Return the snake_case spelling of a Python name (``HeAvgNormal`` -> ``he_avg_normal``).

    Example:
        >>> snake_case("MaxNorm"), snake_case("PReLU"), snake_case("he_normal")
        ('max_norm', 'p_re_lu', 'he_normal')
    """
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.lower()


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid component name, else raise ``ValueError``.

    Example:
        >>> check_name("max_norm")
        'max_norm'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "A component name must be snake_case: lower-case letters, digits and "
            f"underscores, starting with a letter. Received: name={name!r}"
        )
    return name


def keras_key(name: str) -> str:
    """Return the key under which a component named ``name`` is saved by Keras.

    Example:
        >>> keras_key("maxout")
        'keras_dnnkit>maxout'
    """
    return f"{KERAS_PACKAGE}>{name}"


def name_from_keras_key(key: str) -> str | None:
    """Return the component name in a ``keras_dnnkit>name`` key, else ``None``.

    Example:
        >>> name_from_keras_key("keras_dnnkit>maxout"), name_from_keras_key("Custom>Foo")
        ('maxout', None)
    """
    package, _, name = key.partition(">")
    return name if package == KERAS_PACKAGE and name else None
