"""``dnnkit demo`` end to end: train both configurations, compare, MC dropout, figure."""

from __future__ import annotations

import math
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keras_dnnkit.demo._ablation import BATCH, ablation, ablation_table, largest_gain
from keras_dnnkit.demo._configurations import CONFIGURATIONS
from keras_dnnkit.demo._datasets import DatasetUnavailableError, load_dataset
from keras_dnnkit.demo._gradient_flow import plot_gradient_flow
from keras_dnnkit.demo._training import RunResult, train_configuration
from keras_dnnkit.demo._uncertainty import summarize_mc_dropout

FIGURE_NAME = "gradient_flow.png"


def default_log_dir() -> str:
    """Return ``runs/demo-<timestamp>``.

    Example:
        >>> default_log_dir().startswith("runs/demo-")
        True
    """
    return os.path.join("runs", time.strftime("demo-%Y%m%d-%H%M%S"))


@dataclass(frozen=True)
class DemoOptions:
    """What ``dnnkit demo`` is asked to do.

    Attributes:
        epochs: training epochs per configuration.
        depth: hidden layers.
        log_dir: where the TensorBoard runs and the figure go (default: timestamped).
        seed: random seed (data split, initialization, dropout, MC sampling).
        dataset: ``digits`` (bundled), ``mnist`` or ``fashion_mnist``.
        mc_samples: Monte-Carlo dropout samples per test example.

    Example:
        >>> DemoOptions(quick=True).resolved().depth
        5
    """

    epochs: int = 10
    depth: int = 20
    log_dir: str | None = None
    seed: int = 0
    dataset: str = "digits"
    mc_samples: int = 100
    quick: bool = False

    def resolved(self) -> DemoOptions:
        """Return the options with ``quick`` applied (a tiny, fast run) and checked.

        Raises:
            ValueError: ``epochs``, ``depth`` or ``mc_samples`` below 1.
        """
        for name in ("epochs", "depth", "mc_samples"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"Argument {name} must be >= 1. Received: {name}={value!r}")
        if not self.quick:
            return self
        return DemoOptions(
            min(self.epochs, 2), min(self.depth, 5), self.log_dir, self.seed, self.dataset, 20
        )


def _findings_cell(result: RunResult) -> str:
    if not result.findings:
        return "none"
    problems: dict[str, list[str]] = {}
    for finding in result.findings:
        problems.setdefault(finding.problem.replace("_", " "), []).append(finding.layer or "-")
    return "; ".join(f"{problem} ({', '.join(layers)})" for problem, layers in problems.items())


def comparison_table(results: Sequence[RunResult]) -> str:
    """Return the side-by-side table: one column per configuration.

    Example:
        >>> from keras_dnnkit.demo._configurations import RECOMMENDED
        >>> result = RunResult(RECOMMENDED, "runs/x", 0.95, [("hidden_01", 0.2), ("output", 0.1)])
        >>> print(comparison_table([result]).splitlines()[2])
        validation accuracy         0.950
    """
    from keras_dnnkit.cli._table import format_table

    def norm(result: RunResult, position: int) -> str:
        if not result.layer_norms:
            return "n/a"
        name, value = result.layer_norms[position]
        return f"{value:.2e} ({name})"

    rows = [
        ["recipe", *(r.configuration.description for r in results)],
        ["validation accuracy", *(f"{r.validation_accuracy:.3f}" for r in results)],
        ["gradient norm, first layer", *(norm(r, 0) for r in results)],
        ["gradient norm, last layer", *(norm(r, -1) for r in results)],
        ["first / last", *(f"{r.first_to_last_ratio():.2e}" for r in results)],
        ["findings", *(_findings_cell(r) for r in results)],
    ]
    return format_table(rows, header=["", *(r.configuration.title for r in results)])


def command_path(name: str) -> str:
    """How to call this environment's console script ``name`` so that it runs as printed.

    Relative to the working directory when the script lies below it (``.venv/bin/...``),
    the bare name when it is first on ``PATH``, its absolute path otherwise.

    Example:
        >>> command_path("tensorboard").endswith("tensorboard")
        True
    """
    script = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(script):
        return name
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(script):
        return name
    relative = os.path.relpath(script)
    return relative if not relative.startswith(os.pardir) else os.path.abspath(script)


def next_commands(log_dir: str) -> list[str]:
    """The commands to run next, each a whole shell line (what it does in a comment).

    Example:
        >>> [line.split()[1] for line in next_commands("runs/demo-x")][:2]
        ['--logdir', 'report']
    """
    quoted = shlex.quote(log_dir)
    lines = [
        f"{command_path('tensorboard')} --logdir {quoted}   "
        "# then open http://localhost:6006/#dnnkit, the keras-dnnkit tab",
        f"{command_path('dnnkit')} report {quoted}   # each run's table and findings, compared",
    ]
    if os.path.abspath(log_dir).startswith(os.path.abspath("runs") + os.sep):
        lines.append("make tensorboard   # every run under runs/")
    return lines


