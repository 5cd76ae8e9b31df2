# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - the main job
#   make test   - the test suite
# Each creates the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv demo test test-slow test-mediapipe lint clean

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
	$(BIN)/python -m pytest -q -m "slow and not mediapipe" $(PYTEST_ARGS)

# MediaPipe Tasks' ImageClassifier (the runtime Android and iOS apps call) on our int8 file,
# in its own environment (mediapipe pins absl-py and opencv apart from TensorFlow): no
# TensorFlow there, as on a phone. About 10 minutes on 2 cores.
MP_VENV ?= .venv-mediapipe
MP_STAMP := $(MP_VENV)/.installed-stamp
$(MP_STAMP): setup.cfg
	$(PYTHON) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install -q --upgrade pip
	$(MP_VENV)/bin/python -m pip install -q "mediapipe>=1.2" numpy
	touch $(MP_STAMP)

test-mediapipe: $(STAMP) $(MP_STAMP)
	MEDIAPIPE_PYTHON=$(MP_VENV)/bin/python $(BIN)/python -m pytest -q -m mediapipe $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(MP_VENV) .pytest_cache .ruff_cache
