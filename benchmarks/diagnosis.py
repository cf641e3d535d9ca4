"""The diagnosis benchmark: labelled training cases, what the diagnostics find in each.

Each case trains one model on the bundled digits (or the digits read row by row, for the
recurrent cases) with the diagnostics attached, in a process of its own, and is labelled
with the problems it has (any of them counts as found; ``healthy``: none). The table prints,
per case, what was found (current findings) beside the case's own training facts, so that
its label is visibly borne out: the broken ones fail to learn or break the rule, the
healthy ones reach their accuracy. Then a confusion table (expected x found), the recall on
the broken cases and the false alarms on the healthy ones. The cases' models and training
are in ``benchmarks/_diagnosis_cases.py``.

    python benchmarks/diagnosis.py            # every case (about 15 min on a loaded 2-core CPU)
    python benchmarks/diagnosis.py --quick    # two cases, shorter training (a smoke run)
    python benchmarks/diagnosis.py --case sgd_rate_1e-7 --json   # one case, in this process

The parent process never imports TensorFlow; each case runs ``--case NAME`` in a child.
Exit status 1 when a broken case is missed or a healthy one raises a finding.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

HEALTHY = "healthy"


@dataclass(frozen=True)
class Case:
    """A labelled case: the problems it has (any of them counts), and how it is trained.

    ``builder`` names the function of ``_diagnosis_cases`` that builds it; ``monitors`` is
    ``"both"`` diagnostics callbacks or ``"gradients"`` (GradientDiagnostics alone).
    """

    name: str
    expected: tuple[str, ...]
    describe: str
    builder: str
    monitors: str = "both"
    quick: bool = False


UPDATES_LARGE = ("updates_too_large", "exploding_gradients", "nonfinite_gradients")
SATURATED = ("saturated_units", "updates_too_small")

CASES: tuple[Case, ...] = (
    Case("sigmoid_glorot_20", ("vanishing_gradients",),
         "20 x 100 sigmoid, Glorot uniform, SGD 0.01", "sigmoid_glorot"),
    Case("sigmoid_normal_20", SATURATED, "20 x 100 sigmoid, N(0, 1), SGD 0.01", "sigmoid_normal"),
    Case("sigmoid_normal_20_gradients_only", SATURATED,
         "the same, GradientDiagnostics alone", "sigmoid_normal", monitors="gradients"),
    Case("relu_bias_-3_8", ("dead_units",),
         "8 x 100 ReLU, He, bias -3, SGD 0.01", "relu_negative_bias"),
    Case("sgd_rate_3", ("nonfinite_gradients", "exploding_gradients"),
         "8 x 100 ELU, He, SGD 3.0", "sgd_rate_3"),
    Case("sgd_rate_1e-7", ("updates_too_small",),
         "20 x 100 ELU, He, SGD 1e-7", "sgd_rate_1e_7", quick=True),
    Case("overfitting_100_digits", ("overfitting",),
         "100 training digits, 4 x 256 ReLU, Adam 1e-3, 150 epochs", "overfitting"),
    Case("zero_init_tanh", ("symmetric_units",),
         "4 x 100 tanh, all weights 0, Adam 1e-3", "zero_initialization"),
    Case("raw_pixels_0_255", ("unnormalized_inputs",),
         "8 x 100 ReLU, inputs 0-255 unscaled, SGD 1e-3", "raw_pixels"),
    Case("selu_with_dropout", ("recipe",),
         "10 x 100 SELU, Glorot, plain Dropout 0.2, Nadam", "selu_with_dropout"),
    Case("simple_rnn_sgd_2_clipnorm_10", UPDATES_LARGE,
         "SimpleRNN 64 on digit rows, SGD 2.0, clipnorm 10", "simple_rnn_rate_2"),
    Case("he_elu_bn_nadam_20", (), "20 x 100 He + ELU + BN, Nadam 1e-3", "he_elu_bn_nadam"),
    Case("selu_lecun_20", (), "20 x 100 SELU, LeCun normal, Nadam 1e-3", "selu_lecun"),
    Case("bn_cnn", (), "2 conv + BN + ReLU, Adam 3e-3, 8x8 digits", "bn_cnn"),
    Case("lstm", (), "LSTM 64 on digit rows, Adam 3e-3", "lstm"),
    Case("one_cycle_elu_20", (), "20 x 100 ELU, He, Nadam, 1cycle 3e-3", "one_cycle_elu"),
    Case("sgd_nesterov_relu_dropout", (),
         "6 x 128 ReLU, He, dropout 0.1, SGD 0.02 Nesterov", "sgd_momentum_relu", quick=True),
)  # fmt: skip


def run_case(case: Case, quick: bool) -> dict[str, Any]:
    """Run one case in this process (TensorFlow is imported here)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _diagnosis_cases

    with tempfile.TemporaryDirectory() as log_dir:
        result = _diagnosis_cases.run_case(case.builder, case.monitors, quick, log_dir)
    return {"case": case.name, "expected": list(case.expected), **result}


