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

.PHONY: venv data demo test test-quick test-slow lint clean

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
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
