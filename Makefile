# The two commands of the README: `make run` and `make test`. Both create .venv and install
# nnx into it on first use; re-installation happens only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nnx-installed

.PHONY: run test test-fast lint bench docs clean

run: $(STAMP)
	$(BIN)/nnx

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e"

# Style (ruff), the layer contracts of [tool.importlinter] and the declared dependencies
# ([tool.deptry]); tests/unit/test_architecture.py runs the last two in the suite as well.
lint: $(STAMP)
	$(BIN)/ruff check nnx plugins tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/deptry .

bench: $(STAMP)
	$(BIN)/python benchmarks/loop_overhead.py
	$(BIN)/python benchmarks/tracking_overhead.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/data_loading.py
	$(BIN)/python benchmarks/sweep_parallel.py --control

# The docs site (docs/mkdocs.yml, pages in docs/pages/) into docs/site/, git-ignored.
# --strict: a broken link or a bad API reference fails the build, as in tests/e2e/test_docs.py.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -f docs/mkdocs.yml

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info docs/site
