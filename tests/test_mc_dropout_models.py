"""mc_predict on real kinds of models: masks, attention, recurrent dropout, several inputs/outputs.

At every dropout rate 0 the Monte-Carlo mean must equal ``model.predict`` on every row: that
holds only if masks and call arguments cross the split between the part run once and the
sampled part. The Transformer block is the one of the keras.io guide "Text classification
with Transformer" (plus ``supports_masking``, so the pooling after it is masked too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dnnkit import MCPrediction, mc_predict
from keras_dnnkit.uncertainty._graph import make_plan
from keras_dnnkit.uncertainty._noise import DROPOUT_LAYERS, find_stochastic_layers
from tests.test_mc_dropout import Wrapper

layers = keras.layers
RNG = np.random.default_rng(0)


class TransformerBlock(layers.Layer):
    """keras.io's Transformer block: self-attention and a feed-forward net, each with dropout."""

    def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, rate: float = 0.1) -> None:
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)
        self.supports_masking = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        attention = self.dropout1(self.att(inputs, inputs), training=training)
        out1 = self.layernorm1(inputs + attention)
        feed_forward = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + feed_forward)


def padded_tokens(rows: int, length: int, vocabulary: int) -> np.ndarray:
    tokens = RNG.integers(1, vocabulary, (rows, length))
    for row in range(rows):
        tokens[row, RNG.integers(2, length) :] = 0  # padding of every length
    return tokens


def masked_transformer(rate: float) -> tuple[keras.Model, Any]:
    tokens = keras.Input((12,), dtype="int32")
    x = layers.Embedding(50, 16, mask_zero=True)(tokens)
    x = TransformerBlock(16, 2, 32, rate=rate)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(rate)(x)
    return keras.Model(tokens, layers.Dense(3, activation="softmax")(x)), padded_tokens(9, 12, 50)


def attention_with_mask_arguments(rate: float) -> tuple[keras.Model, Any]:
    """Explicit ``attention_mask=`` and ``mask=[...]`` arguments fed by a second input."""
    query, keep = keras.Input((6, 8), name="query"), keras.Input((6,), name="keep", dtype="bool")
    pairs = keras.ops.logical_and(keep[:, None, :], keep[:, :, None])  # ops nodes in the graph
    attended = layers.MultiHeadAttention(2, 4, dropout=0.0)(query, query, attention_mask=pairs)
    attended = layers.Dropout(rate)(attended)
    scored = layers.Attention()([attended, query], mask=[keep, keep])
    output = layers.Dense(2)(layers.GlobalAveragePooling1D()(scored))
    keep_rows = RNG.random((7, 6)) < 0.6
    keep_rows[:, 0] = True
    return keras.Model([query, keep], output), [RNG.normal(size=(7, 6, 8)), keep_rows]


def recurrent(rate: float) -> tuple[keras.Model, Any]:
    """Masked sequences through LSTM and a bidirectional GRU, after a dropout layer."""
    tokens = keras.Input((10,), dtype="int32")
    x = layers.Embedding(30, 8, mask_zero=True)(tokens)
    x = layers.Dropout(rate)(x)
    x = layers.LSTM(6, return_sequences=True, dropout=rate, recurrent_dropout=rate)(x)
    x = layers.Bidirectional(layers.GRU(5, dropout=rate, recurrent_dropout=rate))(x)
    return keras.Model(tokens, layers.Dense(4, activation="softmax")(x)), padded_tokens(8, 10, 30)


def convolutional(rate: float) -> tuple[keras.Model, Any]:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            layers.Conv2D(6, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.SpatialDropout2D(rate),
            layers.Conv2D(6, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(rate),
            layers.Dense(5, activation="softmax"),
        ]
    )
    return model, RNG.normal(size=(6, 8, 8, 2))


