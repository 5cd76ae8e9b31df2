# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - the main job
#   make test   - the test suite
# Each creates the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Real images for the tests: Fashion-MNIST's IDX files from Debian's dataset-fashion-mnist.
FMNIST_DIR := /usr/share/datasets/fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# TensorFlow's C++ log lines go to a file instead of between the demo's own lines.
KERAS_CONVNETS_TF_LOG ?= runs/tensorflow.log

TORCH_VENV ?= .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed-stamp
MP_VENV ?= .venv-mediapipe
MP_STAMP := $(MP_VENV)/.installed-stamp

.PHONY: venv data demo test test-quick test-slow test-torch golden-torch test-mediapipe lint clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,train,export]"
	touch $(STAMP)

venv: $(STAMP)

# Installs the Debian package when the files are missing (root, or sudo without a password).
data: $(FMNIST_DIR)/t10k-labels-idx1-ubyte.gz

$(FMNIST_DIR)/t10k-labels-idx1-ubyte.gz:
	@echo "Installing Fashion-MNIST (Debian: dataset-fashion-mnist) for the tests that read real images"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive sh -c \
	  'apt-get update -qq && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist'
	@test -f $@ || { echo "error: $@ is still missing after installing dataset-fashion-mnist"; exit 1; }

# Offline: trains ResNet-20 on Fashion-MNIST (the full IDX files when installed, else the
# shipped sample), exports int8 TFLite, compares accuracy, size and latency into runs/demo
# (about 4 minutes on 2 cores). More flags: make demo DEMO_ARGS="--small --output_dir=/tmp/d"
demo: $(STAMP)
	KERAS_CONVNETS_TF_LOG=$(KERAS_CONVNETS_TF_LOG) $(BIN)/python -m keras_convnets.quickstart $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The default suite: everything but the slow tests, two pytest workers; the slow tests run in CI.
test: $(STAMP) data lint
	$(BIN)/python -m pytest -q -n 2 -m "not slow" $(PYTEST_ARGS)

# The edit-run loop (a few minutes): unit tests only, no training, no large networks, no data.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "quick" $(PYTEST_ARGS)

test-slow: $(STAMP) data
	$(BIN)/python -m pytest -q -n 2 -m "slow and not mediapipe" $(PYTEST_ARGS)

# MediaPipe Tasks' ImageClassifier (the runtime Android and iOS apps call) on our int8 file,
# in its own environment (mediapipe pins absl-py and opencv apart from TensorFlow): no
# TensorFlow there, as on a phone. About 10 minutes on 2 cores.
$(MP_STAMP): setup.cfg
	$(PYTHON) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install -q --upgrade pip
	$(MP_VENV)/bin/python -m pip install -q "mediapipe>=1.2" numpy
	touch $(MP_STAMP)

test-mediapipe: $(STAMP) $(MP_STAMP)
	MEDIAPIPE_PYTHON=$(abspath $(MP_VENV))/bin/python $(BIN)/python -m pytest -q -m mediapipe $(PYTEST_ARGS)

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
	rm -rf $(VENV) $(TORCH_VENV) $(MP_VENV) .pytest_cache .ruff_cache
