# make run      - set up .venv, check the study file, run the default study (CONFIG=...
#                 for another) and build its HTML report, trusted or not
# make test     - set up .venv and run ruff, snakefmt, snakemake --lint and pytest
# make validate - run shipped studies from scratch and check the results they pin
#                 (STUDY=name for one; all of them take hours on 2 cores)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/config.yaml
STUDY_NAME = $(shell $(BIN)/python -c "import yaml; print(yaml.safe_load(open('$(CONFIG)'))['study'])")

.PHONY: setup run test test-cluster lint validate

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# The report is built whether or not the trust gate stopped the run: its front page
# then says which windows were untrusted and what to do. The exit status is the run's.
run: setup
	$(BIN)/mlpmf check $(CONFIG)
	@status=0; $(BIN)/snakemake --cores all --configfile $(CONFIG) || status=$$?; \
	$(BIN)/snakemake --cores all --configfile $(CONFIG) \
		--report results/$(STUDY_NAME)/report.html \
		&& echo "Report: results/$(STUDY_NAME)/report.html"; \
	exit $$status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

# The library's tests in parallel, one worker per core (each with one torch thread);
# then the workflow's, one at a time (each study uses every core itself).
test: lint
	$(BIN)/pytest -n auto -m "not workflow and not slurm"
	$(BIN)/pytest -m workflow

validate: setup
	$(BIN)/python benchmarks/validate.py $(STUDY)

# A live single-node SLURM (installed and started as root), then the cluster tests.
test-cluster: setup
	$(BIN)/pytest -m slurm tests/cluster