def several_inputs(rate: float) -> tuple[keras.Model, Any]:
    """A dict of inputs; the masked one is embedded before the split, the other after it."""
    text = keras.Input((7,), dtype="int32", name="text")
    numbers = keras.Input((3,), name="numbers")
    words = layers.GlobalAveragePooling1D()(layers.Embedding(20, 4, mask_zero=True)(text))
    merged = layers.Concatenate()([layers.Dropout(rate)(layers.Dense(4)(numbers)), words])
    model = keras.Model({"text": text, "numbers": numbers}, layers.Dense(2)(merged))
    return model, {"text": padded_tokens(5, 7, 20), "numbers": RNG.normal(size=(5, 3))}


MODELS: dict[str, Callable[[float], tuple[keras.Model, Any]]] = {
    "masked_transformer": masked_transformer,
    "attention_masks": attention_with_mask_arguments,
    "recurrent": recurrent,
    "convolutional": convolutional,
    "several_inputs": several_inputs,
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_every_rate_zero_equals_predict_on_every_row(kind: str) -> None:
    keras.utils.set_random_seed(0)
    model, x = MODELS[kind](0.0)
    plan = make_plan(model, find_stochastic_layers(model, DROPOUT_LAYERS))
    assert plan.is_split  # part of each model runs once: the split itself is under test
    try:
        expected = model.predict(x, verbose=0)
    except ValueError:
        # Keras itself cannot run this model (Attention(mask=[...]) on Keras 3.5.0, the
        # floor): mc_predict must fail too, never return numbers.
        with pytest.raises(Exception):  # noqa: B017 -- whatever TensorFlow raises
            mc_predict(model, x, samples=3, seed=0, batch_size=4)
        return
    result = mc_predict(model, x, samples=3, seed=0, batch_size=4)
    assert isinstance(result, MCPrediction)
    np.testing.assert_allclose(result.mean, expected, atol=1e-5)
    assert result.std.max() < 1e-5


def test_the_masked_transformer_samples_and_changes_nothing() -> None:
    keras.utils.set_random_seed(1)
    model, tokens = masked_transformer(0.3)
    before = [np.array(v.numpy(), copy=True) for v in model.variables]
    result = mc_predict(model, tokens, samples=200, seed=0)
    assert isinstance(result, MCPrediction) and result.std.min() > 1e-4
    noise = 5 * result.std / np.sqrt(200) + 0.05  # MC dropout's mean is near the plain one
    assert np.all(np.abs(result.mean - model.predict(tokens, verbose=0)) < noise)
    for value, variable in zip(before, model.variables, strict=True):
        np.testing.assert_array_equal(value, variable.numpy())


def rnn(units: int, **options: Any) -> keras.layers.SimpleRNN:
    return layers.SimpleRNN(
        units,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        return_sequences=True,
        **options,
    )


def test_recurrent_dropout_masks_are_drawn_once_per_sequence() -> None:
    units, steps, samples = 64, 5, 40
    # dropout only: the input mask of each sample is the same at every step.
    inputs = keras.Input((steps, units))
    model = keras.Model(inputs, rnn(units, dropout=0.25, recurrent_initializer="zeros")(inputs))
    ones = np.ones((2, steps, units), "float32")
    result = mc_predict(model, ones, samples, seed=0, task="regression", return_samples=True)
    assert isinstance(result, MCPrediction) and result.samples is not None
    drawn = result.samples  # (samples, inputs, steps, units)
    np.testing.assert_array_equal(drawn, np.broadcast_to(drawn[:, :, :1], drawn.shape))
    np.testing.assert_allclose(np.unique(drawn), [0.0, 1 / 0.75])
    assert abs(np.mean(drawn == 0) - 0.25) < 0.03
    assert not np.array_equal(drawn[0], drawn[1])  # but a new mask for each sample
    # recurrent_dropout only: h_t = (mask * h_(t-1)) @ I, so h_t is 0 or (1 / 0.5) ** t, and
    # a unit dropped once stays dropped: the recurrent mask is held across the steps too.
    model = keras.Model(
        inputs, rnn(units, recurrent_dropout=0.5, recurrent_initializer="identity")(inputs)
    )
    first_only = np.zeros((2, steps, units), "float32")
    first_only[:, 0] = 1.0
    result = mc_predict(model, first_only, samples, seed=1, task="regression", return_samples=True)
    assert isinstance(result, MCPrediction) and result.samples is not None
    drawn = result.samples
    np.testing.assert_array_equal(drawn[:, :, 0], 1.0)
    kept = drawn[:, :, 1] != 0
    assert abs(np.mean(kept) - 0.5) < 0.05
    for step in range(1, steps):
        np.testing.assert_allclose(drawn[:, :, step], np.where(kept, 2.0**step, 0.0))


def test_an_lstm_with_only_its_own_dropout_is_sampled_and_left_unchanged() -> None:
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            layers.BatchNormalization(),
            layers.LSTM(8, dropout=0.2, recurrent_dropout=0.3, return_sequences=True),
            layers.Bidirectional(layers.GRU(4, dropout=0.3)),
            layers.Dense(1),
        ]
    )
    sampled = find_stochastic_layers(model, DROPOUT_LAYERS)
    assert [type(layer).__name__ for layer in sampled] == ["LSTM", "GRU", "GRU"]
    assert sorted(layer.go_backwards for layer in sampled[1:]) == [False, True]  # both ways
    x = RNG.normal(1.0, 2.0, (16, 6, 3)).astype("float32")  # batch statistics far from 0, 1
    before = {v.path: np.array(v.numpy(), copy=True) for v in model.variables}
    assert any("seed_generator" in path for path in before)
    result = mc_predict(model, x, samples=50, seed=0)
    assert isinstance(result, MCPrediction) and result.task == "regression"
    assert result.std.min() > 1e-4
    for variable in model.variables:
        np.testing.assert_array_equal(before[variable.path], variable.numpy(), variable.path)
    for layer in sampled:
        layer.cell.dropout = layer.cell.recurrent_dropout = 0.0
    with pytest.raises(ValueError, match="recurrent layers .* with dropout or recurrent_dropout"):
        mc_predict(model, x)


