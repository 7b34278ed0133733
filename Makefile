# The README's commands. Each target bootstraps .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_JSON ?= bench-results.json
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo bench diagrams lint dot chromium clean mutate docs

# The package maps adapters/ to lifecycle.adapters, for which setuptools warns about editable
# installs at every install: said once here instead (PYTHONWARNINGS below).
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" \
		$(BIN)/python -m pip install --quiet -e '.[test,bench,sweep,hyperliquid]'
	touch $(STAMP)

# The Graphviz `dot` binary renders the diagrams; install it when it is missing.
dot:
	@command -v dot >/dev/null 2>&1 || { \
		echo "installing Graphviz (dot) with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq graphviz >/dev/null; }

# Headless Chromium runs the review page's browser test; install Debian's package when missing.
chromium:
	@[ -x /usr/bin/chromium ] || { \
		echo "installing Chromium with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check lifecycle adapters tests bench
	$(BIN)/mypy --strict lifecycle adapters
	@# Only the contracts' verdicts when kept; everything when one is broken.
	@out=$$($(BIN)/lint-imports --no-cache) || { echo "$$out"; exit 1; }; \
		echo "$$out" | grep -E "KEPT|Contracts:"

# The layer contracts live in setup.cfg ([importlinter]).
# The suite must fire every legal edge of the lifecycle table (transition coverage), and
# notice every one of them removed or retargeted (transition mutation testing).
test: $(STAMP) dot chromium lint
	$(BIN)/pytest --lifecycle-cov-fail-under=100 --lifecycle-mutate-fail-under=100

demo: $(STAMP) dot
	$(BIN)/lifecycle diagram --out diagrams
	$(BIN)/lifecycle simulate

PEERS_STAMP := $(VENV)/.peers-installed

$(PEERS_STAMP): $(STAMP)
	PYTHONWARNINGS="ignore:Editable installation" \
		$(BIN)/python -m pip install --quiet -e '.[test,bench,sweep,hyperliquid,peers]'
	touch $(PEERS_STAMP)

bench: $(STAMP) $(PEERS_STAMP)
	BENCH_JSON=$(BENCH_JSON) $(BIN)/python bench/run.py

diagrams: $(STAMP) dot
	$(BIN)/lifecycle diagram --out diagrams

# The documentation site (mkdocs.yml, docs/), built strictly: any warning fails. Open
# site/index.html.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# Mutation testing of lifecycle/core, engine and policy with mutmut 3 (.ci/mutate.py --help),
# e.g. `make mutate MUTATE_ARGS="--sample 200 --seed 1"`. CPU-heavy: mind --jobs.
MUTATE_ARGS ?=

mutate: $(STAMP)
	$(BIN)/python .ci/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache site
