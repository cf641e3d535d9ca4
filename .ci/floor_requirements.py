"""Print the floor of every dependency in pyproject.toml, one ``name==version`` a line.

The floor lane of .ci/run installs exactly these: each runtime dependency at its lower bound
(what ``uv pip install --resolution lowest-direct`` would pick) and pytest at the dev extra's.
tests/test_compat.py checks that this list and pyproject.toml agree.
"""

import re
from pathlib import Path

text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
runtime = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
dev = re.search(r"^dev = \[(.*?)^\]", text, re.S | re.M).group(1)
requirements = re.findall(r'"([^"]+)"', runtime)
requirements += [r for r in re.findall(r'"([^"]+)"', dev) if r.startswith("pytest>=")]
for requirement in requirements:
    name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
    floor = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    if floor is None:
        raise SystemExit(f"pyproject.toml: {requirement!r} has no lower bound to test")
    print(f"{name}=={floor.group(1)}")
