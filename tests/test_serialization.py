"""Every registered component that Keras saves inside a model survives a .keras round trip.

The file is loaded in a fresh process, with identical predictions and optimizer state.
"""

import json

import keras
import numpy as np
import pytest

import keras_dnnkit
from tests.conftest import run_python

# Arguments a component cannot do without. A newly registered component with required
# arguments makes test_every_saved_component_round_trips fail until it is listed here.
REQUIRED = {
    ("layer", "dense"): {"units": 3},
    ("layer", "maxout"): {"units": 2},
    ("layer", "dropout"): {"rate": 0.5},
    ("layer", "alpha_dropout"): {"rate": 0.5},
    ("layer", "mc_dropout"): {"rate": 0.5},
    ("layer", "mc_alpha_dropout"): {"rate": 0.5},
    ("schedule", "power"): {"initial_learning_rate": 0.1, "decay_steps": 3, "power": 2.0},
    ("schedule", "exponential"): {"initial_learning_rate": 0.1, "decay_steps": 3},
    ("schedule", "exponential_decay"): {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5},
    ("schedule", "inverse_time_decay"): {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5},
    ("schedule", "polynomial_decay"): {"initial_learning_rate": 0.1, "decay_steps": 10},
    ("schedule", "cosine_decay"): {"initial_learning_rate": 0.1, "decay_steps": 10},
    ("schedule", "cosine_decay_restarts"): {"initial_learning_rate": 0.1, "first_decay_steps": 3},
    ("schedule", "piecewise_constant"): {"boundaries": [1], "values": [0.1, 0.01]},
    ("schedule", "one_cycle"): {"max_lr": 0.1, "total_steps": 10},
    ("schedule", "cyclic"): {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2},
    ("schedule", "scaled_schedule"): lambda: {
        "schedule": keras_dnnkit.get("schedule", "cosine_decay", initial_learning_rate=0.1, decay_steps=10),
        "multiplier": 0.5,
    },
}  # fmt: skip
# Layers that are random at inference by design: compared by configuration and weights.
STOCHASTIC = {"mc_dropout", "mc_alpha_dropout"}
SAVED_KINDS = ("initializer", "activation", "constraint", "layer", "optimizer", "schedule")


def build(kind, name):
    config = REQUIRED.get((kind, name), {})
    config = config() if callable(config) else config
    inputs = keras.Input((4,))
    if kind == "initializer":
        outputs = keras.layers.Dense(3, kernel_initializer=keras_dnnkit.get(kind, name, **config))(
            inputs
        )
    elif kind == "activation":
        outputs = keras.layers.Dense(3, activation=keras_dnnkit.get(kind, name, **config))(inputs)
    elif kind == "constraint":
        outputs = keras.layers.Dense(3, kernel_constraint=keras_dnnkit.get(kind, name, **config))(
            inputs
        )
    elif kind == "layer":
        outputs = keras_dnnkit.get(kind, name, **config)(keras.layers.Dense(4)(inputs))
    else:
        outputs = keras.layers.Dense(3)(inputs)
    model = keras.Model(inputs, outputs)
    if kind in ("optimizer", "schedule"):
        if kind == "optimizer":
            optimizer = keras_dnnkit.get(kind, name, learning_rate=0.01, **config)
        else:
            optimizer = keras.optimizers.SGD(learning_rate=keras_dnnkit.get(kind, name, **config))
        model.compile(optimizer=optimizer, loss="mse")
        x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
        model.fit(x, np.zeros((8, 3)), batch_size=4, epochs=1, verbose=0)
    return model


def cases():
    return [(kind, name) for kind in SAVED_KINDS for name in keras_dnnkit.names(kind)]


@pytest.mark.slow
def test_every_saved_component_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    manifest = []
    for kind, name in cases():
        model = build(kind, name)
        path = tmp_path / f"{kind}-{name}.keras"
        model.save(path)
        entry = {"kind": kind, "name": name, "path": str(path)}
        if name not in STOCHASTIC:
            entry["prediction"] = model.predict(x, verbose=0).tolist()
        if kind in ("optimizer", "schedule"):
            entry["optimizer"] = type(model.optimizer).__name__
            entry["iterations"] = int(model.optimizer.iterations)
            entry["learning_rate"] = float(model.optimizer.learning_rate)
        entry["weights"] = [w.tolist() for w in model.get_weights()]
        manifest.append(entry)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    result = run_python(
        f"""
        import json, numpy as np, keras_dnnkit
        x = np.load({str(tmp_path / "x.npy")!r})
        problems = []
        for entry in json.load(open({str(tmp_path / "manifest.json")!r})):
            label = entry["kind"] + " " + entry["name"]
            model = keras_dnnkit.load_model(entry["path"])
            if "prediction" in entry and not np.array_equal(
                model.predict(x, verbose=0), np.array(entry["prediction"], dtype="float32")
            ):
                problems.append(label + ": predictions differ")
            for saved, loaded in zip(entry["weights"], model.get_weights()):
                if not np.array_equal(np.array(saved, dtype=loaded.dtype), loaded):
                    problems.append(label + ": weights differ")
            if "optimizer" in entry:
                if type(model.optimizer).__name__ != entry["optimizer"]:
                    problems.append(label + ": optimizer " + type(model.optimizer).__name__)
                if int(model.optimizer.iterations) != entry["iterations"]:
                    problems.append(label + ": iterations " + str(int(model.optimizer.iterations)))
                if not np.isclose(float(model.optimizer.learning_rate), entry["learning_rate"]):
                    problems.append(label + ": learning rate " + str(float(model.optimizer.learning_rate)))
        print(json.dumps({{"checked": len(json.load(open({str(tmp_path / "manifest.json")!r}))), "problems": problems}}))
        """
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert report["checked"] == len(manifest) >= 60


@pytest.mark.slow
def test_configured_activation_round_trips_with_its_configuration(tmp_path):
    leaky = keras_dnnkit.get("activation", "leaky_relu", negative_slope=0.01)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation=leaky)])
    model.save(tmp_path / "leaky.keras")
    result = run_python(
        f"""
        import keras_dnnkit
        model = keras_dnnkit.load_model({str(tmp_path / "leaky.keras")!r})
        print(model.layers[0].activation)
        """
    )
    assert "ConfiguredActivation('leaky_relu', negative_slope=0.01)" in result.stdout
