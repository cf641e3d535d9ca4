"""benchmarks/one_cycle.py --quick runs and reports both methods' budgets and their ratio."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_script


@pytest.mark.slow
def test_quick_benchmark_reports_budgets_and_ratio() -> None:
    output = run_script("benchmarks/one_cycle.py", "--quick")
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["seeds"] == 2 and summary["target"] == 0.8
    assert set(summary["epochs_constant"]) == {"0.003"}
    if summary["epochs_one_cycle"] and summary["epochs_best_constant"]:
        assert summary["ratio"] == summary["epochs_one_cycle"] / summary["epochs_best_constant"]
    assert "1cycle max_lr 0.003, 1 epochs" in output
