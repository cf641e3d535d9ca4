"""benchmarks/one_cycle.py --quick runs and reports both methods' budgets and their ratio."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_quick_benchmark_reports_budgets_and_ratio() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "one_cycle.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["seeds"] == 2 and summary["target"] == 0.8
    assert set(summary["epochs_constant"]) == {"0.003"}
    if summary["epochs_one_cycle"] and summary["epochs_best_constant"]:
        assert summary["ratio"] == summary["epochs_one_cycle"] / summary["epochs_best_constant"]
    assert "1cycle max_lr 0.003, 1 epochs" in result.stdout
