# `make run` starts the server; `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench compat clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[fast,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/alchemy-server --dir ./data

# Tests drive the server with redis-cli too: install Debian's redis-tools when missing.
test: $(STAMP)
	@command -v redis-cli >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null; }
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) *.egg-info

# Redis 7.0's own Tcl suite against Alchemy, one fresh server per unit (fetched into
# .compat/ on first use; results in .compat/results/). `make compat UNITS="unit/expire"`.
compat: $(STAMP)
	$(BIN)/python compat/run.py $(UNITS)
