"""Installed plugins found through real distribution metadata on sys.path (no pip needed)."""

import textwrap

import pytest

from keras_dnnkit import PluginError, Registry


def make_distribution(root, name, version, plugin_name, module, source):
    """Write an installed distribution (dist-info with an entry point) and its module."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[keras_dnnkit]\n{plugin_name} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
    import keras
    import keras_dnnkit

    @keras_dnnkit.hookimpl
    def dnnkit_register_optimizers(register):
        register(keras.optimizers.Lion, name="lion")
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    make_distribution(tmp_path, "good-plugin", "1.2.0", "good", "good_dnnkit_plugin", GOOD)
    make_distribution(
        tmp_path,
        "broken-plugin",
        "0.3.1",
        "broken",
        "broken_dnnkit_plugin",
        "import not_a_real_module_anywhere\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(site):
    with pytest.raises(PluginError) as error:
        Registry(environ={}).load()
    message = str(error.value)
    assert "plugin 'broken' (distribution broken-plugin 0.3.1) failed to import" in message
    assert "ModuleNotFoundError: No module named 'not_a_real_module_anywhere'" in message
    assert "KERAS_DNNKIT_DISABLE_PLUGINS=broken" in message
    assert (error.value.distribution, error.value.version) == ("broken-plugin", "0.3.1")


def test_disabling_the_broken_plugin_loads_the_rest(site):
    registry = Registry(environ={"KERAS_DNNKIT_DISABLE_PLUGINS": "broken"})
    assert "lion" in registry.names("optimizer")
    good = next(p for p in registry.list_plugins() if p.name == "good")
    assert (good.distribution, good.version, good.builtin) == ("good-plugin", "1.2.0", False)


def test_load_plugins_selects_which_installed_plugins_load(site):
    assert "lion" in Registry(environ={"KERAS_DNNKIT_LOAD_PLUGINS": "good"}).names("optimizer")
    none = Registry(environ={"KERAS_DNNKIT_LOAD_PLUGINS": ""})
    assert "lion" not in none.names("optimizer")
    assert all(p.builtin for p in none.list_plugins())


def test_naming_a_plugin_that_is_not_installed_warns(site):
    with pytest.warns(
        UserWarning, match="KERAS_DNNKIT_LOAD_PLUGINS names plugins that are not installed: nope"
    ):
        Registry(environ={"KERAS_DNNKIT_LOAD_PLUGINS": "good,nope"}).load()
