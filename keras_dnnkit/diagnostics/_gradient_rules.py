"""Rules on gradient and update statistics: vanishing, exploding, updates too small or large.

Each rule reads per-layer series over the last logged steps (oldest first) and summarizes
them by their median over ``thresholds.window`` (single steps are noisy). Layers come input
to output; the last one is the reference of the gradient flow. Layers whose norms say nothing
about learning (embeddings: sparse updates, tiny by design) are left out of the comparisons.
Series holding NaN or Inf are never judged here: that is the non-finite finding's business.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from keras_dnnkit.diagnostics._model_facts import ModelFacts
from keras_dnnkit.diagnostics.findings import (
    Finding,
    Observation,
    Thresholds,
    format_number,
    layer_list,
)

Series = Sequence[float]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _finite(series: Sequence[Series]) -> bool:
    return all(math.isfinite(v) for s in series for v in s)


def vanishing_advice(facts: ModelFacts) -> str:
    """What to try against vanishing gradients, fitted to the model.

    Example:
        >>> vanishing_advice(ModelFacts(recurrent=True))
        'Try gated cells (LSTM or GRU) instead of a simple RNN, layer normalization, or shorter sequences (truncated backpropagation through time).'
    """  # noqa: E501 -- a doctest's expected output is one line
    if facts.recurrent:
        cells = "" if facts.gated else "gated cells (LSTM or GRU) instead of a simple RNN, "
        norm = "" if facts.layer_norm else "layer normalization, "
        return f"Try {cells}{norm}or shorter sequences (truncated backpropagation through time)."
    tries = []
    if facts.saturating:
        tries.append("ReLU-family activations (ELU, leaky ReLU) instead of sigmoid/tanh")
    tries.append("He initialization with ELU/ReLU (LeCun normal with SELU)")
    if not facts.batch_norm:
        tries.append("batch normalization")
    tries.append("fewer layers or skip connections")
    return "Try " + ", ".join(tries[:-1]) + ", or " + tries[-1] + "."


def exploding_advice(facts: ModelFacts) -> str:
    """What to try against exploding gradients, fitted to the model.

    Example:
        >>> exploding_advice(ModelFacts())
        'Try gradient clipping (clipnorm=1.0) with a lower learning rate, or batch normalization.'
    """
    tries = [facts.clip_advice()]
    if facts.recurrent and not facts.gated:
        tries.append("gated cells (LSTM or GRU)")
    elif not facts.recurrent and not facts.batch_norm:
        tries.append("batch normalization")
    return "Try " + ", or ".join(tries) + "."


def update_advice(facts: ModelFacts, small: bool) -> str:
    """What to try when updates are far from about 1e-3 of the weights.

    Example:
        >>> update_advice(ModelFacts(), small=False)
        'Lower the learning rate (by 3-10x per try; dnnkit lr-find suggests one), or warm it up over the first steps.'
    """  # noqa: E501 -- a doctest's expected output is one line
    if small:
        advice = (
            "Raise the learning rate (by 3-10x per try; dnnkit lr-find suggests one), "
            "or use an adaptive optimizer such as Nadam"
        )
        if facts.schedule:
            advice += "; check that the schedule does not decay too early or too far"
        if facts.saturating:
            advice += "; saturated sigmoid/tanh units also shrink the updates"
        return advice + "."
    advice = "Lower the learning rate (by 3-10x per try; dnnkit lr-find suggests one)"
    if facts.schedule:
        return advice + ", or lower the schedule's peak rate."
    return advice + ", or warm it up over the first steps."


def _judged(names: Sequence[str], facts: ModelFacts) -> list[int]:
    return [i for i, name in enumerate(names) if name not in facts.unjudged]


def vanishing(
    names: Sequence[str], norms: Sequence[Series], thresholds: Thresholds, facts: ModelFacts
) -> Observation | None:
    """Vanishing gradients: the first judged layer's median norm far below the last layer's.

    Example:
        >>> norms = [[3e-7], [1e-4], [1.0]]
        >>> found = vanishing(["a", "b", "out"], norms, Thresholds(), ModelFacts())
        >>> found.layers
        ('a', 'b')
    """
    window = [list(s)[-thresholds.window :] for s in norms]
    judged = _judged(names, facts)
    if len(judged) < 2 or not _finite([window[i] for i in judged]):
        return None
    medians = [_median(window[i]) for i in judged]
    reference = medians[-1]
    if not reference > 0:
        return None
    ratios = [m / reference for m in medians[:-1]]
    # Vanishing is a gradient that shrinks towards the input, not none at all: a norm of
    # exactly 0 is a layer cut off (dead or saturated units, skipped steps), judged elsewhere.
    if not 0 < ratios[0] < thresholds.vanishing_ratio:
        return None
    slow = [names[judged[k]] for k, r in enumerate(ratios) if 0 < r < thresholds.vanishing_ratio]
    first, last = names[judged[0]], names[judged[-1]]
    return Observation(
        "vanishing_gradients",
        tuple(slow),
        f"vanishing gradients: {first}'s gradient norm is {format_number(ratios[0])} of "
        f"{last}'s (median of the last {len(window[0])} logged steps); {len(slow)} of the "
        f"{len(ratios)} layers below {last} get under {format_number(thresholds.vanishing_ratio)} "
        f"of it and barely learn: {layer_list(slow)}.",
        vanishing_advice(facts),
    )


def exploding(
    names: Sequence[str], norms: Sequence[Series], thresholds: Thresholds, facts: ModelFacts
) -> Observation | None:
    """Exploding gradients: a layer's norm far above the last one's, or a huge/growing global norm.

    Example:
        >>> found = exploding(["a", "out"], [[5e3], [1.0]], Thresholds(), ModelFacts())
        >>> found.problem, found.layers
        ('exploding_gradients', ('a',))
    """
    window = [list(s)[-thresholds.window :] for s in norms]
    judged = _judged(names, facts)
    if not judged or not _finite([window[i] for i in judged]):
        return None
    medians = [_median(window[i]) for i in judged]
    reference = medians[-1]
    if reference > 0 and len(medians) > 1:
        ratios = [m / reference for m in medians[:-1]]
        big = [names[judged[k]] for k, r in enumerate(ratios) if r > thresholds.exploding_ratio]
        if big:
            worst = max(ratios)
            return Observation(
                "exploding_gradients",
                tuple(big),
                f"exploding gradients: {layer_list(big)}' gradient norm is up to "
                f"{format_number(worst)} times {names[judged[-1]]}'s.",
                exploding_advice(facts),
            )
    steps = min(len(s) for s in window)
    global_norms = [math.sqrt(sum(s[-steps + i] ** 2 for s in window)) for i in range(steps)]
    median_global = _median(global_norms)
    growth = global_norms[-1] / global_norms[0] if global_norms and global_norms[0] > 0 else 1.0
    if median_global > thresholds.exploding_norm:
        why = f"the global gradient norm is {format_number(median_global)}"
    elif growth > thresholds.exploding_growth:
        why = (
            f"the global gradient norm grew {format_number(growth)}-fold in {steps} logged "
            f"steps (to {format_number(global_norms[-1])})"
        )
    else:
        return None
    return Observation(
        "exploding_gradients", (), f"exploding gradients: {why}.", exploding_advice(facts)
    )


def updates(
    names: Sequence[str],
    ratios: Sequence[Series],
    learning_rates: Series,
    thresholds: Thresholds,
    facts: ModelFacts,
) -> Observation | None:
    """Updates too small or too large: the median layer's update/weight ratio far from 1e-3.

    Judged only over a full window (sustained), and ``updates_too_small`` not while a
    schedule anneals the rate (below a tenth of the highest rate seen): a tiny rate at the
    end of 1cycle or a cosine decay is the schedule's design.

    Example:
        >>> rates = [0.01] * 5
        >>> ratios = [[1e-7] * 5, [2e-7] * 5]
        >>> found = updates(["a", "out"], ratios, rates, Thresholds(), ModelFacts())
        >>> found.problem, found.layers
        ('updates_too_small', ('a', 'out'))
    """
    window = [list(s)[-thresholds.window :] for s in ratios]
    judged = [i for i in _judged(names, facts) if len(window[i]) >= thresholds.window]
    if not judged or not _finite([window[i] for i in judged]):
        return None
    # A layer that is not updated at all (ratio 0: dead or identical units, no gradient) is
    # cut off, not slow: its own finding says why; the typical update is among the others.
    medians = {names[i]: m for i in judged if (m := _median(window[i])) > 0}
    if not medians:
        return None
    typical = _median(list(medians.values()))
    rates = [r for r in learning_rates if math.isfinite(r)]
    annealed = bool(rates) and rates[-1] < 0.1 * max(rates)
    if typical < thresholds.update_ratio_low and not annealed:
        small = tuple(n for n, m in medians.items() if m < thresholds.update_ratio_low)
        return Observation(
            "updates_too_small",
            small,
            f"updates too small: a typical layer's update is {format_number(typical)} of its "
            f"weights per step (median of the last {thresholds.window} logged steps; about "
            f"1e-3 is healthy), so the network barely moves: {layer_list(list(small))}.",
            update_advice(facts, small=True),
        )
    if typical > thresholds.update_ratio_high:
        large = tuple(n for n, m in medians.items() if m > thresholds.update_ratio_high)
        return Observation(
            "updates_too_large",
            large,
            f"updates too large: a typical layer's update is {format_number(typical)} of its "
            f"weights per step (median of the last {thresholds.window} logged steps; about "
            f"1e-3 is healthy), so training jumps around: {layer_list(list(large))}.",
            update_advice(facts, small=False),
        )
    return None


def nonfinite(layer: str | None, step: int, facts: ModelFacts) -> Observation:
    """The first step whose gradients held NaN or Inf, and the layer closest to the output.

    Example:
        >>> print(nonfinite("dense_3", 63, ModelFacts()).message)
        non-finite gradients: NaN or Inf first appeared at step 63, in dense_3 (the layer closest to the output with NaN/Inf).
    """  # noqa: E501 -- a doctest's expected output is one line
    where = f", in {layer} (the layer closest to the output with NaN/Inf)" if layer else ""
    return Observation(
        "nonfinite_gradients",
        (layer,) if layer else (),
        f"non-finite gradients: NaN or Inf first appeared at step {step}{where}.",
        f"Lower the learning rate; {facts.clip_advice()}; check the inputs and the loss for "
        "NaN/Inf; under mixed precision keep the loss scaling that compile() adds.",
    )


def gradient_observations(
    names: Sequence[str],
    norms: Sequence[Series],
    ratios: Sequence[Series],
    learning_rates: Series,
    thresholds: Thresholds,
    facts: ModelFacts,
) -> list[Observation]:
    """Every gradient rule's observation; vanishing is not judged while gradients explode."""
    found = [exploding(names, norms, thresholds, facts)]
    if found[0] is None:
        found.append(vanishing(names, norms, thresholds, facts))
    found.append(updates(names, ratios, learning_rates, thresholds, facts))
    return [f for f in found if f is not None]


