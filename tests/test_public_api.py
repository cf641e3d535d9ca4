"""The public surface, listed: removing or renaming a name is a visible, deliberate change."""

import doctest
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PUBLIC = {
    "keras_dnnkit": [
        "KINDS", "Component", "DnnkitError", "DuplicateComponentError", "Kind",
        "LRFinderResult", "MCPrediction", "NonfiniteGradientsError", "PluginError",
        "PluginInfo", "Register", "Registry", "Schedule", "UnknownComponentError",
        "__version__", "activations", "callbacks", "constraints", "default_registry",
        "find_learning_rate", "get", "hookimpl", "initializers", "layers", "list_plugins",
        "load_model", "mc_predict", "names", "optimizers", "schedules", "uncertainty",
    ],
    "keras_dnnkit.activations": ["ConfiguredActivation"],
    "keras_dnnkit.callbacks": [
        "ActivationDiagnostics", "DiagnosticsWarning", "GradientDiagnostics",
        "LearningRateLogger", "MomentumScheduler", "ReduceLROnPlateau",
    ],
    "keras_dnnkit.constraints": ["max_norm", "min_max_norm"],
    "keras_dnnkit.data": ["Split", "load_digits"],
    "keras_dnnkit.diagnostics": [
        "PROBLEMS", "ActivationDiagnostics", "Finding", "GradientDiagnostics", "Problem",
        "Thresholds", "gradient_findings", "nonfinite_finding", "read_findings",
    ],
    "keras_dnnkit.errors": [
        "DnnkitError", "DuplicateComponentError", "KerasVersionError", "NonfiniteGradientsError",
        "PluginError", "UnknownComponentError",
    ],
    "keras_dnnkit.initializers": ["HeAvgNormal", "HeAvgUniform", "StandardNormal"],
    "keras_dnnkit.layers": ["MCAlphaDropout", "MCDropout", "Maxout", "RandomizedLeakyReLU"],
    "keras_dnnkit.lr_finder": ["LRFinderResult", "find_learning_rate"],
    "keras_dnnkit.optimizers": ["momentum", "nesterov"],
    "keras_dnnkit.registry": [
        "Component", "PluginInfo", "Registry", "default_registry", "get", "list_plugins",
        "load_model", "names",
    ],
    "keras_dnnkit.schedules": [
        "Cyclic", "OneCycle", "Power", "ScaledSchedule", "exponential", "plot_schedule", "preview",
    ],
    "keras_dnnkit.uncertainty": [
        "MCPrediction", "ReliabilityBins", "brier_score", "expected_calibration_error",
        "mc_predict", "negative_log_likelihood", "reliability_bins", "reliability_diagram",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_exist_and_are_exactly_all(module_name):
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in PUBLIC[module_name]:
        assert getattr(module, name) is not None, name


def _doctests_of(obj):
    """The doctests pytest's --doctest-modules collects from ``obj``'s docstring."""
    module = sys.modules[obj.__module__]
    name = f"{module.__name__}.{obj.__qualname__}"
    return [t for t in doctest.DocTestFinder().find(module) if t.name == name]


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_callables_have_docstrings_with_examples(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if (
            callable(obj)
            and not isinstance(obj, type(importlib))
            and getattr(obj, "__module__", "").startswith("keras_dnnkit")
        ):
            assert (obj.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"
            # A real example: doctest finds it where pytest collects it (keras_dnnkit/ is a
            # test path), and at least one line shows an output that doctest compares.
            tests = _doctests_of(obj)
            examples = [e for t in tests for e in t.examples]
            assert examples, f"{module_name}.{name} has no >>> example in its docstring"
            assert any(e.want.strip() for e in examples), (
                f"{module_name}.{name}'s example shows no output for doctest to check"
            )
            path = Path(tests[0].filename).resolve()
            assert path.is_relative_to(ROOT / "keras_dnnkit"), path


def test_package_ships_type_information():
    spec = importlib.util.find_spec("keras_dnnkit")
    assert spec.origin is not None
    assert (importlib.resources.files("keras_dnnkit") / "py.typed").is_file()
