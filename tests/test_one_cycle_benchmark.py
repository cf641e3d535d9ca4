"""benchmarks/one_cycle.py --quick runs and reports both methods' budgets and their ratio."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_script


@pytest.mark.slow
def test_quick_benchmark_reports_budgets_and_ratio() -> None:
    output = run_script("benchmarks/one_cycle.py", "--quick")
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["seeds"] == 2 and summary["target"] == 0.8
    assert set(summary["epochs_constant"]) == {"0.003"}
    # Recompute the budgets from the per-epoch and per-budget medians the run printed.
    curve = json.loads(
        re.search(r"^constant 0\.003: median val acc by epoch (\[.*\])$", output, re.M)[1]
    )
    assert len(curve) == 2 and max(curve) > 0.3, curve  # it learned (chance is 0.1)
    reached = [epoch for epoch, accuracy in enumerate(curve, 1) if accuracy >= 0.8]
    assert summary["epochs_constant"]["0.003"] == (reached[0] if reached else None)
    assert summary["epochs_best_constant"] == summary["epochs_constant"]["0.003"]
    finals = re.findall(
        r"^1cycle max_lr 0\.003, (\d+) epochs: median val acc ([\d.]+)$", output, re.M
    )
    assert finals and finals[0][0] == "1"
    one_cycle = next((int(b) for b, accuracy in finals if float(accuracy) >= 0.8), None)
    assert summary["epochs_one_cycle"] == one_cycle
    # The run stops at the first budget that reaches the target.
    assert [budget for budget, _ in finals] == (["1"] if one_cycle == 1 else ["1", "2"])
    if one_cycle is None or summary["epochs_best_constant"] is None:
        assert summary["ratio"] is None
    else:
        assert summary["ratio"] == one_cycle / summary["epochs_best_constant"]
