"""The example plugin, pip-installed for real: discovery, use by name, save/load, disabling."""

import json

import pytest

from tests.conftest import EXAMPLE_PLUGIN, run_python


@pytest.mark.slow
def test_plugin_is_discovered_and_listed(example_plugin_installed):
    result = run_python(
        """
        import json, keras_dnnkit
        print(json.dumps([p.to_dict() for p in keras_dnnkit.list_plugins()]))
        """
    )
    plugins = {p["name"]: p for p in json.loads(result.stdout.splitlines()[-1])}
    assert plugins["example"]["distribution"] == "dnnkit-example-plugin"
    assert plugins["example"]["version"] == "0.1.0"
    assert plugins["example"]["registered"] == {
        "activation": ["squareplus"],
        "constraint": ["clip_weights"],
    }


@pytest.mark.slow
def test_plugin_components_train_save_and_load_in_a_fresh_process(
    example_plugin_installed, tmp_path
):
    path = tmp_path / "model.keras"
    run_python(
        f"""
        import keras, numpy as np, keras_dnnkit
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(8, activation=keras_dnnkit.get("activation", "squareplus"),
                kernel_constraint=keras_dnnkit.get("constraint", "clip_weights", limit=0.2)),
            keras.layers.Dense(1),
        ])
        model.compile(optimizer=keras_dnnkit.get("optimizer", "adam", learning_rate=0.1), loss="mse")
        x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
        assert float(np.abs(model.layers[0].kernel.numpy()).max()) <= 0.2 + 1e-6
        model.save({str(path)!r})
        np.save({str(tmp_path / "x.npy")!r}, x)
        np.save({str(tmp_path / "y.npy")!r}, model.predict(x, verbose=0))
        """
    )
    run_python(
        f"""
        import numpy as np, keras_dnnkit
        model = keras_dnnkit.load_model({str(path)!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.testing.assert_array_equal(model.predict(x, verbose=0), np.load({str(tmp_path / "y.npy")!r}))
        assert model.layers[0].kernel_constraint.limit == 0.2
        """
    )


@pytest.mark.slow
def test_disabling_the_plugin_removes_its_components(example_plugin_installed):
    code = """
        import keras_dnnkit
        try:
            keras_dnnkit.get("activation", "squareplus")
        except keras_dnnkit.UnknownComponentError as error:
            print("unknown:", error)
        else:
            print("found")
        print(sorted(p.name for p in keras_dnnkit.list_plugins() if not p.builtin))
    """
    disabled = run_python(code, env={"KERAS_DNNKIT_DISABLE_PLUGINS": "example"}).stdout
    assert "unknown: Unknown activation 'squareplus'" in disabled and "[]" in disabled
    none = run_python(code, env={"KERAS_DNNKIT_LOAD_PLUGINS": ""}).stdout
    assert "unknown:" in none
    only = run_python(code, env={"KERAS_DNNKIT_LOAD_PLUGINS": "example"}).stdout
    assert "found" in only and "['example']" in only


@pytest.mark.slow
def test_plugin_cli_listing(example_plugin_installed):
    result = run_python(
        "from keras_dnnkit.cli.main import main; raise SystemExit(main(['list', 'activation']))"
    )
    assert any(
        line.split() == ["activation", "squareplus", "example"]
        for line in result.stdout.splitlines()
    )


@pytest.mark.slow
def test_plugins_own_test_suite_passes_against_the_installed_package(example_plugin_installed):
    result = run_python(
        f"import pytest, sys; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
        f"'--rootdir', {str(EXAMPLE_PLUGIN)!r}, {str(EXAMPLE_PLUGIN / 'tests')!r}]))",
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
