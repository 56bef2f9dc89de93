# beam-pipelines: `make run` (demo on a local BigQuery emulator) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Nothing run from here may probe a GCE metadata server or reach Google.
export NO_GCE_CHECK := True
export GCE_METADATA_HOST := 127.0.0.1:9
export GCE_METADATA_IP := 127.0.0.1:9

.PHONY: install run run-streaming test lint clean

install: $(STAMP)

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	$(PY) -m beam_pipelines.local_emulators prepare
	touch $(STAMP)

run: install
	$(PY) -m beam_pipelines.demo

run-streaming: install
	$(PY) -m beam_pipelines.streaming_demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check transforms beam_pipelines tests

clean:
	rm -rf $(VENV) .demo-data .pytest_cache *.egg-info
