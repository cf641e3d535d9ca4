"""Summarize one diagnostics run from its event files: a per-layer table and the findings.

What ``dnnkit report`` prints for each run. Each layer's value is the median over the last
``window`` logged steps of its tag (single steps are noisy); layers come in the run's layer
order (``dnnkit_layers.json``). The findings are the ones the callbacks kept while training,
read from the findings file beside the event files (``dnnkit_findings.json``, see
``_findings_file``; :func:`run_findings`): current ones apart from resolved ones. A run whose
event files hold no gradient statistics says so.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import event_files, read_scalars
from keras_dnnkit.diagnostics._findings_file import read_findings
from keras_dnnkit.diagnostics._layer_order import order_layers, read_layer_order
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
    """Read a run's event files and its findings file, and summarize.

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
        ...     _ = tf.summary.scalar("activations/dead_fraction/dense", 0.75, step=10)
        >>> report = build_report(log_dir)
        >>> report.layers[0].to_dict(), report.findings, report.gradient_statistics
        ({'name': 'dense', 'dead_fraction': 0.75}, (), False)
    """
    check_log_dir(log_dir)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"Argument window must be an int >= 1. Received: window={window!r}")
    scalars = read_scalars(log_dir)
    by_layer = _layer_series(scalars)
    names = order_layers(by_layer, read_layer_order(log_dir))
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
    """The findings the callbacks kept in the findings file of the run ``log_dir``.

    Example:
        >>> import tempfile
        >>> run_findings(tempfile.mkdtemp())
        []
    """
    findings = [Finding.from_dict(data) for data in read_findings(log_dir)]
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
    """``{prefix: {layer: series}}`` for the report's columns, layers as first written."""
    by_layer: dict[str, dict[str, Series]] = {}
    for tag, series in scalars.items():
        parsed = _tags.parse_layer_tag(tag)
        if parsed is not None and parsed[0] in COLUMNS:
            by_layer.setdefault(parsed[0], {})[parsed[1]] = series
    return by_layer


def _median(series: Series, window: int) -> float:
    return float(statistics.median(value for _, value in series[-window:]))
