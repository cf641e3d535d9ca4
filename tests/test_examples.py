"""The scripts in examples/ run on tiny settings and print what they promise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.slow


def run_example(name: str, *arguments: str, timeout: float = 240) -> str:
    """Run ``examples/<name>`` in a fresh interpreter; return its stdout, fail on non-zero."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    return result.stdout


def table_rows(output: str) -> dict[tuple[str, str], list[str]]:
    """The vanishing-gradients table, by (activation, initializer)."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) >= 9 and re.fullmatch(r"[\d.]+e[+-]\d+", cells[2]):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def test_vanishing_gradients_names_what_goes_wrong() -> None:
    output = run_example("vanishing_gradients.py", "--quick")
    rows = table_rows(output)
    assert len(rows) == 8, output
    verdict = {key: " ".join(cells[6:]) for key, cells in rows.items()}
    assert verdict[("sigmoid", "glorot_normal")] == "vanishing gradients"
    assert verdict[("sigmoid", "standard_normal")] == "saturated units"
    assert verdict[("tanh", "standard_normal")] == "exploding gradients"
    for healthy in (("tanh", "glorot_normal"), ("elu", "he_normal"), ("selu", "lecun_normal")):
        assert verdict[healthy] == "healthy", output
        assert 1e-2 < float(rows[healthy][4]) < 1e2  # first/last gradient variance ratio
    assert float(rows[("sigmoid", "glorot_normal")][4]) < 1e-3


def test_max_norm_caps_every_unit() -> None:
    output = run_example("max_norm.py", "--quick", "--max-value", "0.8")
    found = dict(
        re.findall(r"^(no constraint|max_norm\(0\.8\)) .*largest unit norm ([\d.]+)", output, re.M)
    )
    assert set(found) == {"no constraint", "max_norm(0.8)"}, output
    assert float(found["max_norm(0.8)"]) <= 0.8 + 1e-3
    assert float(found["no constraint"]) > 0.8
    accuracies = [float(a) for a in re.findall(r"validation accuracy ([\d.]+)", output)]
    assert len(accuracies) == 2 and min(accuracies) > 0.5, output


def test_custom_plugin_registers_trains_and_round_trips() -> None:
    output = run_example("custom_plugin.py", "--quick")
    assert "plugin squareplus_plugin registered" in output
    assert "'activation': ('squareplus',)" in output
    assert "'initializer': ('scaled_he_normal',)" in output
    accuracy = float(re.search(r"validation accuracy ([\d.]+)", output).group(1))  # type: ignore[union-attr]
    assert accuracy > 0.3, output
    assert "first layer's activation is squareplus" in output