def test_recurrent_samples_follow_keras_training_time_dropout() -> None:
    """Without batch norm, ``model(x, training=True)`` is a fair reference: same distribution."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.LSTM(6, dropout=0.3, recurrent_dropout=0.4, return_sequences=True),
            layers.GRU(3, dropout=0.2, recurrent_dropout=0.3),
        ]
    )
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    draws = 1000
    ours = mc_predict(model, x, draws, seed=0, task="regression")
    call = tf.function(lambda rows: model(rows, training=True))
    keras_draws = np.stack([np.asarray(call(x)) for _ in range(draws)])
    assert isinstance(ours, MCPrediction) and ours.std.min() > 1e-3
    noise = 4 * np.sqrt(2 / draws) * keras_draws.std(axis=0)
    np.testing.assert_array_less(np.abs(ours.mean - keras_draws.mean(axis=0)), noise)
    np.testing.assert_allclose(ours.std, keras_draws.std(axis=0), rtol=0.15)


def two_heads() -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,), name="features")
    hidden = layers.Dropout(0.4)(layers.Dense(16, activation="relu")(inputs))
    kind = layers.Dense(3, activation="softmax", name="kind")(hidden)
    price = layers.Dense(2, name="price")(hidden)
    return keras.Model(inputs, [kind, price])


def test_several_outputs_give_one_result_per_output_by_name() -> None:
    model = two_heads()
    x = RNG.normal(size=(6, 4))
    result = mc_predict(model, x, samples=30, seed=0)
    assert isinstance(result, dict) and list(result) == ["kind", "price"]
    assert result["kind"].task == "classification" and result["kind"].mean.shape == (6, 3)
    assert result["price"].task == "regression" and result["price"].mean.shape == (6, 2)
    assert result["kind"].mutual_information is not None and result["price"].entropy is None
    forced = mc_predict(model, x, samples=30, seed=0, task={"kind": "regression"})
    assert isinstance(forced, dict) and forced["kind"].task == "regression"
    np.testing.assert_allclose(forced["kind"].mean, result["kind"].mean)
    with pytest.raises(ValueError, match=r"outputs the model does not have: \['size'\]"):
        mc_predict(model, x, task={"size": "regression"})
    # A dict of outputs is keyed by its keys; at rate 0 each equals predict.
    model.layers[2].rate = 0.0
    named = keras.Model(model.inputs, {"b": model.outputs[1], "a": model.outputs[0]})
    means = mc_predict(named, x, samples=2, seed=0)
    expected = named.predict(x, verbose=0)
    assert isinstance(means, dict) and sorted(means) == ["a", "b"]
    for name in ("a", "b"):
        np.testing.assert_allclose(means[name].mean, expected[name], atol=1e-5)
    # A subclassed model (run whole) is keyed by the structure it returns.
    whole = mc_predict(Wrapper(named), x, samples=2, seed=0)
    assert isinstance(whole, dict) and sorted(whole) == ["a", "b"]
    np.testing.assert_allclose(whole["a"].mean, expected["a"], atol=1e-5)


def test_datasets_and_structures_of_inputs_give_the_same_samples() -> None:
    model, x = several_inputs(0.5)
    reference = mc_predict(model, x, samples=20, seed=4, return_samples=True)
    listed = mc_predict(model, [x["numbers"], x["text"]], samples=20, seed=4)
    batches = tf.data.Dataset.from_tensor_slices(x).batch(2)
    labelled = tf.data.Dataset.from_tensor_slices((x, np.zeros(5))).batch(3)
    assert isinstance(reference, MCPrediction) and reference.std.max() > 1e-3
    for other in (
        listed,
        mc_predict(model, batches, 20, seed=4),
        mc_predict(model, labelled, 20, seed=4),
    ):
        assert isinstance(other, MCPrediction)
        np.testing.assert_allclose(other.mean, reference.mean, rtol=1e-6)


def test_errors_name_the_argument_the_input_and_what_was_received() -> None:
    model, x = several_inputs(0.5)
    for bad in (None, "model.keras", keras.layers.Dense(2)):
        with pytest.raises(TypeError, match=r"model must be a keras.Model.*Received: model="):
            mc_predict(bad, x)
    with pytest.raises(ValueError, match="x must be an array.*Received: x=None"):
        mc_predict(model, None)
    with pytest.raises(ValueError, match=r"without the model's input 'text'.*\['numbers'\]"):
        mc_predict(model, {"numbers": x["numbers"]})
    with pytest.raises(ValueError, match=r"shaped \(inputs, 3\) for input 'numbers'"):
        mc_predict(model, {"text": x["text"], "numbers": np.ones((5, 4))})
    with pytest.raises(ValueError, match=r"x\['numbers'\] and x\['text'\] must have the same"):
        mc_predict(model, {"text": x["text"], "numbers": np.ones((4, 3))})
    empty = tf.data.Dataset.from_tensor_slices(x).take(0).batch(2)
    with pytest.raises(ValueError, match="empty tf.data.Dataset"):
        mc_predict(model, empty)
    with pytest.raises(ValueError, match=r"must yield batches: call dataset.batch\(n\)"):
        mc_predict(model, tf.data.Dataset.from_tensor_slices(x))
    single = keras.Sequential([keras.Input((3,)), layers.Dropout(0.5), layers.Dense(1)])
    with pytest.raises(ValueError, match=r"for input 'input_layer\w*'") as error:
        mc_predict(single, np.ones((2, 4)))
    assert "keras_tensor" not in str(error.value)
