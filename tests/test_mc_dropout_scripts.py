"""The MC dropout example and benchmark run (quick settings) and print what they claim."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_script


def run_quick(path: str) -> str:
    return run_script(path, "--quick")


@pytest.mark.slow
def test_example_shows_uncertain_digits_are_the_mistakes() -> None:
    output = run_quick("examples/mc_dropout.py")
    # One row per training seed, then the means over seeds.
    seed_rows = re.findall(
        r"^\s*\d+\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", output, re.M
    )
    assert len(seed_rows) >= 2, output
    for plain_acc, mc_acc, _, _ in seed_rows:
        assert float(mc_acc) >= float(plain_acc) - 0.01
    accuracies = dict(re.findall(r"^\s*(plain|MC dropout)\s+([0-9.]+)", output, re.MULTILINE))
    assert float(accuracies["MC dropout"]) >= float(accuracies["plain"]) - 0.01
    mean_acc = sum(float(row[1]) for row in seed_rows) / len(seed_rows)
    assert abs(mean_acc - float(accuracies["MC dropout"])) < 1e-3
    assert re.search(r"per seed \(better/tied/worse\): \d+/\d+/\d+", output)
    assert re.search(r"MC NLL lower than plain on \d+ of \d+ seeds", output)
    assert "most uncertain fifth has the highest error rate: True" in output
    fifths = re.search(r"least -> most uncertain\), mean over seeds:\n\s+(.+)", output)
    assert fifths is not None
    rates = [float(rate) for rate in fifths.group(1).split()]
    assert len(rates) == 5 and rates[-1] == max(rates) > rates[0]


@pytest.mark.slow
def test_benchmark_quick_prints_the_three_cases() -> None:
    output = run_quick("benchmarks/mc_dropout.py")
    for case in ("(a) CNN", "(b) MLP", "(c) MLP"):
        line = next(line for line in output.splitlines() if line.startswith(case))
        assert re.search(r"[0-9.]+x", line), line
