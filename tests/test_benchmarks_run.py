"""The benchmarks run: each one's --quick mode, in a subprocess, prints what it reports."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_script

WAYS = (
    "plain fit",
    "GradientDiagnostics",
    'on_nonfinite="stop"',
    "extra pass",
    "plain fit (control)",
    "plain, traced again",
)


@pytest.mark.slow
def test_diagnostics_overhead_quick_prints_the_ratios() -> None:
    output = run_script("benchmarks/diagnostics_overhead.py", "--quick")
    assert "60 steps x 1 rounds, log every\n20 steps" in output
    speed, cpu = {}, {}
    for way in WAYS:
        line = re.search(
            rf"^  {re.escape(way)} +([\d.]+) steps/s ([\d.]+) \[([\d.]+)-([\d.]+)\] +"
            r"([\d.]+) CPU ms/step ([\d.]+) \[([\d.]+)-([\d.]+)\]$",
            output,
            re.MULTILINE,
        )
        assert line, output
        steps_per_second, ratio, low, high, cpu_ms, cpu_ratio, cpu_low, cpu_high = map(
            float, line.groups()
        )
        assert steps_per_second > 0 and cpu_ms > 0
        # One round (--quick): the median ratio is that round's ratio, its quartiles equal it.
        assert low == ratio == high and cpu_low == cpu_ratio == cpu_high, line[0]
        speed[way], cpu[way] = (steps_per_second, ratio), (cpu_ms, cpu_ratio)
    plain_speed, plain_cpu = speed["plain fit"][0], cpu["plain fit"][0]
    for way in WAYS:
        # Throughput relative to plain fit; CPU time per step relative, inverted (below 1: costs
        # more), up to the printed rounding.
        assert speed[way][1] == pytest.approx(speed[way][0] / plain_speed, rel=0.01, abs=2e-3)
        assert cpu[way][1] == pytest.approx(plain_cpu / cpu[way][0], rel=0.02, abs=2e-3)
    assert speed["plain fit"][1] == cpu["plain fit"][1] == 1.0
    starts = {}
    for way in ("plain fit", "GradientDiagnostics"):
        line = re.search(rf"^  {way} +first fit ([\d.]+) s, second fit ([\d.]+) s$", output, re.M)
        assert line, output
        starts[way] = float(line[1]), float(line[2])
    # A second plain fit reuses the traced step; the first one traces it.
    assert starts["plain fit"][1] < starts["plain fit"][0]
