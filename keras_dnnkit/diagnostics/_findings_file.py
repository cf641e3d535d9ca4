"""The findings file: a run's findings as structured data beside its event files.

``<log_dir>/dnnkit_findings.json`` holds::

    {"format": "keras-dnnkit-findings", "version": 1, "findings": [
        {"problem": "vanishing_gradients", "layers": ["dense_1", "dense_2"],
         "first_step": 100, "last_step": 400, "status": "current", "resolved_step": null,
         "message": "...", "advice": "..."}]}

``status`` is ``"current"`` or ``"resolved"``. The file is rewritten atomically (a temporary
file, then ``os.replace``) whenever a finding changes, so a reader (``dnnkit report``, the
TensorBoard dashboard) never sees half a file. Several writers may share one ``log_dir``
(``GradientDiagnostics`` and ``ActivationDiagnostics``, or a resumed run): each write merges
with what the file already holds, keyed by problem and first step, instead of clobbering it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from typing import Any

FILE_NAME = "dnnkit_findings.json"
FORMAT = "keras-dnnkit-findings"
VERSION = 1
KEYS = (
    "problem",
    "layers",
    "first_step",
    "last_step",
    "status",
    "resolved_step",
    "message",
    "advice",
)
"""The keys of one finding, in the order they are written."""

_WRITING = threading.Lock()  # writers of one process merge one after the other


def findings_path(log_dir: str | os.PathLike[str]) -> str:
    """Return the path of ``log_dir``'s findings file.

    Example:
        >>> findings_path("runs/exp1")
        'runs/exp1/dnnkit_findings.json'
    """
    return os.path.join(os.fspath(log_dir), FILE_NAME)


def _identity(finding: Mapping[str, Any]) -> tuple[str, int]:
    return str(finding["problem"]), int(finding["first_step"])


def read_findings(log_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Return the findings in ``log_dir``'s findings file (``[]`` when there is none).

    Raises:
        ValueError: the file is not a keras-dnnkit findings file of a known version.

    Example:
        >>> import tempfile
        >>> log_dir = tempfile.mkdtemp()
        >>> read_findings(log_dir)
        []
        >>> write_findings(log_dir, [{"problem": "dead_units", "layers": ["dense"],
        ...     "first_step": 0, "last_step": 20, "status": "current", "resolved_step": None,
        ...     "message": "dead units: ...", "advice": "Try ..."}])
        >>> [(f["problem"], f["status"]) for f in read_findings(log_dir)]
        [('dead_units', 'current')]
    """
    path = findings_path(log_dir)
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except FileNotFoundError:
        return []
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a keras-dnnkit findings file: expected a JSON object with "
            f"format {FORMAT!r}. Received: {str(document)[:80]!r}"
        )
    if document.get("version") != VERSION:
        raise ValueError(
            f"{path} has findings format version {document.get('version')!r}; this "
            f"keras-dnnkit reads version {VERSION}. Upgrade keras-dnnkit to read it."
        )
    return [{key: finding.get(key) for key in KEYS} for finding in document["findings"]]


def write_findings(log_dir: str | os.PathLike[str], findings: Iterable[Mapping[str, Any]]) -> None:
    """Merge one writer's ``findings`` into ``log_dir``'s findings file, atomically.

    The writer's findings replace those of the file with the same problem and first step;
    everything else the file holds (other writers' findings) is kept.

    Example:
        >>> import tempfile
        >>> log_dir = tempfile.mkdtemp()
        >>> base = {"layers": [], "last_step": 5, "resolved_step": None, "status": "current",
        ...         "message": "", "advice": ""}
        >>> write_findings(log_dir, [{**base, "problem": "overfitting", "first_step": 5}])
        >>> write_findings(log_dir, [{**base, "problem": "dead_units", "first_step": 0}])
        >>> [f["problem"] for f in read_findings(log_dir)]
        ['dead_units', 'overfitting']
    """
    os.makedirs(os.fspath(log_dir), exist_ok=True)
    mine = [{key: f.get(key) for key in KEYS} for f in findings]
    with _WRITING:
        _merge_and_replace(log_dir, mine)


def _merge_and_replace(log_dir: str | os.PathLike[str], mine: list[dict[str, Any]]) -> None:
    replaced = {_identity(f) for f in mine}
    kept = [f for f in read_findings(log_dir) if _identity(f) not in replaced]
    merged = sorted([*kept, *mine], key=lambda f: (f["first_step"], f["problem"]))
    document = {"format": FORMAT, "version": VERSION, "findings": merged}
    handle, temporary = tempfile.mkstemp(
        prefix=".dnnkit_findings.", suffix=".tmp", dir=os.fspath(log_dir)
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=1)
        os.replace(temporary, findings_path(log_dir))
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
