"""``dnnkit demo``: why deep networks were hard to train in 2010, and what fixes it today.

The same deep MLP trains twice with the diagnostics on (sigmoid, N(0, 1) weights and plain
SGD; He initialization, ELU, batch normalization, Nadam and 1cycle), each into its own
TensorBoard run; then MC dropout on the recommended model, and a gradient-flow figure.

Example:
    >>> from keras_dnnkit import demo
    >>> demo.DemoOptions().depth
    20
"""

from keras_dnnkit.demo._configurations import CONFIGURATIONS, RECOMMENDED, TWENTY_TEN, Configuration
from keras_dnnkit.demo._datasets import DATASETS, DatasetUnavailableError, load_dataset
from keras_dnnkit.demo._gradient_flow import plot_gradient_flow
from keras_dnnkit.demo._run import DemoOptions, comparison_table, default_log_dir, run_demo
from keras_dnnkit.demo._training import EpochPrinter, RunResult, train_configuration
from keras_dnnkit.demo._uncertainty import MCDropoutSummary, summarize_mc_dropout

__all__ = [
    "CONFIGURATIONS",
    "DATASETS",
    "RECOMMENDED",
    "TWENTY_TEN",
    "Configuration",
    "DatasetUnavailableError",
    "DemoOptions",
    "EpochPrinter",
    "MCDropoutSummary",
    "RunResult",
    "comparison_table",
    "default_log_dir",
    "load_dataset",
    "plot_gradient_flow",
    "run_demo",
    "summarize_mc_dropout",
    "train_configuration",
]
