# Front door. `make deploy` runs the service on its default models; `make test` runs the tests.
# Every setting of the service is a SENTIMENT_* environment variable (docs/settings.md).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export HF_HUB_OFFLINE ?= 1
NSMC_DIR ?= $(abspath $(wildcard ../shared/nsmc))
export NSMC_DIR

.PHONY: help setup lock train train-fast train-bert train-bert-gpu migrate-store archive archive-accurate deploy stop \
        status test test-deps lint-imports validate-deploy image bench soak memory clean

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "make %-18s %s\n", $$1, $$2}'

# Dependencies: ranges in pyproject.toml (the service; its extras test, bench, lint, dev) and
# sentiment_client/pyproject.toml (the client, a distribution of its own); exact versions with hashes
# in the lock files `make lock` writes from them. requirements.lock has every extra: the venv, tests
# and CI; requirements-runtime.lock the runtime set only: the images (deploy/docker/).
# The lock pins torch's CPU wheel (a +cpu version), which PyPI does not have: pip finds it here (on
# this project's machines it is also in pip's local wheel directory). TORCH_FIND_LINKS= leaves it out:
# where the page cannot be reached, pip spends its retries (~8 s) on it for every package it looks up,
# so on those machines `make lock TORCH_FIND_LINKS=` takes ~40 s instead of many minutes.
TORCH_FIND_LINKS ?= https://download.pytorch.org/whl/cpu/torch/

setup: $(VENV)/.installed ## venv with the locked dependencies (requirements.lock), the project and client editable
$(VENV)/.installed: requirements.lock pyproject.toml sentiment_client/pyproject.toml
	@deploy/step "install: venv and the locked dependencies (~3 min the first time)" \
	  sh -c 'test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	         deploy/install-lock $(PY) requirements.lock "$(TORCH_FIND_LINKS)" && \
	         PYTHONWARNINGS="ignore:Editable installation" \
	           $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . -e ./sentiment_client'
	touch $@

# pip-tools' pip-compile (the dev extra), not uv: uv does not read pip's configuration (the local
# index and wheel directory), so it would pull torch's CUDA wheels. The runtime and client locks are
# constrained by the full one: a package has the same version and hashes in all three.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes \
              --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
              $(if $(TORCH_FIND_LINKS),--find-links $(TORCH_FIND_LINKS))
lock: $(VENV)/.installed ## rewrite the lock files from the pyproject.toml files (LOCK_ARGS=--upgrade: newest versions)
	$(PIP_COMPILE) --all-extras $(LOCK_ARGS) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) -c requirements.lock -o requirements-runtime.lock pyproject.toml
	$(PIP_COMPILE) -c requirements.lock -o sentiment_client/requirements.lock sentiment_client/pyproject.toml
	@grep -q '^torch==.*+cpu ' requirements.lock || { echo "requirements.lock pins PyPI's torch (the CUDA build),\
	 not the CPU wheel: is TORCH_FIND_LINKS reachable?" >&2; exit 1; }

train-fast: setup ## retrain the fast model on NSMC (~2 min on 2 cores; FAST_ARGS=--morphemes adds kiwipiepy's morphemes, ~4 min)
	$(PY) -m train.fast $(FAST_ARGS)
train: train-fast ## = train-fast
# The shipped BERT's recipe, in steps rather than minutes so that any machine reproduces it:
# ~8 min on an H100 (it needs a CUDA build of torch in the venv), ~8 h on 2 CPU cores.
BERT_GPU_RECIPE := --mlm-batch-size 512 --mlm-lr 1.2e-3 --mlm-epochs 52.56 --mlm-max-minutes 0 \
                   --epochs 2.83 --ft-max-minutes 0
train-bert: setup ## train the compact BERT, CPU recipe (BERT_ARGS=... adds train.bert options)
	$(PY) -m train.bert $(BERT_ARGS)
train-bert-gpu: setup ## the shipped BERT's recipe on a CUDA GPU
	$(PY) -m train.bert --device cuda $(BERT_GPU_RECIPE) $(BERT_ARGS)

migrate-store: setup ## bring an archives/ of the earlier layout (nsmc_fast, nsmc_bert) to this one
	$(PY) -m deploy migrate

# Which archives are stale is decided in Python (train/archive.py), where the paths are defined.
archive: migrate-store ## train the fast model if it is missing; build archives that are missing or stale
	@deploy/step "train: the fast model on NSMC, if missing (~2 min on 2 cores)" $(PY) -m train.fast --if-missing
	@deploy/step "archive: what is missing or stale (the accurate one exports ONNX int8, ~1 min)" \
	  $(PY) -m train.archive all --if-stale
archive-accurate: setup ## archive another BERT-family classifier directory: MODEL=<dir>
	$(PY) -m train.archive accurate $(if $(MODEL),--model-dir "$(MODEL)") --force

deploy: archive ## set up, train/archive what is missing, start TorchServe + gateway (:5000)
	@deploy/step "start: TorchServe and the gateway" $(PY) -m deploy up

stop: ## stop the service
	-$(PY) -m deploy down

status: ## the running service's health
	$(PY) -m deploy status

lint-imports: setup ## check the layers (handlers <- core <- train|gateway|deploy <- bench)
	$(VENV)/bin/lint-imports

# Chromium, fonts-nanum and promtool through apt-get (as root or with passwordless sudo), kubectl into
# the venv (requirements-test-tools.txt); one line on what it did. A tool it cannot install skips its tests.
test-deps: setup ## install the tools the tests run (a second run installs nothing)
	@VENV=$(VENV) deploy/test-deps

test: setup test-deps lint-imports ## the tools the tests run, the import contract, unit and end-to-end tests
	$(PY) -m pytest

# Starts its own servers on free loopback ports (never the deploy's), stops them when done.
bench: archive ## gateway vs TorchServe vs seed-style app, side by side (~10 min; BENCH_ARGS=--quick)
	$(PY) -m bench.side_by_side $(BENCH_ARGS)

soak: archive ## 5 minutes of steady traffic on both paths: errors, latency, memory drift
	$(PY) -m bench.soak $(SOAK_ARGS)

memory: archive ## PSS/RSS of every process: at start, after 3 /train promotions, a rejected one, a rollback (~10 min)
	$(PY) -m bench.memory $(MEMORY_ARGS)

validate-deploy: setup test-deps ## lint and validate the images, compose.yaml and the Kubernetes manifests offline
	$(PY) -m pytest tests/test_manifests.py

IMAGE ?= nsmc-sentiment
image: archive ## build the CPU container image with podman (the archives seed the store)
	podman build --format docker -f deploy/docker/Dockerfile -t $(IMAGE) .

clean: stop ## stop, and remove run/ and logs/
	rm -rf run logs
