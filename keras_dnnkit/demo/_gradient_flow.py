"""The "gradient flow" figure: per-layer gradient norms of each configuration, log scale."""

from __future__ import annotations

import os
from collections.abc import Sequence


def plot_gradient_flow(
    runs: Sequence[tuple[str, Sequence[tuple[str, float]]]], path: str | os.PathLike[str]
) -> str:
    """Write a PNG with one line per run: gradient norm by layer (input to output), log y axis.

    Args:
        runs: ``(label, [(layer name, gradient norm), ...])`` per configuration.
        path: the PNG file to write.

    Returns:
        The path written.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "flow.png")
        >>> plot_gradient_flow([("a", [("hidden_01", 1e-6), ("output", 1.0)])], path) == path
        True
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.5), dpi=100)
    axes = figure.add_subplot()
    longest: Sequence[tuple[str, float]] = ()
    for label, norms in runs:
        values = [max(norm, 1e-30) for _, norm in norms]
        axes.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        longest = norms if len(norms) > len(longest) else longest
    axes.set_yscale("log")
    axes.set_xlabel("layer (input -> output)")
    axes.set_ylabel("gradient L2 norm (median of last logged steps)")
    axes.set_title("Gradient flow")
    step = max(1, len(longest) // 12)
    ticks = list(range(1, len(longest) + 1, step))
    axes.set_xticks(ticks, [longest[i - 1][0] for i in ticks], rotation=45, ha="right")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(os.fspath(path))
    return os.fspath(path)
