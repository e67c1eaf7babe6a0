# Front door. `make deploy` runs the service on its default models; `make test` runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export HF_HUB_OFFLINE ?= 1
NSMC_DIR ?= $(abspath $(wildcard ../shared/nsmc))
export NSMC_DIR

FAST_MODEL := models/nsmc_fast/model.joblib
BERT_MODEL := models/nsmc_bert/config.json
FAST_MAR   := archives/nsmc_fast.mar
BERT_MAR   := archives/nsmc_bert.mar

.PHONY: help setup train train-fast train-bert train-bert-gpu archive archive-bert deploy stop status test bench soak clean

help:
	@echo "make deploy      set up, train/archive what is missing, start TorchServe + gateway (:5000)"
	@echo "make test        run the unit and end-to-end tests"
	@echo "make stop        stop the service"
	@echo "make train-fast  retrain the fast model on NSMC    make train-bert  train the compact BERT (CPU recipe)"
	@echo "make train-bert-gpu  the shipped BERT's recipe on a CUDA GPU   (BERT_ARGS=... adds train.bert options)"
	@echo "make archive     build archives/*.mar              make archive-bert MODEL=<dir or hub id>"
	@echo "make bench       gateway vs TorchServe vs seed-style app, side by side (~9 min; BENCH_ARGS=--quick)"
	@echo "make soak        5 minutes of steady traffic on both paths: errors, latency, memory drift"

setup: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(FAST_MODEL): | setup
	$(PY) -m train.fast
train-fast: setup
	$(PY) -m train.fast
train: train-fast
# The shipped BERT's recipe, in steps rather than minutes so that any machine reproduces it:
# ~8 min on an H100 (it needs a CUDA build of torch in the venv), ~8 h on 2 CPU cores.
BERT_GPU_RECIPE := --mlm-batch-size 512 --mlm-lr 1.2e-3 --mlm-epochs 52.56 --mlm-max-minutes 0 \
                   --epochs 2.83 --ft-max-minutes 0
train-bert: setup
	$(PY) -m train.bert $(BERT_ARGS)
train-bert-gpu: setup
	$(PY) -m train.bert --device cuda $(BERT_GPU_RECIPE) $(BERT_ARGS)

$(FAST_MAR): $(FAST_MODEL) $(wildcard handlers/*.py) model_config/nsmc_fast.yaml
	$(PY) -m train.archive fast --force
# The accurate archive blends BERT with the fast model (models/nsmc_bert/blend.json), so it needs both.
$(BERT_MAR): $(BERT_MODEL) $(FAST_MODEL) $(wildcard handlers/*.py) model_config/nsmc_bert.yaml | setup
	$(PY) -m train.archive bert --force
archive: $(FAST_MAR) $(if $(wildcard $(BERT_MODEL)),$(BERT_MAR))
# MODEL may be a local directory or a hub id (downloads, so it needs the network).
archive-bert: setup
	$(if $(MODEL),HF_HUB_OFFLINE=0) $(PY) -m train.archive bert $(if $(MODEL),--model-dir "$(MODEL)") --force

deploy: archive
	$(PY) -m deploy up

stop:
	-$(PY) -m deploy down

status:
	$(PY) -m deploy status

test: setup
	$(PY) -m pytest

# Starts its own servers on free loopback ports (never the deploy's), stops them when done.
bench: archive
	$(PY) -m bench.side_by_side $(BENCH_ARGS)

# Steady traffic on both paths for 5 minutes; errors, latency and RSS drift (bench/soak.py).
soak: archive
	$(PY) -m bench.soak $(SOAK_ARGS)

clean: stop
	rm -rf run logs
