"""``dnnkit report LOGDIR``: the per-layer table and the findings of a diagnostics run."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from keras_dnnkit.cli._table import format_table


def add_parser(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="summarize a diagnostics run: per-layer table and findings",
        description="Read the TensorBoard event files that GradientDiagnostics and "
        "ActivationDiagnostics wrote, and print each layer's statistics (medians over the "
        "last logged steps, layers input to output) and the findings.",
    )
    parser.add_argument("log_dir", metavar="LOGDIR", help="the run's log directory")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--fail-on-findings",
        action="store_true",
        help="exit with status 1 when there are findings (for CI)",
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
    from keras_dnnkit.diagnostics._report import build_report

    try:
        report = build_report(arguments.log_dir, window=arguments.window)
    except (FileNotFoundError, ValueError) as error:
        print(f"dnnkit report: {error}", file=sys.stderr)
        return 2
    if arguments.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report.to_dict()))
    return 1 if arguments.fail_on_findings and report.findings else 0


def format_report(document: dict[str, Any]) -> str:
    """Return the report as a table of layers followed by the findings.

    Example:
        >>> print(format_report({"layers": [{"name": "dense", "dead_fraction": 0.75}],
        ...                      "findings": []}))
        layer  dead_fraction
        dense  0.75
        <BLANKLINE>
        no findings
    """
    layers = document["layers"]
    columns = list(dict.fromkeys(key for layer in layers for key in layer if key != "name"))
    rows = [
        [layer["name"], *(_number(layer.get(column)) for column in columns)] for layer in layers
    ]
    table = format_table(rows, header=["layer", *columns]) if layers else "no layer statistics"
    findings = document["findings"]
    if not findings:
        return f"{table}\n\nno findings"
    lines = [f"findings ({len(findings)}):"]
    lines += [f"- step {f['step']}, {f['problem']}: {f['message']}" for f in findings]
    return f"{table}\n\n" + "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"
