"""``dnnkit plugins``: which plugins are loaded and what each registered."""

from __future__ import annotations

import argparse
import json
from typing import Any

from keras_dnnkit.cli._quiet import import_tensorflow_quietly
from keras_dnnkit.cli._table import format_table


def add_parser(subparsers: Any) -> None:
    """Add the ``plugins`` sub-command."""
    parser = subparsers.add_parser(
        "plugins",
        help="list loaded plugins",
        description="List every loaded plugin: name, distribution, version, and the number "
        "of components it registered per kind.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Print the loaded plugins; return 0.

    Example:
        >>> run(argparse.Namespace(json=False))  # doctest: +ELLIPSIS
        plugin                     distribution  version  registered
        keras_dnnkit.initializers  keras-dnnkit  ...
        0
    """
    import_tensorflow_quietly()
    from keras_dnnkit.registry import list_plugins  # imports Keras: only when run

    plugins = list_plugins()
    if arguments.json:
        print(json.dumps([plugin.to_dict() for plugin in plugins], indent=2))
        return 0
    rows = [
        [
            plugin.name,
            plugin.distribution or "-",
            plugin.version or "-",
            ", ".join(f"{len(names)} {kind}" for kind, names in plugin.registered.items()),
        ]
        for plugin in plugins
    ]
    print(format_table(rows, header=["plugin", "distribution", "version", "registered"]))
    return 0
