# Two commands do everything: `make demo` (the main job) and `make test` (the whole suite).
# Each creates the virtual environment in .venv on first use. `make check` is the fast lane
# while you work: lint, types and the tests not marked slow (no coverage), in under 2 minutes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LINTED := keras_dnnkit plugins tests examples benchmarks

.PHONY: demo test check lint typecheck clean tensorboard

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/dnnkit demo

# TensorBoard on every run under runs/ (the demo writes there); the keras-dnnkit tab is the
# dashboard. Another directory: make tensorboard LOGDIR=path.
LOGDIR ?= runs
tensorboard: $(BIN)/.installed
	$(BIN)/tensorboard --logdir $(LOGDIR)

test: $(BIN)/.installed lint typecheck
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term

check: $(BIN)/.installed lint typecheck
	$(BIN)/python -m pytest -m "not slow" -q

lint: $(BIN)/.installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(BIN)/.installed
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache
