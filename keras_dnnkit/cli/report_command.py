"""``dnnkit report LOGDIR``: per-layer table and findings of each run, and a comparison.

A directory holding one run prints that run's report (``--json``: ``{"layers",
"findings"}``). A directory holding several runs (one per sub-directory, as ``dnnkit
demo`` writes them) prints each run's report apart and then a side-by-side comparison of
the runs' gradient norms and update ratios (``--json``: ``{"runs", "comparison"}``). Runs
are never merged.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from keras_dnnkit.cli._quiet import import_tensorflow_quietly
from keras_dnnkit.cli._table import format_table


def add_parser(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="summarize diagnostics runs: per-layer table, findings, comparison",
        description="Read the TensorBoard event files that GradientDiagnostics and "
        "ActivationDiagnostics wrote, and print each layer's statistics (medians over the "
        "last logged steps, layers input to output) and the findings. A directory of "
        "several runs gives each run's report and a side-by-side comparison.",
    )
    parser.add_argument(
        "log_dir", metavar="LOGDIR", help="a run's log directory, or a directory of runs"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--fail-on-findings",
        action="store_true",
        help="exit with status 1 when findings are current, or when the run holds no "
        "gradient statistics (for CI)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=5,
        help="medians over this many last logged steps (default 5)",
    )
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Print the report; return 0, 1 for findings with ``--fail-on-findings``, 2 on errors.

    Example:
        >>> run(argparse.Namespace(log_dir="/no/such/dir", json=False, window=5,
        ...                        fail_on_findings=False))
        2
    """
    import_tensorflow_quietly()
    from keras_dnnkit.diagnostics._runs import RunsReport, build_reports, find_runs

    try:
        runs = find_runs(arguments.log_dir)
        parts: list[Any] = []
        for index, run in enumerate(runs, start=1):
            _progress(f"dnnkit report: reading run {run[0]} ({index}/{len(runs)}): {run[1]}")
            parts += build_reports(arguments.log_dir, [run], window=arguments.window).runs
        reports = RunsReport(tuple(parts))
    except (FileNotFoundError, ValueError) as error:
        print(f"dnnkit report: {error}", file=sys.stderr)
        return 2
    if len(reports.runs) == 1:
        document = reports.runs[0].report.to_dict()
        print(json.dumps(document, indent=2) if arguments.json else format_report(document))
    elif arguments.json:
        print(json.dumps(reports.to_dict(), indent=2))
    else:
        print(format_runs(reports.to_dict()))
    failed = any(bool(r.report.current) or not r.report.gradient_statistics for r in reports.runs)
    return 1 if arguments.fail_on_findings and failed else 0


def _progress(message: str) -> None:
    """Say what is being read, on a terminal only (pipes and ``--json`` stay clean)."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def format_runs(document: dict[str, Any]) -> str:
    """Return each run's report under its name, then the comparison table.

    Example:
        >>> run = {"run": "a", "log_dir": "runs/a", "findings": [],
        ...        "layers": [{"name": "dense", "gradient_norm": 0.5}]}
        >>> comparison = {"runs": ["a"], "summary": [{"run": "a",
        ...     "first_to_last_gradient_norm": None, "findings": []}],
        ...     "layers": [{"name": "dense", "gradient_norm": {"a": 0.5},
        ...                 "update_ratio": {"a": None}}]}
        >>> print(format_runs({"runs": [run], "comparison": comparison}))
        == run a (runs/a)
        layer  gradient_norm
        dense  0.5
        <BLANKLINE>
        no current findings
        <BLANKLINE>
        == comparison (each value from one run; - where a run has no such layer)
        run  gradient norm first / last layer  findings
        a    -                                 none
        <BLANKLINE>
        layer  gradient_norm a  update_ratio a
        dense  0.5              -
    """
    parts = [
        f"== run {run['run']} ({run['log_dir']})\n{format_report(run)}" for run in document["runs"]
    ]
    comparison = document["comparison"]
    names = comparison["runs"]
    summary = format_table(
        [
            [
                row["run"],
                _number(row["first_to_last_gradient_norm"]),
                ", ".join(row["findings"]) or "none",
            ]
            for row in comparison["summary"]
        ],
        header=["run", "gradient norm first / last layer", "findings"],
    )
    columns = [(column, name) for column in ("gradient_norm", "update_ratio") for name in names]
    table = format_table(
        [
            [layer["name"], *(_number(layer[column][name]) for column, name in columns)]
            for layer in comparison["layers"]
        ],
        header=["layer", *(f"{column} {name}" for column, name in columns)],
    )
    parts.append(
        "== comparison (each value from one run; - where a run has no such layer)\n"
        f"{summary}\n\n{table}"
    )
    return "\n\n".join(parts)


def format_report(document: dict[str, Any]) -> str:
    """Return the report as a table of layers, then the current and the resolved findings.

    Example:
        >>> print(format_report({"layers": [{"name": "dense", "dead_fraction": 0.75}],
        ...                      "findings": [], "gradient_statistics": True}))
        layer  dead_fraction
        dense  0.75
        <BLANKLINE>
        no current findings
    """
    layers = document["layers"]
    columns = list(dict.fromkeys(key for layer in layers for key in layer if key != "name"))
    rows = [
        [layer["name"], *(_number(layer.get(column)) for column in columns)] for layer in layers
    ]
    table = format_table(rows, header=["layer", *columns]) if layers else "no layer statistics"
    parts = [table]
    if not document.get("gradient_statistics", True):
        parts.append(
            "no gradient statistics: this run's event files hold no gradients/norm scalars. "
            "Did training run with GradientDiagnostics on this log directory?"
        )
    current = document["findings"]
    resolved = document.get("resolved_findings", [])
    if current:
        lines = [f"current findings ({len(current)}):"]
        lines += [
            f"- {_steps(f)}, {f['problem']}: {f['message']} {f['advice']}".rstrip() for f in current
        ]
        parts.append("\n".join(lines))
    else:
        parts.append("no current findings")
    if resolved:
        lines = [f"resolved findings ({len(resolved)}):"]
        lines += [
            f"- {_steps(f)}, resolved at step {f['resolved_step']}, {f['problem']}: {f['message']}"
            for f in resolved
        ]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _steps(finding: dict[str, Any]) -> str:
    first, last = finding["first_step"], finding["last_step"]
    return f"step {first}" if first == last else f"steps {first}-{last}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"
