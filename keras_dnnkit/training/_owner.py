"""StepOwner: the one place that changes Keras' train step, for every keras-dnnkit callback.

One owner per model (kept in a ``WeakKeyDictionary``). For the length of one ``fit`` (a
*session*, told apart by the fit's ``History``), our callbacks attach their hooks; at the
first execution the owner

1. overrides ``_backend_apply_gradients`` on the instance of every optimizer the model owns
   (``model.optimizer`` and optimizer attributes, e.g. a GAN's ``d_optimizer``; the inner one
   under a ``LossScaleOptimizer``), so the programs run inside Keras' own update, with the
   unscaled, pre-clip gradients;
2. installs one Python ``train_function`` that picks, per execution, the *lean* variant of
   the step or the *measuring* one (when a hook asks for it), each traced once;
3. caches those traced variants with their programs, keyed by Keras' own train function (a
   recompile makes a new one), the optimizers and the hooks' configuration, so a later
   ``fit`` with the same callbacks starts as fast as plain Keras' later ``fit``.

When the last hook detaches (``on_train_end``) the optimizers get their own methods back and
the model its own ``train_function``; a session that died with an exception is cleaned up at
the start of the next ``fit``.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras

from keras_dnnkit import _compat
from keras_dnnkit.training._hooks import StepContext, StepHook, StepProgram, Update

_OWNERS: weakref.WeakKeyDictionary[Any, StepOwner] = weakref.WeakKeyDictionary()
_CACHE_SIZE = 4


def _backend() -> Any:
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            "keras-dnnkit's in-step callbacks (GradientDiagnostics, MomentumScheduler) need "
            f"the TensorFlow backend for now. Received: KERAS_BACKEND={backend!r}."
        )
    from keras_dnnkit.training import _tensorflow

    return _tensorflow


def observed_optimizers(model: Any) -> list[tuple[str, Any]]:
    """``(name, optimizer)`` for every optimizer the model owns, the updating (inner) one.

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile("adam", "mse")
        >>> [(name, type(o).__name__) for name, o in observed_optimizers(model)]
        [('optimizer', 'Adam')]
    """
    found: list[tuple[str, Any]] = []
    candidates = [("optimizer", getattr(model, "optimizer", None))]
    candidates += [(str(k).lstrip("_"), v) for k, v in sorted(vars(model).items())]
    for name, optimizer in candidates:
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            continue
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if all(inner is not other for _, other in found):
            found.append((name, inner))
    return found


@dataclass
class _Traced:
    """The traced variants of the step for one configuration, with their programs."""

    keras_function: Any
    optimizers: tuple[Any, ...]
    programs: list[StepProgram]
    functions: dict[bool, Any] = field(default_factory=dict)  # measuring -> train function


class _Dispatcher:
    """The ``train_function`` the owner installs: one Python call per execution."""

    def __init__(self, owner: StepOwner) -> None:
        self.owner = owner

    def __call__(self, iterator: Any) -> Any:
        return self.owner.run_execution(iterator)


class StepOwner:
    """Owns one model's train step for our callbacks; see the module docstring.

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> StepOwner.of(model) is StepOwner.of(model)
        True
    """

    def __init__(self, model: Any) -> None:
        self._model = weakref.ref(model)
        self._hooks: list[StepHook] = []
        self._session: object = None
        self._keras_function: Any = None
        self._keras_function_stale = False
        self._cache: OrderedDict[Hashable, _Traced] = OrderedDict()
        self._current: _Traced | None = None
        self._overrides: list[tuple[Any, Any]] = []  # (optimizer, installed method)
        self._tracing_measuring = False
        self.host_step = 0
        self.traces = 0  # how many variants were traced (for tests and benchmarks)

    @classmethod
    def of(cls, model: Any) -> StepOwner:
        """The owner of ``model``'s train step (created on first use)."""
        owner = _OWNERS.get(model)
        if owner is None:
            owner = _OWNERS[model] = cls(model)
        return owner

    @property
    def model(self) -> Any:
        """The model, or ``None`` once it is gone."""
        return self._model()

    def traced_functions(self) -> dict[bool, Any]:
        """The variants of the step last used (``{measuring: train function}``), for tests."""
        if not self._cache:
            return {}
        return dict(next(reversed(self._cache.values())).functions)

    @property
    def hooks(self) -> tuple[StepHook, ...]:
        """The hooks attached for this ``fit``."""
        return tuple(self._hooks)

    # ------------------------------------------------------------------ sessions
    def attach(self, hook: StepHook) -> None:
        """Attach ``hook`` for the current ``fit`` (call it from ``on_train_begin``)."""
        _backend()
        model = self.model
        session = getattr(model, "history", None)
        if self._session is None or session is not self._session:
            self._end_session()  # what a fit that died with an exception left behind
            self._begin_session(session)
        if all(hook is not h for h in self._hooks):
            self._hooks.append(hook)
            self._current = None

    def detach(self, hook: StepHook) -> None:
        """Detach ``hook``; the last one out gives the step back (call from ``on_train_end``)."""
        self._hooks = [h for h in self._hooks if h is not hook]
        if not self._hooks:
            self._end_session()

    def invalidate_keras_function(self) -> None:
        """Say that Keras' own traced step is out of date (a callback replaced the schedule)."""
        self._keras_function_stale = True

    def _begin_session(self, session: object) -> None:
        model = self.model
        function = model.train_function
        if isinstance(function, _Dispatcher):
            function = None if function.owner is not self else self._keras_function
        if function is None:
            model.make_train_function()
            function = model.train_function
        self._keras_function = function
        self._keras_function_stale = False
        self._session = session
        self._current = None
        self.host_step = int(_iterations(model))
        model.train_function = _Dispatcher(self)

    def _end_session(self) -> None:
        if self._session is None:
            return
        self._remove_overrides()
        model = self.model
        if model is not None:
            function = model.train_function
            if isinstance(function, _Dispatcher) and function.owner is self:
                model.train_function = None if self._keras_function_stale else self._keras_function
        self._session = None
        self._hooks = []
        self._current = None

    # ------------------------------------------------------------------ executions
    def run_execution(self, iterator: Any) -> Any:
        """Run one execution of the train step (the installed ``train_function``)."""
        model = self.model
        if getattr(model, "history", None) is not self._session:
            # A fit without our callbacks, after one of ours died: run Keras' own step.
            self._end_session()
            if isinstance(model.train_function, _Dispatcher):
                model.train_function = None
            model.make_train_function()
            return model.train_function(iterator)
        traced = self._current or self._prepare()
        executions = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        first, last = self.host_step + 1, self.host_step + executions
        measuring = any(h.needs_measuring(first, last) for h in self._hooks)
        self.host_step = last
        function = traced.functions.get(measuring)
        if function is None:
            model.make_train_function(force=True)
            function = traced.functions[measuring] = model.train_function
            model.train_function = _Dispatcher(self)
            self.traces += 1
        self._tracing_measuring = measuring  # read only if this call traces the step
        return function(iterator)

    def _prepare(self) -> _Traced:
        model = self.model
        hooks = sorted(self._hooks, key=lambda h: int(h.priority))
        self._hooks = hooks
        optimizers = tuple(o for _, o in observed_optimizers(model))
        key = (
            id(self._keras_function),
            tuple(id(o) for o in optimizers),
            tuple((type(h).__qualname__, h.trace_key()) for h in hooks),
        )
        traced = self._cache.get(key)
        if traced is None or traced.keras_function is not self._keras_function:
            traced = _Traced(self._keras_function, optimizers, [h.make_program() for h in hooks])
            self._cache[key] = traced
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        for hook, program in zip(hooks, traced.programs, strict=True):
            hook.bind(program)
        self._install_overrides(model, traced)
        self._current = traced
        return traced

    # ------------------------------------------------------------------ in the step
    def _install_overrides(self, model: Any, traced: _Traced) -> None:
        self._remove_overrides()
        backend = _backend()
        for name, optimizer in observed_optimizers(model):
            if _compat.apply_gradients_override(optimizer) is not None:
                continue  # somebody else's override: leave it alone
            original: list[Any] = []

            def override(
                grads: Sequence[Any],
                variables: Sequence[Any],
                _name: str = name,
                _optimizer: Any = optimizer,
                _original: list[Any] = original,
            ) -> Any:
                return self._apply(backend, _name, _optimizer, _original[0], grads, variables)

            original.append(_compat.override_apply_gradients(optimizer, override))
            self._overrides.append((optimizer, override))

    def _remove_overrides(self) -> None:
        for optimizer, override in self._overrides:
            if _compat.apply_gradients_override(optimizer) is override:
                _compat.remove_apply_gradients_override(optimizer)
        self._overrides = []

    def _apply(
        self,
        backend: Any,
        name: str,
        optimizer: Any,
        original: Any,
        grads: Sequence[Any],
        variables: Sequence[Any],
    ) -> None:
        programs = self._current.programs if self._current is not None else []
        context = StepContext(
            optimizer, name, list(grads), list(variables), self._tracing_measuring, backend
        )
        for program in programs:
            program.before_update(context)

        def plain(grads: Sequence[Any], variables: Sequence[Any]) -> None:
            original(list(grads), list(variables))

        update: Update = plain
        for program in programs:
            update = program.wrap_update(context, update)
        if any(p.skips_nonfinite for p in programs):
            backend.conditional_update(
                context.all_finite(),
                update,
                (tuple(context.grads), tuple(context.variables)),
                # A skipped step still counts where Keras counts it inside the update.
                optimizer.iterations
                if _compat.apply_gradients_counts_the_step(optimizer)
                else None,
            )
        else:
            update(context.grads, context.variables)
        for program in reversed(programs):
            program.after_update(context)


def _iterations(model: Any) -> int:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return 0
    return int(optimizer.iterations.numpy())
