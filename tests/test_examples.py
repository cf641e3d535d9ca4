"""The scripts in examples/ run on tiny settings and print what they promise."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, run_script

EXAMPLES = ROOT / "examples"


def run_example(name: str, *arguments: str, timeout: float = 240) -> str:
    """Run ``examples/<name>`` in a fresh interpreter; return its stdout, fail on non-zero."""
    return run_script(f"examples/{name}", *arguments, timeout=timeout)


def table_rows(output: str) -> dict[tuple[str, str], list[str]]:
    """The vanishing-gradients table, by (activation, initializer)."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) >= 9 and re.fullmatch(r"[\d.]+e[+-]\d+", cells[2]):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_custom_plugin_registers_trains_and_round_trips() -> None:
    output = run_example("custom_plugin.py", "--quick")
    assert "plugin bent_identity_plugin registered" in output
    assert "'activation': ('bent_identity',)" in output
    assert "'initializer': ('scaled_he_normal',)" in output
    accuracy = float(re.search(r"validation accuracy ([\d.]+)", output).group(1))  # type: ignore[union-attr]
    assert accuracy > 0.3, output
    assert "first layer's activation is bent_identity" in output


@pytest.mark.slow
def test_one_cycle_previews_and_trains() -> None:
    output = run_example("one_cycle.py", "--quick")
    start, peak, end = (
        float(v)
        for v in re.search(
            r"lr ([\d.e+-]+) -> ([\d.e+-]+) \(step \d+\) -> ([\d.e+-]+);", output
        ).groups()  # type: ignore[union-attr]
    )
    assert peak == pytest.approx(3e-3) and start == pytest.approx(3e-3 / 25)
    assert end < start / 1000
    assert re.search(r"beta_1 0\.95 -> 0\.85 -> 0\.95", output), output
    accuracies = dict(
        re.findall(r"^(constant|1cycle) .*validation accuracy ([\d.]+)$", output, re.M)
    )
    assert set(accuracies) == {"constant", "1cycle"}, output
    assert all(float(a) > 0.5 for a in accuracies.values())


@pytest.mark.slow
def test_performance_scheduling_scales_the_schedule() -> None:
    output = run_example(
        "performance_scheduling.py", "--quick", "--patience", "1", "--min-delta", "0.5"
    )
    assert "Keras' ReduceLROnPlateau with a schedule: TypeError" in output
    rates = [
        float(r) for r in re.findall(r"^epoch +\d+ .*learning rate ([\d.e+-]+)$", output, re.M)
    ]
    assert len(rates) == 4 and rates == sorted(rates, reverse=True), output
    scheduled, applied, factor, k = re.search(
        r"schedule alone ([\d.e+-]+), applied ([\d.e+-]+) = schedule x ([\d.]+)\^(\d+)", output
    ).groups()  # type: ignore[union-attr]
    assert int(k) >= 1, output
    assert float(applied) == pytest.approx(float(scheduled) * float(factor) ** int(k), rel=1e-2)


@pytest.mark.slow
def test_lr_finder_suggests_and_restores() -> None:
    output = run_example("lr_finder.py", "--quick")
    assert re.search(r"range test: \d+ batches, lr 1\.0e-05 -> ", output), output
    suggestions = dict(re.findall(r"^suggestion (\w+): ([\d.e+-]+)$", output, re.M))
    assert set(suggestions) == {"steepest", "minimum_over_10", "valley"}, output
    assert all(1e-5 <= float(v) <= 10 for v in suggestions.values())
    assert "model and optimizer restored: True" in output
    chosen = float(re.search(r"at lr ([\d.e+-]+): validation accuracy", output).group(1))  # type: ignore[union-attr]
    assert chosen == pytest.approx(float(suggestions["minimum_over_10"]), rel=1e-2)