def _run_in_subprocess(case: Case, quick: bool) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--case", case.name, "--json"]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"case {case.name} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# ---------------------------------------------------------------- the tables
def _label(expected: tuple[str, ...] | list[str]) -> str:
    return " or ".join(expected) if expected else HEALTHY


def _hit(result: dict[str, Any]) -> bool:
    found = set(result["found"])
    return bool(found & set(result["expected"])) if result["expected"] else not found


def _fact_line(facts: dict[str, Any]) -> str:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:.3g}"

    return (
        f"val acc {facts['val_accuracy']:.3f} (best {facts['best_val_accuracy']:.3f}), "
        f"train loss {number(facts['train_loss'])}, val loss {number(facts['val_loss'])} "
        f"(min {number(facts['min_val_loss'])}), "
        f"update/weight {number(facts['update_ratio_median'])}, "
        f"first-layer flow {number(facts['first_layer_flow'])}, NaN step "
        f"{number(facts['nonfinite_step'])}, inputs mean {facts['input_mean']:.3g} std "
        f"{facts['input_std']:.3g}; {facts['steps']} steps, {facts['seconds']:.0f} s"
    )


def print_tables(results: list[dict[str, Any]]) -> None:
    """Print each case's verdict and facts, the confusion table, recall and false alarms."""
    print("| case | expected | found (current) | ok | training facts |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        found = ", ".join(r["found"]) or "none"
        print(
            f"| {r['case']} | {_label(r['expected'])} | {found} | "
            f"{'yes' if _hit(r) else 'NO'} | {_fact_line(r['facts'])} |"
        )
    labels = sorted({_label(r["expected"]) for r in results})
    problems = sorted({p for r in results for p in r["found"]}) + ["none"]
    print()
    print("confusion (rows: expected, columns: found; a case counts once per problem found)")
    print("| expected \\ found | " + " | ".join(problems) + " |")
    print("| --- " * (len(problems) + 1) + "|")
    for label in labels:
        rows = [r for r in results if _label(r["expected"]) == label]
        counts = [sum(p in r["found"] for r in rows) for p in problems[:-1]]
        counts.append(sum(not r["found"] for r in rows))
        print(f"| {label} | " + " | ".join(str(c) for c in counts) + " |")
    broken = [r for r in results if r["expected"]]
    healthy = [r for r in results if not r["expected"]]
    recall = sum(_hit(r) for r in broken)
    alarms = sum(bool(r["found"]) for r in healthy)
    print()
    print(f"recall on the broken cases: {recall}/{len(broken)}")
    print(f"false alarms on the healthy cases: {alarms}/{len(healthy)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two cases, shorter training")
    parser.add_argument("--case", help="run this one case in this process")
    parser.add_argument("--json", action="store_true", help="print the result(s) as JSON")
    arguments = parser.parse_args(argv)
    by_name = {case.name: case for case in CASES}
    if arguments.case:
        if arguments.case not in by_name:
            parser.error(
                f"--case must be one of {', '.join(by_name)}. Received: {arguments.case!r}"
            )
        result = run_case(by_name[arguments.case], arguments.quick)
        print(json.dumps(result) if arguments.json else result)
        return 0
    cases = [case for case in CASES if case.quick or not arguments.quick]
    results = []
    for number, case in enumerate(cases, 1):
        print(
            f"[{number}/{len(cases)}] {case.name}: {case.describe} ...", file=sys.stderr, flush=True
        )
        results.append(_run_in_subprocess(case, arguments.quick))
    if arguments.json:
        print(json.dumps(results, indent=2))
    else:
        print_tables(results)
    return 0 if all(_hit(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
