# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - the main job
#   make test   - the test suite
# Each creates the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

TORCH_VENV ?= .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed-stamp

.PHONY: venv demo test test-slow test-torch golden-torch lint clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,train,export]"
	touch $(STAMP)

venv: $(STAMP)

# Offline: trains ResNet-20 on Fashion-MNIST (the full IDX files when installed, else the
# shipped sample), exports int8 TFLite, compares accuracy, size and latency into runs/demo
# (about 4 minutes on 2 cores). More flags: make demo DEMO_ARGS="--small --output_dir=/tmp/d"
demo: $(STAMP)
	$(BIN)/python -m keras_convnets.quickstart $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The default suite (about 20 minutes on 2 cores); the slow tests run in CI.
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

# PyTorch in its own venv (about 5.5 GB), never in the package's: the converted
# torchvision/timm weights must equal the PyTorch models' outputs
# (tests/test_pretrained_torch.py; about 15 minutes on 2 cores).
$(TORCH_STAMP):
	$(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(TORCH_VENV)/bin/python -m pip install -q timm safetensors numpy
	touch $(TORCH_STAMP)

test-torch: $(STAMP) $(TORCH_STAMP)
	KERAS_CONVNETS_TORCH_PYTHON=$(abspath $(TORCH_VENV))/bin/python \
		$(BIN)/python -m pytest -q -s tests/test_pretrained_torch.py $(PYTEST_ARGS)

# Rewrites the default suite's golden outputs (tests/data/pretrained) with PyTorch.
golden-torch: $(TORCH_STAMP)
	$(TORCH_VENV)/bin/python tests/torch_side/make_golden.py

clean:
	rm -rf $(VENV) $(TORCH_VENV) .pytest_cache .ruff_cache
