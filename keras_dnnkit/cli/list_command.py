"""``dnnkit list [KIND]``: every registered component, by kind."""

from __future__ import annotations

import argparse
import json
from typing import Any

from keras_dnnkit._types import KINDS
from keras_dnnkit.cli._quiet import import_tensorflow_quietly
from keras_dnnkit.cli._table import format_table


def add_parser(subparsers: Any) -> None:
    """Add the ``list`` sub-command."""
    parser = subparsers.add_parser(
        "list",
        help="list registered components",
        description="List registered components (all kinds, or one) with the plugin that "
        "registered each.",
    )
    parser.add_argument("kind", nargs="?", choices=KINDS, help="only this kind")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Print the registered components; return 0.

    Example:
        >>> run(argparse.Namespace(kind="constraint", json=True))  # doctest: +ELLIPSIS
        [
          {
            "kind": "constraint",
            "name": "max_norm",
            "plugin": "keras_dnnkit.constraints",
            "object": "keras_dnnkit.constraints.max_norm"
          },
        ...
        0
    """
    import_tensorflow_quietly()
    from keras_dnnkit.registry import default_registry  # imports Keras: only when run

    components = default_registry().components(arguments.kind)
    if arguments.json:
        records = [
            {
                "kind": c.kind,
                "name": c.name,
                "plugin": c.plugin,
                "object": f"{c.obj.__module__}.{c.obj.__qualname__}",
            }
            for c in components
        ]
        print(json.dumps(records, indent=2))
        return 0
    print(format_table([[c.kind, c.name, c.plugin] for c in components]))
    return 0
