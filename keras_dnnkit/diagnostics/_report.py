"""Summarize a diagnostics run from its event files: a per-layer table and the findings.

What ``dnnkit report`` prints. Each layer's value is the median over the last ``window``
logged steps of its tag (single steps are noisy). The findings are the ones the callbacks
kept while training, read from the findings file beside the event files
(``dnnkit_findings.json``, see ``_findings_file``): current ones apart from resolved ones.
A run whose event files hold no gradient statistics says so.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import event_files, read_scalars
from keras_dnnkit.diagnostics._findings_file import FILE_NAME, read_findings
from keras_dnnkit.diagnostics.findings import PROBLEMS, Finding

COLUMNS: dict[str, str] = {
    _tags.GRADIENT_NORM: "gradient_norm",
    _tags.GRADIENT_FLOW: "flow",
    _tags.UPDATE_RATIO: "update_ratio",
    _tags.GRADIENT_MEAN_ABS: "gradient_mean_abs",
    _tags.GRADIENT_MAX_ABS: "gradient_max_abs",
    _tags.ACTIVATION_MEAN: "activation_mean",
    _tags.ACTIVATION_VARIANCE: "activation_variance",
    _tags.ACTIVATION_VARIANCE_RATIO: "variance_ratio",
    _tags.DEAD_FRACTION: "dead_fraction",
    _tags.SATURATED_FRACTION: "saturated_fraction",
}
"""Layer tag prefix -> report column, in the order the table shows them."""

Series = list[tuple[int, float]]


@dataclass(frozen=True)
class LayerSummary:
    """One layer's row: its name (as its tags spell it) and a median per column.

    Example:
        >>> LayerSummary("dense_1", {"gradient_norm": 0.5}).to_dict()
        {'name': 'dense_1', 'gradient_norm': 0.5}
    """

    name: str
    values: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"name": ..., column: value, ...}``."""
        return {"name": self.name, **self.values}


@dataclass(frozen=True)
class Report:
    """The layers (input to output) and the findings of one run.

    Example:
        >>> Report((LayerSummary("dense"),), ()).to_dict()
        {'layers': [{'name': 'dense'}], 'findings': [], 'resolved_findings': [], 'gradient_statistics': False}
    """  # noqa: E501 -- a doctest's expected output is one line

    layers: tuple[LayerSummary, ...]
    findings: tuple[Finding, ...]
    gradient_statistics: bool = False

    @property
    def current(self) -> tuple[Finding, ...]:
        """The findings that still held when training last checked."""
        return tuple(f for f in self.findings if f.current)

    @property
    def resolved(self) -> tuple[Finding, ...]:
        """The findings that held once and no longer do."""
        return tuple(f for f in self.findings if not f.current)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document ``dnnkit report --json`` prints."""
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "findings": [finding.to_dict() for finding in self.current],
            "resolved_findings": [finding.to_dict() for finding in self.resolved],
            "gradient_statistics": self.gradient_statistics,
        }


def build_report(log_dir: str | os.PathLike[str], *, window: int = 5) -> Report:
    """Read a run's event files and findings file (sub-directories included) and summarize.

    Args:
        log_dir: the run's log directory (what the callbacks were given).
        window: how many of the last logged steps each median is taken over.

    Raises:
        FileNotFoundError: ``log_dir`` does not exist, is not a directory, or holds no
            event files.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> log_dir = tempfile.mkdtemp()
        >>> with tf.summary.create_file_writer(log_dir).as_default():
        ...     _ = tf.summary.scalar("activations/dead_fraction/00_dense", 0.75, step=10)
        >>> report = build_report(log_dir)
        >>> report.layers[0].to_dict(), report.findings, report.gradient_statistics
        ({'name': 'dense', 'dead_fraction': 0.75}, (), False)
    """
    check_log_dir(log_dir)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"Argument window must be an int >= 1. Received: window={window!r}")
    scalars = read_scalars(log_dir)
    by_layer = _layer_series(scalars)
    names = _merge_orders(by_layer)
    layers = tuple(
        LayerSummary(
            name,
            {
                column: _median(by_layer[prefix][name], window)
                for prefix, column in COLUMNS.items()
                if name in by_layer.get(prefix, {})
            },
        )
        for name in names
    )
    gradients = bool(by_layer.get(_tags.GRADIENT_NORM))
    return Report(layers, tuple(run_findings(log_dir)), gradients)


def run_findings(log_dir: str | os.PathLike[str]) -> list[Finding]:
    """Every finding in the findings files of ``log_dir`` and its sub-directories.

    Example:
        >>> import tempfile
        >>> run_findings(tempfile.mkdtemp())
        []
    """
    findings = [
        Finding.from_dict(data)
        for root, _dirs, files in sorted(os.walk(os.fspath(log_dir)))
        if FILE_NAME in files
        for data in read_findings(root)
    ]
    return sorted(findings, key=lambda f: (f.first_step, PROBLEMS.index(f.problem)))


def check_log_dir(log_dir: str | os.PathLike[str]) -> None:
    """Raise ``FileNotFoundError`` naming ``log_dir`` unless it is a directory of event files.

    Example:
        >>> check_log_dir("/no/such/dir")
        Traceback (most recent call last):
        ...
        FileNotFoundError: Log directory '/no/such/dir' does not exist. Pass the directory given to the diagnostics callbacks as log_dir.
    """  # noqa: E501 -- a doctest's expected output is one line
    path = os.fspath(log_dir)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Log directory {path!r} does not exist. Pass the directory given to the "
            "diagnostics callbacks as log_dir."
        )
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Log directory {path!r} is a file, not a directory.")
    if not event_files(path):
        raise FileNotFoundError(
            f"Log directory {path!r} holds no TensorBoard event files (events.out.tfevents.*), "
            "in it or below it. Did training run with the diagnostics callbacks?"
        )


def _layer_series(scalars: Mapping[str, Series]) -> dict[str, dict[str, Series]]:
    """``{prefix: {layer: series}}`` for the report's columns, with each layer's index."""
    by_layer: dict[str, dict[str, Series]] = {}
    indices: dict[str, dict[str, int]] = {}
    for tag, series in scalars.items():
        parsed = _tags.parse_layer_tag(tag)
        if parsed is None or parsed[0] not in COLUMNS:
            continue
        prefix, index, layer = parsed
        by_layer.setdefault(prefix, {})[layer] = series
        indices.setdefault(prefix, {})[layer] = index
    return {
        prefix: dict(sorted(layers.items(), key=lambda item: indices[prefix][item[0]]))
        for prefix, layers in by_layer.items()
    }


def _merge_orders(by_layer: Mapping[str, Mapping[str, Series]]) -> list[str]:
    """Merge each prefix's input-to-output order into one (callbacks number layers apart)."""
    orders = sorted((list(layers) for layers in by_layer.values()), key=len, reverse=True)
    first_seen: dict[str, int] = {}
    after: dict[str, set[str]] = {}
    for order in orders:
        for position, name in enumerate(order):
            first_seen.setdefault(name, len(first_seen))
            after.setdefault(name, set())
            if position:
                after[name].add(order[position - 1])
    merged: list[str] = []
    remaining = sorted(first_seen, key=first_seen.__getitem__)
    while remaining:
        # The first layer whose predecessors are all placed; on a cycle, the first one left.
        ready = next((n for n in remaining if after[n] <= set(merged)), remaining[0])
        merged.append(ready)
        remaining.remove(ready)
    return merged


def _median(series: Series, window: int) -> float:
    return float(statistics.median(value for _, value in series[-window:]))
