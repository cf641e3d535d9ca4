"""A run's layer order (input to output), kept next to its event files.

Tags name a layer, not its position (``gradients/norm/hidden_04``), so that runs of the
same architecture pair up in TensorBoard. The order is written once per run to
``<log_dir>/dnnkit_layers.json``; ``dnnkit report`` and the TensorBoard dashboard read it.
Runs without that file fall back to the order in which the event files first name each
layer (the callbacks write a step's layers input to output).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence

FILE_NAME = "dnnkit_layers.json"
FORMAT = "keras-dnnkit-layers"
VERSION = 1


def write_layer_order(log_dir: str | os.PathLike[str], layers: Sequence[str]) -> str:
    """Add ``layers`` (input to output) to the run's layer order; return the file's path.

    Layers already listed keep their place; new ones are merged in after their predecessor,
    so two callbacks that see different layers (with and without weights) build one order.

    Example:
        >>> import tempfile
        >>> log_dir = tempfile.mkdtemp()
        >>> _ = write_layer_order(log_dir, ["dense", "dense_1"])
        >>> _ = write_layer_order(log_dir, ["dense", "relu", "dense_1"])
        >>> read_layer_order(log_dir)
        ['dense', 'relu', 'dense_1']
    """
    path = os.path.join(os.fspath(log_dir), FILE_NAME)
    merged = merge_orders([read_layer_order(log_dir) or [], list(layers)])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    document = {"format": FORMAT, "version": VERSION, "layers": merged}
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=1)
    os.replace(temporary, path)  # a reader never sees half a file
    return path


def read_layer_order(log_dir: str | os.PathLike[str]) -> list[str] | None:
    """Return the layer order written under ``log_dir`` (or one level below), or ``None``.

    Example:
        >>> import tempfile
        >>> read_layer_order(tempfile.mkdtemp()) is None
        True
    """
    root = os.fspath(log_dir)
    candidates = [os.path.join(root, FILE_NAME)]
    if os.path.isdir(root):
        candidates += [os.path.join(root, child, FILE_NAME) for child in sorted(os.listdir(root))]
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as file:
                document = json.load(file)
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and document.get("format") == FORMAT:
            return [str(name) for name in document.get("layers", [])]
    return None


def merge_orders(orders: Iterable[Sequence[str]]) -> list[str]:
    """Merge several input-to-output orders of overlapping layer sets into one.

    Each name follows its predecessors in every order it appears in; on a conflict the
    longer orders win.

    Example:
        >>> merge_orders([["dense", "dense_1"], ["dense", "relu", "dense_1"]])
        ['dense', 'relu', 'dense_1']
    """
    ranked = sorted((list(order) for order in orders), key=len, reverse=True)
    first_seen: dict[str, int] = {}
    after: dict[str, set[str]] = {}
    for order in ranked:
        for position, name in enumerate(order):
            first_seen.setdefault(name, len(first_seen))
            after.setdefault(name, set())
            if position:
                after[name].add(order[position - 1])
    merged: list[str] = []
    placed: set[str] = set()
    remaining = sorted(first_seen, key=first_seen.__getitem__)
    while remaining:
        # The first layer whose predecessors are all placed; on a cycle, the first one left.
        ready = next((n for n in remaining if after[n] <= placed), remaining[0])
        merged.append(ready)
        placed.add(ready)
        remaining.remove(ready)
    return merged


def order_layers(
    names_by_source: Mapping[str, Iterable[str]], known: Sequence[str] | None
) -> list[str]:
    """Return every layer named in ``names_by_source``, in the run's order.

    ``known`` is the order from the layer-order file (if any); the sources' own orders
    (e.g. one per statistic, as first seen in the event files) place the rest.

    Example:
        >>> order_layers({"gradients/norm": ["b", "a"], "activations/mean": ["b", "r"]},
        ...              ["a", "b"])
        ['a', 'b', 'r']
    """
    orders = [list(order) for order in names_by_source.values()]
    seen = {name for order in orders for name in order}
    if known:
        # The file's order is the truth for the layers it lists: rank it first.
        listed = [name for name in known if name in seen]
        ranked = merge_orders([listed, *orders]) if listed else merge_orders(orders)
        return _respect(ranked, listed)
    return merge_orders(orders)


def _respect(ranked: list[str], listed: list[str]) -> list[str]:
    """Put the listed layers in their listed order, keeping the others' slots."""
    positions = iter(listed)
    listed_set = set(listed)
    return [next(positions) if name in listed_set else name for name in ranked]
