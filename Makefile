# Model Builder: `make demo` and `make test` are the quick start (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The PyTorch build to install when the venv has none. torch==2.13.0 is the CPU build on the
# project's machines; elsewhere pass your own, e.g. `make setup TORCH_SPEC=torch` (CUDA on Linux).
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint docs bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[gui,export,explain,tensorboard,dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/modelbuilder check --quiet graphs/lenet5.yaml
	$(BIN)/modelbuilder train graphs/lenet5.yaml

test: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

docs: setup
	$(BIN)/modelbuilder blocks --markdown > docs/blocks.md
	$(BIN)/modelbuilder gui graphs/seq2seq_attention.yaml --screenshot docs/images/editor.png --select attention

bench: setup
	$(BIN)/python bench/compile_overhead.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/editor.py
	$(BIN)/python bench/gui_responsiveness.py
	$(BIN)/python bench/export_parity.py
	$(BIN)/python bench/gpu_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
