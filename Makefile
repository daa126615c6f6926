# The two commands: `make run` brings everything up and serves the app,
# `make test` runs the whole test suite against a private stack.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
RUN_DIR := var
RUN_PORT_BASE := 16400

.PHONY: run stop test install lint format readme bench bench-compare bench-load bench-submission deploy-test

install:
	@scripts/install.sh

run: install
	@scripts/run.sh

stop:
	@scripts/stack.sh down $(RUN_DIR)
	@echo "stopped"

test: install
	@scripts/test.sh $(PYTEST_ARGS)

lint: install
	@scripts/lint.sh

bench: install
	$(BIN)/python -m benchmarks.bench_api
	$(BIN)/python -m benchmarks.bench_staging_http
	$(BIN)/python -m benchmarks.bench_samplesheet
	$(BIN)/python -m benchmarks.bench_hostile_input
	$(BIN)/python -m benchmarks.bench_listing_stream
	$(BIN)/python -m benchmarks.bench_finding

# Builds the container image, runs the compose stack of docker/ and tests it end to end.
deploy-test: install
	@scripts/deploy_test.sh

# DataMeta 1.1.1 (../shared/peer) and this project, one after the other, on fresh databases:
# medians and ratios into benchmarks/RESULTS.md. BENCH_ARGS passes options (see --help).
bench-compare: install
	$(BIN)/python -m benchmarks.compare $(BENCH_ARGS)

# The load test alone: locust, 50 clients for 60 s, against DataMeta 1.1.1 then this project.
bench-load: install
	$(BIN)/python -m benchmarks.compare --runs 0 --load 60 --load-users 50 $(BENCH_ARGS)

# Prevalidation and submission of 10,000 records and files over HTTP, served as `make run`
# serves (benchmarks/bench_submission_http.py; BENCH_ARGS e.g. --rounds 5).
bench-submission: install
	$(BIN)/python -m benchmarks.bench_submission_http $(BENCH_ARGS)

readme: install
	$(BIN)/python scripts/update_readme.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
