"""What the dashboard shows for one run, as JSON-ready data (no TensorBoard needed).

The plugin gathers a run's scalars, layer order and findings; these functions shape them
into the documents its routes return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._findings_file import read_findings
from keras_dnnkit.diagnostics._layer_order import order_layers

COLUMNS: dict[str, str] = {
    "gradient_norm": _tags.GRADIENT_NORM,
    "update_ratio": _tags.UPDATE_RATIO,
}
"""Dashboard column -> layer tag prefix."""

Series = Sequence[tuple[int, float]]


def layer_tags(tags: Iterable[str]) -> list[str]:
    """The tags among ``tags`` the dashboard reads (its columns' layer tags).

    Example:
        >>> layer_tags(["gradients/norm/dense", "loss", "updates/ratio/dense"])
        ['gradients/norm/dense', 'updates/ratio/dense']
    """
    prefixes = set(COLUMNS.values())
    return [t for t in tags if (p := _tags.parse_layer_tag(t)) is not None and p[0] in prefixes]


def run_document(
    run: str,
    scalars: Mapping[str, Series],
    order: Sequence[str] | None,
    findings: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Return one run's dashboard data: layers input to output, per-layer series, findings.

    Non-finite values are left out (JSON has no NaN).

    Example:
        >>> document = run_document(
        ...     "a", {"gradients/norm/out": [(1, 0.5)], "gradients/norm/dense": [(1, 1e-9)]},
        ...     ["dense", "out"], [])
        >>> document["layers"], document["steps"], document["gradient_norm"]["dense"]
        (['dense', 'out'], [1], [[1, 1e-09]])
    """
    columns: dict[str, dict[str, list[list[float]]]] = {column: {} for column in COLUMNS}
    prefixes = {prefix: column for column, prefix in COLUMNS.items()}
    for tag, series in scalars.items():
        parsed = _tags.parse_layer_tag(tag)
        if parsed is None or parsed[0] not in prefixes:
            continue
        points = sorted((int(s), float(v)) for s, v in series if math.isfinite(float(v)))
        columns[prefixes[parsed[0]]][parsed[1]] = [[s, v] for s, v in points]
    layers = order_layers({c: list(series) for c, series in columns.items()}, order)
    steps = sorted({int(p[0]) for series in columns["gradient_norm"].values() for p in series})
    return {"run": run, "layers": layers, "steps": steps, **columns, "findings": list(findings)}


def read_findings_file(run_dir: str) -> list[dict[str, Any]]:
    """The run's findings as the callbacks kept them (``[]`` without a readable file).

    Example:
        >>> import tempfile
        >>> read_findings_file(tempfile.mkdtemp())
        []
    """
    try:
        return read_findings(run_dir)
    except (OSError, ValueError):
        return []
