"""What a hook of the train step is: the contract between :class:`StepOwner` and our callbacks.

A *hook* is the host-side half (a callback's): it says how its in-step part is configured
(:meth:`StepHook.trace_key`), makes that part (:meth:`StepHook.make_program`) and decides, per
execution, whether it needs the measuring variant of the step. A *program* is the in-step half:
it runs while the step is traced, around the optimizer's update, in :class:`Priority` order.
Programs are cached with the traced step they were traced into and handed to the hook of a
later ``fit`` with the same configuration (:meth:`StepHook.bind`), since the traced graph
holds their state.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Priority(enum.IntEnum):
    """The order programs run in within one step (lower first)."""

    NONFINITE_SKIP = 0
    STATISTICS = 10
    MOMENTUM = 20
    RATE = 30


@dataclass
class StepContext:
    """One optimizer update, as the programs see it while the step is traced.

    Attributes:
        optimizer: the optimizer that updates (the inner one under a ``LossScaleOptimizer``).
        name: how the model refers to it (``optimizer``, or the attribute, e.g. ``d_optimizer``).
        grads: the unscaled, pre-clip gradients Keras passes to the update.
        variables: the variables they belong to.
        measuring: whether this trace is the measuring variant of the step.
        backend: the backend seam module (``keras_dnnkit.training._tensorflow``).
        values: scratch space shared by the programs of this update.
    """

    optimizer: Any
    name: str
    grads: list[Any]
    variables: list[Any]
    measuring: bool
    backend: Any
    values: dict[Any, Any] = field(default_factory=dict)

    def all_finite(self) -> Any:
        """Whether every gradient of this update is finite (a scalar), computed once."""
        if "all_finite" not in self.values:
            self.values["all_finite"] = self.backend.all_finite(self.grads)
        return self.values["all_finite"]


Update = Callable[[Sequence[Any], Sequence[Any]], None]


@runtime_checkable
class StepProgram(Protocol):
    """The in-step half of a hook; every method runs at trace time."""

    skips_nonfinite: bool
    """Whether an update with NaN/Inf gradients must be skipped."""

    def before_update(self, context: StepContext) -> None:
        """Run before the optimizer's update."""

    def wrap_update(self, context: StepContext, update: Update) -> Update:
        """Return the update to run instead (e.g. with a scheduled momentum)."""

    def after_update(self, context: StepContext) -> None:
        """Run after the optimizer's update."""


@runtime_checkable
class StepHook(Protocol):
    """The host half of a hook: one of our callbacks, attached for one ``fit``."""

    priority: Priority

    def trace_key(self) -> Hashable:
        """Everything that changes the traced step; equal keys share a traced step."""

    def make_program(self) -> StepProgram:
        """Make the in-step half (once per traced configuration)."""

    def bind(self, program: StepProgram) -> None:
        """Receive the program the step of this ``fit`` runs (new or cached)."""

    def needs_measuring(self, first_step: int, last_step: int) -> bool:
        """Whether the execution of steps ``first_step..last_step`` must run the measuring step."""
