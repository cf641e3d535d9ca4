"""The diagnosis benchmark's quick form runs, each case in its own process, and is right."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_script


@pytest.mark.slow
def test_diagnosis_quick_names_the_broken_case_and_clears_the_healthy_one() -> None:
    output = run_script("benchmarks/diagnosis.py", "--quick", timeout=600)
    rows = dict(re.findall(r"^\| (\S+) \| .*? \| (yes|NO) \| val acc", output, re.MULTILINE))
    assert rows == {"sgd_rate_1e-7": "yes", "sgd_nesterov_relu_dropout": "yes"}, output
    assert re.search(
        r"^\| sgd_rate_1e-7 \| updates_too_small \| updates_too_small \|", output, re.M
    )
    assert re.search(r"^\| sgd_nesterov_relu_dropout \| healthy \| none \|", output, re.M)
    # The facts bear the labels out: the broken net does not learn, the healthy one does.
    accuracy = dict(re.findall(r"^\| (\S+) \|.*?val acc ([\d.]+)", output, re.MULTILINE))
    assert (
        float(accuracy["sgd_rate_1e-7"]) < 0.2 < 0.8 < float(accuracy["sgd_nesterov_relu_dropout"])
    )
    assert "recall on the broken cases: 1/1" in output
    assert "false alarms on the healthy cases: 0/1" in output
