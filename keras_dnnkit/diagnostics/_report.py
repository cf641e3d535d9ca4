"""Summarize one diagnostics run from its event files: a per-layer table and the findings.

What ``dnnkit report`` prints for each run. Each layer's value is the median over the last
``window`` logged steps of its tag (single steps are noisy); layers come in the run's
layer order (``dnnkit_layers.json``). Findings come from :func:`run_findings`.
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
from keras_dnnkit.diagnostics._layer_order import order_layers, read_layer_order
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
        ...     _ = tf.summary.scalar("activations/dead_fraction/dense", 0.75, step=10)
        >>> report = build_report(log_dir)
        >>> report.layers[0].to_dict(), [f.problem for f in report.findings]
        ({'name': 'dense', 'dead_fraction': 0.75}, ['dead_units'])
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
    findings = run_findings(
        log_dir,
        scalars,
        by_layer,
        names,
        window=window,
        thresholds=thresholds or Thresholds(window=window),
        dead_threshold=dead_threshold,
        saturated_threshold=saturated_threshold,
    )
    return Report(layers, tuple(findings))


def run_findings(
    log_dir: str | os.PathLike[str],
    scalars: Mapping[str, Series],
    by_layer: Mapping[str, Mapping[str, Series]],
    names: Sequence[str],
    *,
    window: int,
    thresholds: Thresholds,
    dead_threshold: float,
    saturated_threshold: float,
) -> list[Finding]:
    """Return one run's findings: recomputed from its scalars, merged with the logged ones.

    The one place ``build_report`` obtains findings: recomputed by the callbacks' rules
    from the last ``window`` logged steps, plus what the callbacks logged as text while
    training (a NaN at step 63 is still reported after training stopped), keeping the
    latest of each problem and layer.

    Example:
        >>> import tempfile
        >>> run_findings(tempfile.mkdtemp(), {}, {}, [], window=5, thresholds=Thresholds(),
        ...              dead_threshold=0.5, saturated_threshold=0.5)
        []
    """
    recomputed = _activation_findings(by_layer, names, window, dead_threshold, saturated_threshold)
    recomputed += _gradient_findings(by_layer, names, thresholds)
    logged = [
        finding
        for step, text in read_texts(log_dir).get(_tags.FINDINGS, [])
        if (finding := finding_from_text(text, step, names)) is not None
    ]
    nonfinite = [step for step, _ in scalars.get(_tags.NONFINITE_STEP, [])]
    if nonfinite and not any(f.problem == "nonfinite_gradients" for f in logged):
        logged.append(nonfinite_finding(None, min(nonfinite)))
    return _deduplicate(logged + recomputed)


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
