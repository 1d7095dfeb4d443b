# Each target sets up .venv on first use; the stamp file keeps later calls from reinstalling.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# this workplace keeps scikit-learn's housing cache beside the project; elsewhere scikit-learn's default applies
ifneq ($(wildcard ../shared/scikit_learn_data),)
export SCIKIT_LEARN_DATA ?= $(abspath ../shared/scikit_learn_data)
endif

.PHONY: train test test-all lint bench results compare tensorboard notebooks clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: this takes the CPU build from the local wheel store instead of a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m src.train $(ARGS)

# the quick tests on up to 4 workers (one torch thread each); test-all runs in one process, since its DDP, signal
# and timing tests share the machine's cores by design
test: $(STAMP)
	$(PY) -m pytest -n auto --maxprocesses=4 $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -m "" $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# every documented experiment on its documented seed(s), then docs/results.md from what was measured
results: $(STAMP)
	$(PY) -m src.reporting.results_doc $(ARGS)

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
