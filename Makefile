# Quick start: `make demo` runs the tour, `make test` runs the test suite.
# Both create .venv with the package installed (editable) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= jnn-output

.PHONY: demo test lint format bench docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/jnn tour --out $(OUT)

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --durations=15

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(BIN)/.installed
	$(BIN)/pip install --quiet "torch==2.13.0" "torch-geometric>=2.5"
	$(BIN)/python benchmarks/mlp.py
	$(BIN)/python benchmarks/mlp_mnist.py
	$(BIN)/python benchmarks/static.py
	$(BIN)/python benchmarks/hopfield_discrete.py
	$(BIN)/python benchmarks/hopfield_continuous.py
	$(BIN)/python benchmarks/hopfield_tsp.py
	$(BIN)/python benchmarks/cnn.py
	$(BIN)/python benchmarks/rnn.py
	$(BIN)/python benchmarks/transformer.py
	$(BIN)/python benchmarks/graph.py
	$(BIN)/python benchmarks/rbm.py
	$(BIN)/python benchmarks/vae.py
	$(BIN)/python benchmarks/gan.py
	$(BIN)/python benchmarks/diffusion.py

docs: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache site
