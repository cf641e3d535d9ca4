"""The benchmarks run: each one's --quick mode, in a subprocess, prints what it reports."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

WAYS = ("plain fit", "GradientDiagnostics", "extra pass")


@pytest.mark.slow
def test_diagnostics_overhead_quick_prints_the_ratios() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "diagnostics_overhead.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ratios = {}
    for way in WAYS:
        line = re.search(
            rf"^  {re.escape(way)} +([\d.]+) steps/s  ratio ([\d.]+)  overhead +[-+][\d.]+%  "
            r"first step [\d.]+ s",
            result.stdout,
            re.MULTILINE,
        )
        assert line, result.stdout
        assert float(line[1]) > 0
        ratios[way] = float(line[2])
    assert ratios["plain fit"] == 1.0
    assert all(ratio > 0 for ratio in ratios.values())
