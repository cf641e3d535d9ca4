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
    failed = bool(report.current) or not report.gradient_statistics
    return 1 if arguments.fail_on_findings and failed else 0


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