def gradient_findings(
    layer_norms: Sequence[tuple[str, float | Sequence[float]]],
    step: int,
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Find vanishing and exploding gradients from per-layer gradient norms, at one step.

    Each layer's value is one norm or a sequence of norms over logged steps (oldest first),
    input to output. A stateless form of the rules :class:`GradientDiagnostics` runs (it
    also judges update sizes and keeps findings over steps).

    Example:
        >>> findings = gradient_findings([("dense", 3e-7), ("dense_1", 1e-4), ("out", 1.0)], 100)
        >>> findings[0].problem, findings[0].layer
        ('vanishing_gradients', 'dense')
        >>> gradient_findings([("dense", 0.5), ("out", 1.0)], 100)
        []
    """
    thresholds = thresholds or Thresholds()
    names = [name for name, _ in layer_norms]
    norms = [
        [float(v)] if isinstance(v, (int, float)) else [float(x) for x in v] for _, v in layer_norms
    ]
    found = [exploding(names, norms, thresholds, ModelFacts())]
    if found[0] is None:
        found.append(vanishing(names, norms, thresholds, ModelFacts()))
    return [_finding(o, step) for o in found if o is not None]


def nonfinite_finding(layer: str | None, step: int) -> Finding:
    """Describe the first step whose gradients held NaN or Inf, and the layer closest to output.

    Example:
        >>> nonfinite_finding("dense_3", 63).message
        'non-finite gradients: NaN or Inf first appeared at step 63, in dense_3 (the layer closest to the output with NaN/Inf).'
    """  # noqa: E501 -- a doctest's expected output is one line
    return _finding(nonfinite(layer, step, ModelFacts()), step)


def _finding(observation: Observation, step: int) -> Finding:
    return Finding(
        observation.problem, observation.layers, step, step, observation.message, observation.advice
    )
