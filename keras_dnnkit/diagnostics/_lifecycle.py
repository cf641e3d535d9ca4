"""The lifecycle of findings: one per problem and place, current until it no longer holds.

Rules report :class:`~keras_dnnkit.diagnostics.findings.Observation` s at each check; a
:class:`FindingTracker` merges them into findings:

- an observation of a problem at layers that overlap a finding's (or either concerns the
  whole model) continues that finding: its ``last_step``, layers and message follow the
  latest check; a resolved one is reopened;
- any other observation starts a new finding;
- a current finding whose problem was checked but not observed is resolved at that step
  (the rules summarize the recent window, so "not observed" means "no longer holds over
  the window"); non-finite gradients and recipe findings never resolve: they happened;
- once gradients held NaN/Inf, gradient-norm rules are not judged again (norms of NaN or of
  skipped steps say nothing): the non-finite finding is the only gradient finding after it.

Every change is written to ``<log_dir>/dnnkit_findings.json``. The callbacks of one process
that write to the same ``log_dir`` share one tracker (:func:`tracker_for`), so a problem
both see is one finding; a tracker starts from the file's findings (a resumed run).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from keras_dnnkit.diagnostics._findings_file import findings_path, read_findings, write_findings
from keras_dnnkit.diagnostics.findings import (
    GRADIENT_PROBLEMS,
    Finding,
    Observation,
    Problem,
)

PERMANENT: tuple[Problem, ...] = ("nonfinite_gradients", "recipe")
"""Problems that, once found, stay current: they describe something that happened or is."""


def _same_place(finding: Finding, observation: Observation) -> bool:
    if finding.problem != observation.problem:
        return False
    if not finding.layers or not observation.layers:
        return True  # the model as a whole: the same place as any
    return bool(set(finding.layers) & set(observation.layers))


class FindingTracker:
    """Merges observations into findings with a first and last step, current or resolved.

    Args:
        log_dir: where the findings file is kept (``None``: in memory only).

    Example:
        >>> from keras_dnnkit.diagnostics.findings import Observation
        >>> tracker = FindingTracker(None)
        >>> dead = Observation("dead_units", ("d1", "d2"), "dead units: ...", "Try ...")
        >>> [f.status for f in tracker.observe(0, {"dead_units"}, [dead])]
        ['current']
        >>> _ = tracker.observe(100, {"dead_units"}, [dead])
        >>> changed = tracker.observe(200, {"dead_units"}, [])
        >>> [(f.first_step, f.last_step, f.status, f.resolved_step) for f in changed]
        [(0, 100, 'resolved', 200)]
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None) -> None:
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self._findings: list[Finding] = []
        self._nonfinite_step: int | None = None
        self._lock = threading.Lock()
        self.recipe_checked: weakref.WeakSet[Any] = weakref.WeakSet()  # models checked
        self.epoch_losses: dict[int, tuple[float, float]] = {}  # step -> (loss, val_loss)
        if self.log_dir is not None:
            self._findings = [Finding.from_dict(f) for f in read_findings(self.log_dir)]
        for finding in self._findings:
            if finding.problem == "nonfinite_gradients":
                self._nonfinite_step = finding.first_step

    @property
    def findings(self) -> list[Finding]:
        """Every finding, current and resolved, by first step."""
        return sorted(self._findings, key=lambda f: (f.first_step, f.problem))

    @property
    def current(self) -> list[Finding]:
        """The findings that still hold."""
        return [f for f in self.findings if f.current]

    def observe(
        self,
        step: int,
        checked: Collection[Problem],
        observations: Sequence[Observation],
        scope: Collection[str] | None = None,
    ) -> list[Finding]:
        """Merge one check's observations; return the findings that started, reopened or resolved.

        Args:
            step: the optimizer step of the check.
            checked: the problems this check judged (only those can resolve).
            observations: what the check found.
            scope: the layers this check judged, where it judged only some (one of a GAN's
                optimizers): then only findings on those layers can resolve. ``None``: all.
        """
        with self._lock:
            if self._nonfinite_step is not None and step >= self._nonfinite_step:
                checked = [p for p in checked if p not in GRADIENT_PROBLEMS]
                observations = [o for o in observations if o.problem not in GRADIENT_PROBLEMS]
            changed: list[Finding] = []
            continued: set[int] = set()
            for observation in observations:
                index = self._match(observation, continued)
                if index is None:
                    finding = Finding(
                        observation.problem,
                        observation.layers,
                        step,
                        step,
                        observation.message,
                        observation.advice,
                    )
                    self._findings.append(finding)
                    continued.add(len(self._findings) - 1)
                    changed.append(finding)
                    if finding.problem == "nonfinite_gradients":
                        self._nonfinite_step = step
                    continue
                old = self._findings[index]
                new = replace(
                    old,
                    layers=observation.layers or old.layers,
                    last_step=max(old.last_step, step),
                    message=observation.message,
                    advice=observation.advice,
                    status="current",
                    resolved_step=None,
                )
                self._findings[index] = new
                continued.add(index)
                if not old.current:
                    changed.append(new)
            for index, finding in enumerate(self._findings):
                if (
                    index not in continued
                    and finding.current
                    and finding.problem in checked
                    and finding.problem not in PERMANENT
                    and step > finding.last_step
                    and (scope is None or (finding.layers and set(finding.layers) <= set(scope)))
                ):
                    self._findings[index] = finding.resolved_at(step)
                    changed.append(self._findings[index])
            if observations or changed:
                self._write()
            return changed

    def _match(self, observation: Observation, taken: set[int]) -> int | None:
        candidates = [
            i
            for i, f in enumerate(self._findings)
            if i not in taken and _same_place(f, observation)
        ]
        if not candidates:
            return None
        # Prefer the current finding; else reopen the latest resolved one.
        return max(
            candidates, key=lambda i: (self._findings[i].current, self._findings[i].last_step)
        )

    def _write(self) -> None:
        if self.log_dir is not None:
            write_findings(self.log_dir, [f.to_dict() for f in self._findings])


_TRACKERS: dict[str, FindingTracker] = {}
_TRACKERS_LOCK = threading.Lock()


def tracker_for(log_dir: str | os.PathLike[str]) -> FindingTracker:
    """Return this process' tracker of ``log_dir`` (one per directory, shared by callbacks).

    Example:
        >>> import tempfile
        >>> log_dir = tempfile.mkdtemp()
        >>> tracker_for(log_dir) is tracker_for(log_dir)
        True
    """
    key = os.path.realpath(os.fspath(log_dir))
    with _TRACKERS_LOCK:
        tracker = _TRACKERS.get(key)
        if tracker is None or (tracker.findings and not os.path.exists(findings_path(log_dir))):
            # New, or its directory was cleared since (a notebook re-running into one path).
            tracker = _TRACKERS[key] = FindingTracker(log_dir)
        return tracker
