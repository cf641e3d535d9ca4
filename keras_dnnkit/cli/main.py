"""Entry point of the ``dnnkit`` console script.

Each sub-command lives in its own module with an ``add_parser(subparsers)`` function that
adds its parser and sets ``handler`` (a function from the parsed arguments to an exit code).
Those modules import Keras and TensorFlow only inside their handlers, so that ``dnnkit
--help`` answers at once; TensorFlow's log lines are silenced before it is imported.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from keras_dnnkit.cli._quiet import silence_tensorflow

COMMAND_MODULES = (
    "keras_dnnkit.cli.plugins_command",
    "keras_dnnkit.cli.list_command",
    "keras_dnnkit.cli.demo_command",
    "keras_dnnkit.cli.report_command",
    "keras_dnnkit.cli.lr_find_command",
)
"""Modules whose ``add_parser`` adds a sub-command, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """Return the ``dnnkit`` argument parser with every sub-command.

    Example:
        >>> build_parser().parse_args(["list", "optimizer", "--json"]).kind
        'optimizer'
    """
    parser = argparse.ArgumentParser(
        prog="dnnkit",
        description="keras-dnnkit: train deep networks right with Keras 3, and see why they "
        "train badly.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dnnkit`` command line and return its exit status.

    Example:
        >>> main(["list", "constraint"])
        constraint  max_norm      keras_dnnkit.constraints
        constraint  min_max_norm  keras_dnnkit.constraints
        constraint  non_neg       keras_dnnkit.constraints
        constraint  unit_norm     keras_dnnkit.constraints
        0
    """
    silence_tensorflow()
    arguments = build_parser().parse_args(argv)
    status: int = arguments.handler(arguments)
    return status


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
