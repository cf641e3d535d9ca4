"""Shared test helpers: subprocess runs in fresh interpreters, the installed example plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Helper modules and subprocess scripts (tests/_*.py) are not test modules: pytest's
# --doctest-modules would otherwise import (and so run) them.
collect_ignore_glob = ["_*.py"]
EXAMPLE_PLUGIN = ROOT / "plugins" / "dnnkit-example-plugin"


def run_command(
    command: list[str], *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` from the repository root with TensorFlow's logging quiet; return it."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        timeout=timeout,
        cwd=ROOT,
    )


def run_python(
    code: str, *, env: dict[str, str] | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (the test's own environment); return the result."""
    result = run_command([sys.executable, "-c", textwrap.dedent(code)], env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def run_script(path: str, *arguments: str, timeout: float = 300) -> str:
    """Run the repository's script ``path`` (e.g. ``examples/max_norm.py``); return its stdout.

    Fails the test, with the script's output, when it exits non-zero.
    """
    result = run_command([sys.executable, str(ROOT / path), *arguments], timeout=timeout)
    assert result.returncode == 0, (
        f"{path} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def pip(*arguments: str) -> None:
    """Run pip of the test's interpreter; fail the test with pip's output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(f"pip {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def example_plugin_installed():
    """pip-install plugins/dnnkit-example-plugin (a real wheel build) for the session."""
    pip("install", "--no-deps", "--no-build-isolation", str(EXAMPLE_PLUGIN))
    try:
        yield EXAMPLE_PLUGIN
    finally:
        pip("uninstall", "--yes", "dnnkit-example-plugin")