def what_went_wrong(results: Sequence[RunResult], classes: int) -> list[str]:
    """The story's ending in words, from the measured numbers.

    Example:
        >>> from keras_dnnkit.demo._configurations import RECOMMENDED, TWENTY_TEN
        >>> old = RunResult(TWENTY_TEN, "a", 0.1, [("hidden_01", 1e-17), ("output", 0.1)])
        >>> new = RunResult(RECOMMENDED, "b", 0.93, [("hidden_01", 0.2), ("output", 0.1)])
        >>> print(what_went_wrong([old, new], 10)[0])
        In the 2010 run the first hidden layer's gradient is 1e-16 of the output layer's (recommended: 2): each of the 1 layers it passes through scales it by about 1e-16 on the way down.
    """  # noqa: E501 -- a doctest's expected output is one line
    old, new = results[0], results[-1]
    layers = max(1, len(old.layer_norms) - 1)
    ratio = old.first_to_last_ratio()
    factor = ratio ** (1 / layers) if ratio > 0 else math.nan
    lines = [
        f"In the {old.configuration.title.split()[0]} run the first hidden layer's gradient is "
        f"{ratio:.0e} of the output layer's ({new.configuration.title}: "
        f"{new.first_to_last_ratio():.2g}): each of the {layers} layers it passes through scales "
        f"it by about {factor:.2g} on the way down.",
        "Sigmoid's slope is at most 0.25, and U[-1/sqrt(n), 1/sqrt(n)] weights have a third of "
        "the variance that keeps a signal's scale: the product over the layers vanishes, so "
        "the first layers barely learn.",
        f"Validation accuracy: {old.validation_accuracy:.2f} (chance: {1 / classes:.2f}) against "
        f"{new.validation_accuracy:.2f}.",
    ]
    saturated = [f for f in old.findings if f.problem == "saturated_units"]
    if saturated:
        lines.append(
            "A second, separate finding: saturated units "
            f"({', '.join(sorted({f.layer or '-' for f in saturated}))}); see its message above."
        )
    return lines


def run_demo(options: DemoOptions, write: Callable[[str], Any] = print) -> int:
    """Run the demo and return an exit status (0, or 2 when the data set is unavailable).

    Example:
        >>> run_demo(DemoOptions(depth=0), write=lambda line: None)
        Traceback (most recent call last):
        ...
        ValueError: Argument depth must be >= 1. Received: depth=0
    """
    options = options.resolved()
    log_dir = options.log_dir or default_log_dir()
    try:
        split = load_dataset(options.dataset, seed=options.seed)
    except DatasetUnavailableError as error:
        print(f"dnnkit demo: {error}", file=sys.stderr)
        return 2
    write(
        f"keras-dnnkit demo: {options.depth} hidden layers x 100 units on {options.dataset} "
        f"({len(split.x_train)} train / {len(split.x_valid)} validation / {len(split.x_test)} "
        f"test), {options.epochs} epochs per configuration. Log dir: {log_dir}"
    )
    results = []
    for configuration in CONFIGURATIONS:
        write(f"\n== {configuration.title}: {configuration.description}")
        results.append(
            train_configuration(
                configuration,
                split,
                depth=options.depth,
                epochs=options.epochs,
                log_dir=log_dir,
                seed=options.seed,
                write=write,
            )
        )
    write("\n== Comparison (gradient norms: median over the last logged steps)")
    write(comparison_table(results))
    for result in results:
        for finding in result.findings:
            write(f"  {result.configuration.title}: {finding.message}")
    recommended = results[-1]
    write(f"\n== MC dropout on the {recommended.configuration.title} model (test set)")
    summary = summarize_mc_dropout(
        recommended.model, split.x_test, split.y_test, samples=options.mc_samples, seed=options.seed
    )
    for line in summary.lines():
        write(line)
    figure = plot_gradient_flow(
        [(r.configuration.title, r.layer_norms) for r in results],
        os.path.join(log_dir, FIGURE_NAME),
    )
    write("\n== What went wrong")
    for line in what_went_wrong(results, split.num_classes):
        write(line)
    write(
        f"\n== What fixed it, one change at a time (first hidden layer's gradient norm / the "
        f"output layer's, at initialization, on one batch of {BATCH})"
    )
    rows = ablation(
        split.x_train,
        split.y_train,
        depth=options.depth,
        classes=split.num_classes,
        seed=options.seed,
    )
    write(ablation_table(rows))
    biggest = largest_gain(rows)
    if biggest is not None:
        write(f"The largest single gain: {biggest[0].lstrip('+ ')} (x{biggest[1]:.0e}).")
    write(
        "Nadam + 1cycle (the recommended run's optimizer) do not change the gradients at the "
        "start; they decide how training uses them: validation accuracy "
        f"{results[0].validation_accuracy:.2f} -> {recommended.validation_accuracy:.2f} above."
    )
    write(f"\nGradient flow figure: {figure}")
    write("\n== Next")
    for line in next_commands(log_dir):
        write(f"  {line}")
    return 0
