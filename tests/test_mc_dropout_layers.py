"""MCDropout / MCAlphaDropout: always on, registered, and saved under their registry names."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit.layers import MCAlphaDropout, MCDropout
from tests.conftest import run_python


def test_always_on_whatever_training_says() -> None:
    x = np.ones((1, 2000), "float32")
    for training in (False, None, True):
        out = MCDropout(0.25, seed=1)(x, training=training).numpy()
        assert abs(np.mean(out == 0) - 0.25) < 0.04
        np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.75], rtol=1e-6)
    alpha = MCAlphaDropout(0.2, seed=1)(np.zeros((1, 2000), "float32"), training=False).numpy()
    assert len(set(np.round(alpha.ravel(), 4).tolist())) == 2


def test_registered_under_their_saved_names() -> None:
    for name, cls in (("mc_dropout", MCDropout), ("mc_alpha_dropout", MCAlphaDropout)):
        layer = keras_dnnkit.get("layer", name, rate=0.1)
        assert type(layer) is cls and layer.rate == 0.1
        assert keras.saving.get_registered_name(cls) == f"keras_dnnkit>{name}"
        assert name in keras_dnnkit.names("layer")
    restored = MCDropout.from_config(MCDropout(0.3, noise_shape=(None, 1), seed=4).get_config())
    assert (restored.rate, restored.noise_shape, restored.seed) == (0.3, (None, 1), 4)


@pytest.mark.slow
def test_save_and_load_through_a_keras_file_in_a_fresh_process(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="selu"),
            MCAlphaDropout(0.1),
            keras.layers.Dense(8),
            MCDropout(0.4),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    path = tmp_path / "mc.keras"
    model.save(path)
    result = run_python(
        f"""
        import json, keras, numpy as np
        import keras_dnnkit
        model = keras.saving.load_model({str(path)!r})
        x = np.ones((4, 5), "float32")
        first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
        mc = keras_dnnkit.mc_predict(model, x, samples=30, seed=0)
        print(json.dumps({{
            "classes": [type(layer).__name__ for layer in model.layers],
            "rates": [getattr(layer, "rate", None) for layer in model.layers],
            "stochastic": bool(not np.allclose(first, second)),
            "mc_std": float(mc.std.max()),
        }}))
        """
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["classes"] == ["Dense", "MCAlphaDropout", "Dense", "MCDropout", "Dense"]
    assert report["rates"] == [None, 0.1, None, 0.4, None]
    assert report["stochastic"] and report["mc_std"] > 1e-3
