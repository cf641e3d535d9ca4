"""Several runs under one directory: each run reported apart, then compared side by side.

``dnnkit demo`` writes one run per configuration (``runs/demo-.../2010``,
``.../recommended``); ``dnnkit report`` on the parent directory reports each of them and a
comparison. Runs are never merged: a layer's number always belongs to one run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keras_dnnkit.diagnostics._events import event_files
from keras_dnnkit.diagnostics._layer_order import FILE_NAME, merge_orders
from keras_dnnkit.diagnostics._report import Report, build_report, check_log_dir

COMPARED = ("gradient_norm", "update_ratio")
"""The per-layer columns the comparison shows for every run."""


def find_runs(log_dir: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Return ``(name, directory)`` of each run under ``log_dir``.

    ``log_dir`` is one run when it holds event files or a layer-order file itself, or
    when at most one of its sub-directories holds event files; otherwise each such
    sub-directory is a run, named after it.

    Raises:
        FileNotFoundError: as :func:`~keras_dnnkit.diagnostics._report.check_log_dir`.

    Example:
        >>> import os, tempfile, tensorflow as tf
        >>> root = tempfile.mkdtemp()
        >>> for name in ("b", "a"):
        ...     with tf.summary.create_file_writer(os.path.join(root, name)).as_default():
        ...         _ = tf.summary.scalar("loss", 1.0, step=0)
        >>> [name for name, _ in find_runs(root)]
        ['a', 'b']
    """
    check_log_dir(log_dir)
    root = os.fspath(log_dir)
    entries = sorted(os.listdir(root))
    own = [e for e in entries if e == FILE_NAME or ("tfevents" in e and _is_file(root, e))]
    children = [
        (entry, os.path.join(root, entry))
        for entry in entries
        if os.path.isdir(os.path.join(root, entry)) and event_files(os.path.join(root, entry))
    ]
    if own or len(children) <= 1:
        return [(os.path.basename(os.path.normpath(root)) or root, root)]
    return children


def _is_file(root: str, entry: str) -> bool:
    return os.path.isfile(os.path.join(root, entry))


@dataclass(frozen=True)
class RunReport:
    """One run's name, directory and report.

    Example:
        >>> run = RunReport("a", "runs/a", Report((), ())).to_dict()
        >>> run["run"], run["log_dir"], run["findings"], run["gradient_statistics"]
        ('a', 'runs/a', [], False)
    """

    name: str
    log_dir: str
    report: Report

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"run", "log_dir", "layers", "findings"}``."""
        return {"run": self.name, "log_dir": self.log_dir, **self.report.to_dict()}


@dataclass(frozen=True)
class RunsReport:
    """The reports of every run under one directory, and their comparison.

    Example:
        >>> RunsReport(()).to_dict()
        {'runs': [], 'comparison': {'runs': [], 'summary': [], 'layers': []}}
    """

    runs: tuple[RunReport, ...]

    @property
    def findings(self) -> list[Any]:
        """Every run's findings."""
        return [finding for run in self.runs for finding in run.report.findings]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document ``dnnkit report --json`` prints for several runs."""
        return {"runs": [run.to_dict() for run in self.runs], "comparison": self.comparison()}

    def comparison(self) -> dict[str, Any]:
        """Per layer (in a merged order), each run's value of each compared column.

        A layer a run does not have gets ``None`` for that run; values are never combined.
        Layers without a compared value in any run (no weights) are left out.
        """
        names = [run.name for run in self.runs]
        rows = {
            run.name: {layer.name: layer.values for layer in run.report.layers} for run in self.runs
        }
        order = merge_orders([[layer.name for layer in run.report.layers] for run in self.runs])
        layers = [
            {
                "name": layer,
                **{
                    column: {name: rows[name].get(layer, {}).get(column) for name in names}
                    for column in COMPARED
                },
            }
            for layer in order
            if any(
                name in rows and column in rows[name].get(layer, {})
                for name in names
                for column in COMPARED
            )
        ]
        summary = [
            {
                "run": run.name,
                "first_to_last_gradient_norm": first_to_last(run.report),
                "findings": sorted({f.problem for f in run.report.findings}),
            }
            for run in self.runs
        ]
        return {"runs": names, "summary": summary, "layers": layers}


def first_to_last(report: Report) -> float | None:
    """The first measured layer's gradient norm over the last one's (``None`` if unknown).

    Example:
        >>> from keras_dnnkit.diagnostics._report import LayerSummary
        >>> first_to_last(Report((LayerSummary("a", {"gradient_norm": 1e-6}),
        ...                       LayerSummary("b", {"gradient_norm": 1e-2})), ()))
        0.0001
    """
    norms = [
        layer.values["gradient_norm"] for layer in report.layers if "gradient_norm" in layer.values
    ]
    if len(norms) < 2 or not norms[-1] > 0 or not math.isfinite(norms[0]):
        return None
    return norms[0] / norms[-1]


def build_reports(
    log_dir: str | os.PathLike[str], runs: Sequence[tuple[str, str]] | None = None, **options: Any
) -> RunsReport:
    """Report every run under ``log_dir`` apart (``options`` as for ``build_report``).

    Example:
        >>> import os, tempfile, tensorflow as tf
        >>> root = tempfile.mkdtemp()
        >>> for name, norm in (("a", 1.0), ("b", 2.0)):
        ...     with tf.summary.create_file_writer(os.path.join(root, name)).as_default():
        ...         _ = tf.summary.scalar("gradients/norm/dense", norm, step=0)
        >>> build_reports(root).comparison()["layers"]
        [{'name': 'dense', 'gradient_norm': {'a': 1.0, 'b': 2.0}, 'update_ratio': {'a': None, 'b': None}}]
    """  # noqa: E501 -- a doctest's expected output is one line
    found = list(runs) if runs is not None else find_runs(log_dir)
    return RunsReport(
        tuple(RunReport(name, path, build_report(path, **options)) for name, path in found)
    )
