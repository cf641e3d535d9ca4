"""``dnnkit demo``: the main job (see :mod:`keras_dnnkit.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from keras_dnnkit.cli._quiet import import_tensorflow_quietly

DATASET_CHOICES = ("digits", "mnist", "fashion_mnist")


def add_parser(subparsers: Any) -> None:
    """Add the ``demo`` sub-command.

    Example:
        >>> from keras_dnnkit.cli.main import build_parser
        >>> build_parser().parse_args(["demo", "--quick"]).quick
        True
    """
    parser = subparsers.add_parser(
        "demo",
        help="the vanishing-gradients story end to end: 2010 defaults vs today's recipe",
        description="Train the same deep MLP as in 2010 (Glorot & Bengio's setting: sigmoid, "
        "U[-1/sqrt(n), 1/sqrt(n)] init, plain SGD), whose gradients vanish, and as "
        "recommended today (He init, ELU, batch norm, Nadam, 1cycle) with gradient and "
        "activation diagnostics; compare them, measure which change fixes the gradients "
        "(one row per change), run MC dropout on the recommended model, and write "
        "TensorBoard runs and a gradient-flow figure.",
    )
    parser.add_argument("--epochs", type=int, default=10, help="epochs per configuration (10)")
    parser.add_argument("--depth", type=int, default=20, help="hidden layers (default 20)")
    parser.add_argument("--logdir", default=None, help="log dir (default runs/demo-<timestamp>)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--dataset",
        choices=DATASET_CHOICES,
        default="digits",
        help="digits (bundled, default) or a Keras data set (needs its cache or a download)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny run for CI (about 20 s)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Run the demo with the parsed arguments; return its exit status."""
    print("keras-dnnkit demo: loading TensorFlow ...", flush=True)
    import_tensorflow_quietly()
    from keras_dnnkit.demo import DemoOptions, run_demo

    try:
        options = DemoOptions(
            epochs=arguments.epochs,
            depth=arguments.depth,
            log_dir=arguments.logdir,
            seed=arguments.seed,
            dataset=arguments.dataset,
            quick=arguments.quick,
        ).resolved()
    except ValueError as error:
        raise SystemExit(f"dnnkit demo: {error}") from error
    _fast_graph_building()
    return run_demo(options)


def _fast_graph_building() -> None:
    # The demo's deep, instrumented train steps spend most of their first epoch in
    # TensorFlow's graph optimizer (about 2x longer than without it, measured on 2 CPU
    # cores); this one-process command turns it off. The library itself never does.
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
