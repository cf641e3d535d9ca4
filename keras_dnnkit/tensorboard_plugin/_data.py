"""What the dashboard shows for one run, as JSON-ready data (no TensorBoard needed).

The plugin gathers a run's scalars, layer order and findings; these functions shape them
into the documents its routes return.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._layer_order import order_layers

FINDINGS_FILE = "dnnkit_findings.json"
"""Where the diagnostics write a run's findings as structured data."""

FINDINGS_FORMAT = "keras-dnnkit-findings"

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


def normalize_findings(document: Any) -> list[dict[str, Any]] | None:
    """Return the findings of a ``dnnkit_findings.json`` document, or ``None`` if it is not one.

    Example:
        >>> normalize_findings({"format": "keras-dnnkit-findings", "version": 1, "findings": [
        ...     {"problem": "vanishing_gradients", "layers": ["dense"], "status": "current"}]})
        ... # doctest: +NORMALIZE_WHITESPACE
        [{'problem': 'vanishing_gradients', 'layers': ['dense'], 'first_step': None,
          'last_step': None, 'status': 'current', 'resolved_step': None, 'message': '',
          'advice': ''}]
    """
    if not isinstance(document, dict) or document.get("format") != FINDINGS_FORMAT:
        return None
    findings = []
    for item in document.get("findings") or []:
        if not isinstance(item, dict) or not item.get("problem"):
            continue
        findings.append(
            {
                "problem": str(item["problem"]),
                "layers": [str(layer) for layer in item.get("layers") or []],
                "first_step": item.get("first_step"),
                "last_step": item.get("last_step"),
                "status": "resolved" if item.get("status") == "resolved" else "current",
                "resolved_step": item.get("resolved_step"),
                "message": str(item.get("message") or ""),
                "advice": str(item.get("advice") or ""),
            }
        )
    return findings


def read_findings_file(run_dir: str) -> list[dict[str, Any]] | None:
    """Return the findings in ``run_dir/dnnkit_findings.json``, or ``None`` without one.

    Example:
        >>> import tempfile
        >>> read_findings_file(tempfile.mkdtemp()) is None
        True
    """
    try:
        with open(os.path.join(run_dir, FINDINGS_FILE), encoding="utf-8") as file:
            return normalize_findings(json.load(file))
    except (OSError, ValueError):
        return None


def text_findings(texts: Sequence[tuple[int, str]], layers: Sequence[str]) -> list[dict[str, Any]]:
    """Findings read back from the text the callbacks logged (runs without the file).

    The latest text of each problem and layer is kept, as ``current``.

    Example:
        >>> [f["problem"] for f in text_findings(
        ...     [(3, "dead units: 60% of dense's units"), (4, "hello")], ["dense"])]
        ['dead_units']
    """
    from keras_dnnkit.diagnostics._report import finding_from_text

    latest: dict[tuple[str, str | None], dict[str, Any]] = {}
    for step, text in texts:
        finding = finding_from_text(text, step, layers)
        if finding is None:
            continue
        latest[(finding.problem, finding.layer)] = {
            "problem": finding.problem,
            "layers": [finding.layer] if finding.layer else [],
            "first_step": step,
            "last_step": step,
            "status": "current",
            "resolved_step": None,
            "message": finding.message,
            "advice": "",
        }
    return sorted(latest.values(), key=lambda f: (f["last_step"], f["problem"]))
