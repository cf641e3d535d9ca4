"""The dnnkit command line: plugins and list, as a user runs them."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_dnnkit import KINDS, names
from keras_dnnkit.cli.main import build_parser, main

DNNKIT = Path(sys.executable).with_name("dnnkit")


@pytest.mark.slow
def test_console_script_help_lists_every_command():
    result = subprocess.run([str(DNNKIT), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for command in ("plugins", "list", "demo"):
        assert command in result.stdout


COMMANDS = ["plugins", "list", "demo", "report", "lr-find"]


@pytest.mark.slow
def test_help_answers_in_under_a_second_without_tensorflow():
    code = (
        "import sys; from keras_dnnkit.cli.main import main\n"
        f"for argv in ([], *([c] for c in {COMMANDS!r})):\n"
        "    try: main([*argv, '--help'])\n"
        "    except SystemExit: pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
    for argv in ([], *([command] for command in COMMANDS)):
        start = time.perf_counter()
        result = subprocess.run([str(DNNKIT), *argv, "--help"], capture_output=True, timeout=60)
        seconds = time.perf_counter() - start
        assert result.returncode == 0 and b"usage: dnnkit" in result.stdout
        assert seconds < 1.0, (argv, seconds)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: dnnkit {command}" in capsys.readouterr().out


def test_plugins_json_describes_the_builtin_plugins(capsys):
    assert main(["plugins", "--json"]) == 0
    plugins = json.loads(capsys.readouterr().out)
    layers = next(p for p in plugins if p["name"] == "keras_dnnkit.layers")
    assert layers["builtin"] is True and layers["distribution"] == "keras-dnnkit"
    assert "maxout" in layers["registered"]["layer"]


def test_plugins_table(capsys):
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["plugin", "distribution", "version", "registered"]
    assert any(line.startswith("keras_dnnkit.optimizers") for line in lines)


def test_list_all_kinds_as_json(capsys):
    assert main(["list", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in records} == set(KINDS)
    assert len(records) == sum(len(names(kind)) for kind in KINDS)
    elu = next(r for r in records if (r["kind"], r["name"]) == ("activation", "elu"))
    assert elu["object"] == "keras.src.activations.activations.elu"


def test_list_one_kind_as_a_table(capsys):
    assert main(["list", "optimizer"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [row[1] for row in rows] == names("optimizer")
    assert all(row[0] == "optimizer" for row in rows)


def test_an_unknown_kind_is_a_usage_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["list", "optimizers"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'optimizers'" in error and "'optimizer'" in error
