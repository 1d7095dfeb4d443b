# Each target sets up .venv on first use; the stamp file keeps later calls from reinstalling.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# this workplace keeps scikit-learn's housing cache beside the project; elsewhere scikit-learn's default applies
ifneq ($(wildcard ../shared/scikit_learn_data),)
export SCIKIT_LEARN_DATA ?= $(abspath ../shared/scikit_learn_data)
endif

.PHONY: train test test-all test-services services services-stop lint bench results suite compare tensorboard notebooks clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: this takes the CPU build from the local wheel store instead of a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,postgres]'
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m src.train $(ARGS)

# the quick tests on up to 4 workers (one torch thread each); test-all on up to 2, since its sweeps, DDP and
# housing_best runs use 2 cores of their own: a test file at a time per worker (the documented commands build on
# each other; xdist's loadgroup splits its groups under pytest 9.2: pytest-xdist#1386), the longest first
test: $(STAMP)
	$(PY) -m pytest -n auto --maxprocesses=4 $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -m "not services" -n auto --maxprocesses=2 --dist loadfile $(ARGS)

# the cluster features against real services on this machine (as root): a one-node SLURM with accounting,
# PostgreSQL and an MLflow tracking server (scripts/services.sh); make services-stop stops them
services: $(STAMP)
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

test-services: $(STAMP)
	$(PY) -m pytest -m services -p no:randomly $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# every documented experiment on its documented seed(s), then docs/results.md from what was measured
results: $(STAMP)
	$(PY) -m benchmarks.results $(ARGS)

# the table suite (conf/results.yaml's suite:): the default net against LightGBM, RealMLP-TD and LightGBM-TD on
# public tables, into docs/results.md; its extra packages are installed on first use
suite: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,postgres,suite]'
	$(PY) -m benchmarks.suite $(ARGS)

compare: $(STAMP)
	$(PY) -m src.compare $(ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks.bench $(ARGS)

tensorboard: $(STAMP)
	$(VENV)/bin/tensorboard --logdir logs

notebooks: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,notebook]'
	$(VENV)/bin/jupyter notebook notebooks/

clean:
	rm -rf $(VENV) *.egg-info
