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

.PHONY: install run run-streaming run-cdc test lint typecheck dist clean bench bench-micro \
	bench-streaming bench-cdc chromium

install: $(STAMP)

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	$(PY) -m beam_pipelines.tools.emulators prepare
	touch $(STAMP)

run: install
	$(PY) -m beam_pipelines.tools.demo

run-streaming: install
	$(PY) -m beam_pipelines.tools.streaming_demo

# CDC demo (docs/cdc.md): a Debezium change stream -> replica, change log, SCD2 history.
run-cdc: install
	$(PY) -m beam_pipelines.tools.cdc_demo

test: install chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The run-report test renders the page in headless Chromium: Debian's package, installed here
# when missing (as root, as CI runs); otherwise the test fails saying how to install it.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium for the run-report test"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

lint: install
	$(VENV)/bin/ruff check transforms beam_pipelines tests samples bench

# mypy on the library as users import it (beam_pipelines.transforms); also a test in `make test`.
typecheck: install
	$(PY) tests/typecheck.py

# The wheel and sdist users install (docs/install.md); tests/e2e/test_wheel.py builds them too.
dist: install
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .

# Benchmarks (issue 8; never part of `make test`). See BENCHMARKS.md.
BENCH_ARGS ?=
bench: install
	$(PY) bench/run_bench.py $(BENCH_ARGS)

bench-micro: install
	$(PY) bench/micro.py

bench-streaming: install
	$(PY) bench/streaming_latency.py $(BENCH_ARGS)

bench-cdc: install
	$(PY) bench/cdc_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo-data .pytest_cache .mypy_cache *.egg-info build dist

# ---- Flex Templates (see docs/templates.md) -------------------------------------------
TEMPLATE ?= files_to_bigquery
PARAMS ?= templates/$(TEMPLATE)/sample_parameters.json
IMAGE ?= $(REGION)-docker.pkg.dev/$(PROJECT)/beam-pipelines/$(TEMPLATE):latest
SPEC ?= gs://$(BUCKET)/templates/$(TEMPLATE).json

.PHONY: template-build template-launch template-local

template-build:
	@test -n "$(PROJECT)" -a -n "$(REGION)" -a -n "$(BUCKET)" || \
	  { echo "set PROJECT, REGION and BUCKET (and optionally IMAGE)"; exit 2; }
	@gcloud auth list --filter=status:ACTIVE --format='value(account)' | grep -q . || \
	  { echo "no active gcloud credentials: run 'gcloud auth login' first"; exit 2; }
	gcloud builds submit . --project $(PROJECT) --config templates/cloudbuild.yaml \
	  --substitutions=_TEMPLATE=$(TEMPLATE),_IMAGE=$(IMAGE)
	gcloud dataflow flex-template build $(SPEC) --project $(PROJECT) --image $(IMAGE) \
	  --sdk-language PYTHON --metadata-file templates/$(TEMPLATE)/metadata.json

template-launch: install
	@test -n "$(PROJECT)" -a -n "$(REGION)" -a -n "$(BUCKET)" || \
	  { echo "set PROJECT, REGION, BUCKET and PARAMS (a JSON file of parameters)"; exit 2; }
	$(PY) -m beam_pipelines.tools.launch $(TEMPLATE) --dataflow --project $(PROJECT) \
	  --region $(REGION) --template_spec $(SPEC) --parameters_file $(PARAMS)

template-local: install
	$(PY) -m beam_pipelines.tools.launch $(TEMPLATE) --local --with_emulators --parameters_file $(PARAMS)
