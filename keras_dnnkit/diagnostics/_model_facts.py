"""What a model is made of, as far as advice goes: recurrent layers, normalization, clipping.

Advice must fit the model: a recurrent net gets recurrent advice (clipping, gated cells), a
model that already clips gets a smaller clip value or a lower rate, a model with batch
normalization is not told to add it. :func:`model_facts` reads these once from the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from keras_dnnkit import _compat
from keras_dnnkit.diagnostics._activation_statistics import ActivationFamily, activation_family

_RECURRENT = ("SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D")
_GATED = ("LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D")
_NORMALIZATION = ("BatchNormalization", "SyncBatchNormalization")
_LAYER_NORMALIZATION = ("LayerNormalization", "GroupNormalization", "UnitNormalization")
_UNJUDGED = ("Embedding",)  # sparse updates: tiny norms by design


@dataclass(frozen=True)
class ModelFacts:
    """The facts about a model that advice depends on.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3, 2)), keras.layers.SimpleRNN(4)])
        >>> model.compile(keras.optimizers.SGD(clipnorm=1.0), "mse")
        >>> facts = model_facts(model)
        >>> facts.recurrent, facts.gated, facts.clipping
        (True, False, ('clipnorm', 1.0))
    """

    recurrent: bool = False
    gated: bool = False
    batch_norm: bool = False
    layer_norm: bool = False
    clipping: tuple[str, float] | None = None
    schedule: bool = False
    families: dict[str, ActivationFamily] = field(default_factory=dict)
    unjudged: frozenset[str] = frozenset()
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def saturating(self) -> bool:
        """Whether any hidden layer applies sigmoid or tanh."""
        return any(f in ("sigmoid", "tanh") for f in self.families.values())

    def clip_advice(self) -> str:
        """How to clip: a smaller value when the optimizer already clips.

        Example:
            >>> ModelFacts(clipping=("clipnorm", 5.0)).clip_advice()
            'the optimizer already clips (clipnorm=5): try a smaller value (clipnorm=0.5) or a lower learning rate'
        """  # noqa: E501 -- a doctest's expected output is one line
        if self.clipping is None:
            return "gradient clipping (clipnorm=1.0) with a lower learning rate"
        name, value = self.clipping
        return (
            f"the optimizer already clips ({name}={value:g}): try a smaller value "
            f"({name}={value / 10:g}) or a lower learning rate"
        )


def walk_layers(model: Any) -> Iterator[tuple[str, Any]]:
    """Every layer of ``model``, nested ones too, as ``(path, layer)``, outer first.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
        >>> [path for path, _ in walk_layers(model)]
        ['d']
    """

    def walk(layer: Any, prefix: str) -> Iterator[tuple[str, Any]]:
        for child in getattr(layer, "layers", None) or []:
            path = f"{prefix}.{child.name}" if prefix else str(child.name)
            yield path, child
            yield from walk(child, path)

    yield from walk(model, "")


def _clipping(optimizer: Any) -> tuple[str, float] | None:
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    for name in ("clipnorm", "global_clipnorm", "clipvalue"):
        value = getattr(optimizer, name, None)
        if value is not None and value > 0:
            return name, float(value)
    return None


def model_facts(model: Any) -> ModelFacts:
    """Read the facts advice depends on from a (built) model and its optimizer.

    Layer paths join nested models' names with dots, as the TensorBoard tags do.
    """
    import keras

    kinds: dict[str, str] = {}
    families: dict[str, ActivationFamily] = {}
    for path, layer in walk_layers(model):
        kinds[path] = type(layer).__name__
        if isinstance(layer, keras.layers.Bidirectional):
            kinds[path] = type(layer.forward_layer).__name__
        family = activation_family(layer)
        if family is not None:
            families[path] = family
    names = set(kinds.values())
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    rate = None if inner is None else _compat.learning_rate_object(inner)
    return ModelFacts(
        recurrent=bool(names & set(_RECURRENT)),
        gated=bool(names & set(_GATED)),
        batch_norm=bool(names & set(_NORMALIZATION)),
        layer_norm=bool(names & set(_LAYER_NORMALIZATION)),
        clipping=_clipping(optimizer) if optimizer is not None else None,
        schedule=isinstance(rate, keras.optimizers.schedules.LearningRateSchedule),
        families=families,
        unjudged=frozenset(p for p, kind in kinds.items() if kind in _UNJUDGED),
        kinds=kinds,
    )
