"""Group a model's trainable variables by the layer that owns them, input to output.

Nested models are walked depth first, so a layer inside a sub-model gets a path such as
``encoder/dense_2``. Each variable belongs to the deepest layer that holds it; layers whose
variables are all frozen are listed apart. Given the position at which the traced train step
first reads each variable (``keras_dnnkit.training._tensorflow.first_reads``), layers are
ordered by the order they are called, which for subclassed models differs from the order of
their attributes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerGroup:
    """One measured layer: its path, position, and the trainable variables it owns."""

    index: int
    path: str
    variables: tuple[Any, ...]

    @property
    def variable_names(self) -> tuple[str, ...]:
        """The variables' short names (``kernel``, ``bias``...)."""
        return tuple(str(getattr(v, "name", f"variable_{i}")) for i, v in enumerate(self.variables))

    @property
    def has_matrix(self) -> bool:
        """Whether the layer owns a weight of rank >= 2 (a kernel, an embedding...)."""
        return any(len(v.shape) >= 2 for v in self.variables)


@dataclass(frozen=True)
class Grouping:
    """The measured layers (input to output) and the frozen ones (skipped).

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> grouping = group_variables(model)
        >>> [(g.index, g.path, g.variable_names) for g in grouping.layers]
        [(0, 'd', ('kernel', 'bias'))]
    """

    layers: tuple[LayerGroup, ...]
    frozen: tuple[str, ...]

    def index_of(self, key: Callable[[Any], Any]) -> dict[Any, int]:
        """Return ``{key(variable): layer index}`` over every measured variable."""
        return {key(v): group.index for group in self.layers for v in group.variables}


def _walk(layer: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for child in getattr(layer, "layers", None) or []:
        path = f"{prefix}/{child.name}" if prefix else str(child.name)
        yield path, child
        yield from _walk(child, path)


def group_variables(
    model: Any,
    variables: Sequence[Any] | None = None,
    reads: Sequence[float] | None = None,
) -> Grouping:
    """Group ``variables`` (default: the model's trainable ones) by owning layer, in order.

    ``reads`` gives, per variable, the position of its first read in the traced step; layers
    are then ordered by their first read (the call order), else by the model's layer list.

    Example:
        >>> import keras
        >>> hidden = keras.layers.Dense(3, name="hidden")
        >>> inner = keras.Sequential([keras.Input((4,)), hidden], name="inner")
        >>> outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="out")])
        >>> [g.path for g in group_variables(outer).layers]
        ['inner/hidden', 'out']
        >>> out, kernel = outer.layers[-1], hidden.kernel
        >>> [g.path for g in group_variables(outer, [kernel, out.kernel], reads=[9, 2]).layers]
        ['out', 'inner/hidden']
    """
    owner: dict[int, str] = {}
    order: list[str] = []
    frozen: list[str] = []
    for path, layer in _walk(model, ""):
        order.append(path)
        for variable in layer.trainable_weights:
            owner[id(variable)] = path  # deeper layers come later and win
        if layer.weights and not layer.trainable and not getattr(layer, "layers", None):
            frozen.append(path)
    if variables is None:
        variables = list(model.trainable_weights)
    by_path: dict[str, list[Any]] = {}
    first_read: dict[str, float] = {}
    for i, variable in enumerate(variables):
        path = owner.get(id(variable), str(model.name))
        by_path.setdefault(path, []).append(variable)
        read = math.inf if reads is None else float(reads[i])
        first_read[path] = min(first_read.get(path, math.inf), read)
    paths = [p for p in order if p in by_path]
    paths += [p for p in by_path if p not in paths]  # variables created on the model itself
    listed = {p: i for i, p in enumerate(paths)}
    paths.sort(key=lambda p: (first_read[p], listed[p]))
    layers = tuple(LayerGroup(i, p, tuple(by_path[p])) for i, p in enumerate(paths))
    return Grouping(layers, tuple(frozen))
