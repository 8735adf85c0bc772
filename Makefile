# The two commands of the README: `make run` and `make test`. Both create .venv and install
# nnx into it on first use, every dependency at the exact version CI tested
# (.ci/constraints.txt); re-installation happens only when pyproject.toml or it changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nnx-installed
CONSTRAINTS := .ci/constraints.txt
# -c adds to any constraint file pip's own configuration names (both apply).
INSTALL := $(BIN)/python -m pip install --quiet -c $(CONSTRAINTS)

.PHONY: run test test-fast lint bench docs clean constraints

run: $(STAMP)
	$(BIN)/nnx

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e"

# Style (ruff), the layer contracts of [tool.importlinter] and the declared dependencies
# ([tool.deptry]); tests/unit/test_architecture.py runs the last two in the suite as well.
lint: $(STAMP)
	$(BIN)/ruff check nnx plugins hydra_plugins tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/deptry .

bench: $(STAMP)
	$(BIN)/python benchmarks/loop_overhead.py
	$(BIN)/python benchmarks/tracking_overhead.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/data_loading.py
	$(BIN)/python benchmarks/sweep_parallel.py --control
	$(BIN)/python benchmarks/api.py

# The docs site (docs/mkdocs.yml, pages in docs/pages/) into docs/site/, git-ignored.
# --strict: a broken link or a bad API reference fails the build, as in tests/e2e/test_docs.py.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -f docs/mkdocs.yml

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(INSTALL) torch torchvision
	$(INSTALL) -e '.[dev]'
	touch $(STAMP)

# Pin what is installed now as the tested versions: after upgrading a dependency (pip install
# -U X in .venv) and a green `make test`, run this and commit .ci/constraints.txt.
# nnx itself and packages installed from a path or URL are left out.
constraints:
	{ echo "# The exact versions \`make test\` passed with; \`make run\`, \`make test\` and CI install them."; \
	  echo "# Regenerate with: make constraints   (pip freeze of .venv, without nnx itself)"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -e '^nnx==' -e ' @ '; \
	} > $(CONSTRAINTS)

clean:
	rm -rf $(VENV) build dist *.egg-info docs/site
