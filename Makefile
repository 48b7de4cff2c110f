# The README's two commands: `make demo` (the main job) and `make test` (the tests).
# Each creates .venv with Python 3.11 and installs synthaug with the pinned versions in
# constraints.txt (torch 2.13.0, CPU build).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all install clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/synthaug augment builtin:digits --out runs/demo --seed 0 --overwrite
	@echo "Results are in runs/demo (augmented.npz, synthetic/, samples.png, quality.json, history.csv, model/, config.json)."

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

clean:
	rm -rf $(VENV) runs build *.egg-info
