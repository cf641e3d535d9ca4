"""``dnnkit demo``: why deep networks were hard to train in 2010, and what fixes it today.

The same deep MLP trains twice with the diagnostics on, each into its own TensorBoard run:
as Glorot & Bengio (2010) trained it (sigmoid, U[-1/sqrt(n), 1/sqrt(n)] weights, plain SGD),
whose gradients vanish, and as recommended today (He initialization, ELU, batch
normalization, Nadam and 1cycle). Then MC dropout on the recommended model, what went
wrong, which change fixes the gradients by how much (one row per change), a gradient-flow
figure and the commands to run next.

Example:
    >>> from keras_dnnkit import demo
    >>> demo.DemoOptions().depth
    20
"""

from keras_dnnkit.demo._ablation import ABLATION, AblationRow, ablation, ablation_table
from keras_dnnkit.demo._configurations import (
    CONFIGURATIONS,
    RECOMMENDED,
    TWENTY_TEN,
    Configuration,
    Recipe,
)
from keras_dnnkit.demo._datasets import DATASETS, DatasetUnavailableError, load_dataset
from keras_dnnkit.demo._gradient_flow import plot_gradient_flow
from keras_dnnkit.demo._run import DemoOptions, comparison_table, default_log_dir, run_demo
from keras_dnnkit.demo._training import EpochPrinter, RunResult, train_configuration
from keras_dnnkit.demo._uncertainty import MCDropoutSummary, summarize_mc_dropout

__all__ = [
    "ABLATION",
    "CONFIGURATIONS",
    "DATASETS",
    "RECOMMENDED",
    "TWENTY_TEN",
    "AblationRow",
    "Configuration",
    "DatasetUnavailableError",
    "DemoOptions",
    "EpochPrinter",
    "MCDropoutSummary",
    "Recipe",
    "RunResult",
    "ablation",
    "ablation_table",
    "comparison_table",
    "default_log_dir",
    "load_dataset",
    "plot_gradient_flow",
    "run_demo",
    "summarize_mc_dropout",
    "train_configuration",
]
