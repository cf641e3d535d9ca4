"""``dnnkit lr-find``: a learning-rate range test of a deep MLP on the bundled digits."""

from __future__ import annotations

import argparse
import json
from typing import Any

from keras_dnnkit.cli._quiet import import_tensorflow_quietly


def add_parser(subparsers: Any) -> None:
    """Add the ``lr-find`` sub-command."""
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test of a deep MLP on the bundled digits",
        description="Run an exponential learning-rate range test (Nadam, ELU, He init, batch "
        "32) on scikit-learn's digits and print the suggested learning rates.",
    )
    parser.add_argument("--depth", type=int, default=20, help="hidden layers (default 20)")
    parser.add_argument("--steps", type=int, default=100, help="batches tried (default 100)")
    parser.add_argument("--min-lr", type=float, default=1e-7, help="first rate (default 1e-7)")
    parser.add_argument("--max-lr", type=float, default=10.0, help="last rate (default 10)")
    parser.add_argument("--plot", metavar="PATH", help="save the loss curve to PATH (a .png)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quick", action="store_true", help="a small run (CI smoke test)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Run the range test and report; return 0."""
    import_tensorflow_quietly()
    import keras

    from keras_dnnkit.data import load_digits
    from keras_dnnkit.lr_finder import find_learning_rate

    if arguments.depth < 1 or arguments.steps < 2:
        raise SystemExit(
            f"--depth must be >= 1 and --steps >= 2. Received: --depth={arguments.depth} "
            f"--steps={arguments.steps}"
        )
    depth, steps = (3, 30) if arguments.quick else (arguments.depth, arguments.steps)
    split = load_digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((split.x_train.shape[1],))])
    for _ in range(depth):
        model.add(keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"))
    model.add(keras.layers.Dense(split.num_classes, activation="softmax"))
    model.compile(keras.optimizers.Nadam(), "sparse_categorical_crossentropy")
    result = find_learning_rate(
        model,
        split.x_train,
        split.y_train,
        min_lr=arguments.min_lr,
        max_lr=arguments.max_lr,
        steps=steps,
        batch_size=32,
    )
    if arguments.plot:
        result.plot().savefig(arguments.plot)
    if arguments.json:
        print(
            json.dumps(
                {
                    "suggestions": result.suggestions,
                    "stop_reason": result.stop_reason,
                    "learning_rates": result.learning_rates.tolist(),
                    "losses": result.losses.tolist(),
                }
            )
        )
        return 0
    print(
        f"{depth} x 100 ELU MLP, Nadam, batch 32: {len(result.learning_rates)} steps "
        f"from {arguments.min_lr:g} ({result.stop_reason})"
    )
    for name, value in result.suggestions.items():
        print(f"  {name:<16} {value:.3g}")
    if arguments.plot:
        print(f"plot saved to {arguments.plot}")
    return 0
