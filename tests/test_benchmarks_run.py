"""The benchmarks run: each one's --quick mode, in a subprocess, prints what it reports."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_script

WAYS = ("plain fit", "GradientDiagnostics", "extra pass")


@pytest.mark.slow
def test_diagnostics_overhead_quick_prints_the_ratios() -> None:
    output = run_script("benchmarks/diagnostics_overhead.py", "--quick")
    ratios = {}
    for way in WAYS:
        line = re.search(
            rf"^  {re.escape(way)} +([\d.]+) steps/s ([\d.]+) \[[\d.]+-[\d.]+\] +"
            r"([\d.]+) CPU ms/step ([\d.]+) \[[\d.]+-[\d.]+\]$",
            output,
            re.MULTILINE,
        )
        assert line, output
        assert float(line[1]) > 0 and float(line[3]) > 0
        ratios[way] = float(line[2])
        assert float(line[4]) > 0
    assert ratios["plain fit"] == 1.0
    assert all(ratio > 0 for ratio in ratios.values())
    for way in ("plain fit", "GradientDiagnostics"):
        assert re.search(rf"^  {way} +first fit [\d.]+ s, second fit [\d.]+ s$", output, re.M)
