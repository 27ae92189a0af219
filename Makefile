# make run   - set up .venv and run the default study (then build its HTML report)
# make test  - set up .venv and run ruff, snakemake --lint and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/config.yaml
STUDY = $(shell $(BIN)/python -c "import yaml; print(yaml.safe_load(open('$(CONFIG)'))['study'])")

.PHONY: setup run test test-cluster lint

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/snakemake --cores all --configfile $(CONFIG)
	$(BIN)/snakemake --cores all --configfile $(CONFIG) --report results/$(STUDY)/report.html
	@echo "Report: results/$(STUDY)/report.html"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

test: lint
	$(BIN)/pytest

# A live single-node SLURM (installed and started as root), then the cluster tests.
test-cluster: setup
	$(BIN)/pytest -m slurm tests/cluster
