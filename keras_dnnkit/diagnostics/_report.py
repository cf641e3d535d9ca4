"""Summarize a diagnostics run from its event files: a per-layer table and the findings.

What ``dnnkit report`` prints. Each layer's value is the median over the last ``window``
logged steps of its tag (single steps are noisy). Findings are recomputed from those
scalars by the same rules the callbacks use, and merged with the findings the callbacks
logged as TensorBoard text while training (so a NaN at step 63 is still reported after
training stopped), keeping the latest of each problem and layer.
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._activation_findings import (
    DEAD_THRESHOLD,
    SATURATED_THRESHOLD,
    LayerActivation,
    activation_findings,
)
from keras_dnnkit.diagnostics._events import event_files, read_scalars, read_texts
from keras_dnnkit.diagnostics.findings import (
    PROBLEMS,
    Finding,
    Problem,
    Thresholds,
    gradient_findings,
    nonfinite_finding,
)

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
        {'layers': [{'name': 'dense'}], 'findings': []}
    """

    layers: tuple[LayerSummary, ...]
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document ``dnnkit report --json`` prints."""
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "findings": [finding.to_dict() for finding in self.findings],
        }


def build_report(
    log_dir: str | os.PathLike[str],
    *,
    window: int = 5,
    thresholds: Thresholds | None = None,
    dead_threshold: float = DEAD_THRESHOLD,
    saturated_threshold: float = SATURATED_THRESHOLD,
) -> Report:
    """Read a run's event files (sub-directories included) and summarize them.

    Args:
        log_dir: the run's log directory (what the callbacks were given).
        window: how many of the last logged steps each median is taken over.
        thresholds: gradient thresholds (default :class:`Thresholds` with this window).
        dead_threshold: dead-unit fraction that makes a finding.
        saturated_threshold: saturated-unit fraction that makes a finding.

    Raises:
        FileNotFoundError: ``log_dir`` does not exist, is not a directory, or holds no
            event files.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> log_dir = tempfile.mkdtemp()
        >>> with tf.summary.create_file_writer(log_dir).as_default():
        ...     _ = tf.summary.scalar("activations/dead_fraction/00_dense", 0.75, step=10)
        >>> report = build_report(log_dir)
        >>> report.layers[0].to_dict(), [f.problem for f in report.findings]
        ({'name': 'dense', 'dead_fraction': 0.75}, ['dead_units'])
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
    recomputed = _activation_findings(by_layer, names, window, dead_threshold, saturated_threshold)
    recomputed += _gradient_findings(by_layer, names, thresholds or Thresholds(window=window))
    logged = [
        finding
        for step, text in read_texts(log_dir).get(_tags.FINDINGS, [])
        if (finding := finding_from_text(text, step, names)) is not None
    ]
    nonfinite = [step for step, _ in scalars.get(_tags.NONFINITE_STEP, [])]
    if nonfinite and not any(f.problem == "nonfinite_gradients" for f in logged):
        logged.append(nonfinite_finding(None, min(nonfinite)))
    return Report(layers, tuple(_deduplicate(logged + recomputed)))


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


def _last_step(series: Sequence[Series]) -> int:
    return max((s[-1][0] for s in series if s), default=0)


def _activation_findings(
    by_layer: Mapping[str, Mapping[str, Series]],
    names: Sequence[str],
    window: int,
    dead_threshold: float,
    saturated_threshold: float,
) -> list[Finding]:
    dead = by_layer.get(_tags.DEAD_FRACTION, {})
    saturated = by_layer.get(_tags.SATURATED_FRACTION, {})
    if not dead and not saturated:
        return []
    rules = [
        LayerActivation(
            name,
            _median(dead[name], window) if name in dead else None,
            _median(saturated[name], window) if name in saturated else None,
        )
        for name in names
    ]
    step = _last_step([*dead.values(), *saturated.values()])
    return activation_findings(
        rules, step, dead_threshold=dead_threshold, saturated_threshold=saturated_threshold
    )


def _gradient_findings(
    by_layer: Mapping[str, Mapping[str, Series]], names: Sequence[str], thresholds: Thresholds
) -> list[Finding]:
    norms = by_layer.get(_tags.GRADIENT_NORM, {})
    if not norms:
        return []
    layer_norms = [(name, [value for _, value in norms[name]]) for name in names if name in norms]
    return gradient_findings(layer_norms, _last_step(list(norms.values())), thresholds)


_PROBLEM_PREFIXES: tuple[tuple[str, Problem], ...] = (
    *((problem.replace("_", " "), problem) for problem in PROBLEMS),
    ("non-finite gradients", "nonfinite_gradients"),
    ("nan", "nonfinite_gradients"),
)


def finding_from_text(text: str, step: int, layers: Sequence[str] = ()) -> Finding | None:
    """Read a finding back from the text a callback logged; ``None`` if it names no problem.

    The problem is the message's opening words (``"dead units: ..."``); the layer is the
    first of ``layers`` the message names.

    Example:
        >>> finding_from_text("dead units: 64% of dense_3's units ...", 200, ["dense", "dense_3"])
        Finding(problem='dead_units', layer='dense_3', step=200, message="dead units: 64% of dense_3's units ...")
    """  # noqa: E501 -- a doctest's expected output is one line
    opening = text.split(":", 1)[0].strip().lower()
    problem = next((p for words, p in _PROBLEM_PREFIXES if opening.startswith(words)), None)
    if problem is None:
        return None
    named = [
        (match.start(), -len(name), name)
        for name in layers
        if (match := re.search(rf"(?<![\w.]){re.escape(name)}(?!\w|\.\w)", text)) is not None
    ]
    return Finding(problem, min(named)[2] if named else None, step, text)


def _deduplicate(findings: Sequence[Finding]) -> list[Finding]:
    """Keep the latest finding of each (problem, layer), ordered by step then problem."""
    latest: dict[tuple[str, str | None], Finding] = {}
    for finding in findings:
        key = (finding.problem, finding.layer)
        if key not in latest or finding.step >= latest[key].step:
            latest[key] = finding
    return sorted(latest.values(), key=lambda f: (f.step, PROBLEMS.index(f.problem)))
