# Sketchbridge — the two commands a newcomer needs: `make run` and `make test`.
# Everything is installed from package registries into .venv (the project) and
# .venv-sam (aws-sam-cli, which pins an older boto3 and so lives on its own).

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
PORT ?= 3000
STANDINS ?= 0

CHROMIUM := /usr/bin/chromium

.PHONY: install install-sam chromium run test test-future lint unit e2e browser screenshots infra bench build validate clean

$(VENV)/.installed: pyproject.toml functions/ocr/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The OCR function's exact wheels (headless OpenCV, no onnxruntime tool deps), so its
	# model tests run here as they run on Lambda; --no-deps keeps pip from pulling opencv-python.
	$(PY) -m pip install --quiet --no-deps -r functions/ocr/requirements.txt
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)'
	touch $@

install: $(VENV)/.installed

install-sam: $(SAM_VENV)/.installed

# Debian's Chromium for the browser suite (tests/browser): Playwright drives it and never
# downloads a browser of its own. Installed once, non-interactively, when it is missing.
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

chromium: $(CHROMIUM)

## Serve the API, the WebSocket API and the page on http://127.0.0.1:$(PORT) against emulated AWS.
run: install
	$(PY) -m local.stack --port $(PORT) $(if $(filter 1,$(STANDINS)),--standins,)

# The guard against the next date bomb (tests/conftest.py): the unit, property and contract
# suites again with the machine's own clock moved here by time-machine, ticking.
FUTURE_WALL_CLOCK ?= 2027-12-31T09:00:00+00:00

## Lint, type-check, check the import layers, run the suites with the clock a year on, then every suite.
test: install install-sam chromium lint test-future
	SAM_BIN=$(abspath $(SAM)) $(PY) -m pytest

## The unit, property and contract suites with the wall clock moved to $(FUTURE_WALL_CLOCK).
test-future: install
	SKETCHBRIDGE_WALL_CLOCK=$(FUTURE_WALL_CLOCK) $(PY) -m pytest tests/unit tests/property tests/contract

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest tests/unit tests/property

e2e: install
	$(PY) -m pytest tests/e2e

## The browser suite alone: the page in Debian's chromium against the stack with stand-ins.
browser: install chromium
	$(PY) -m pytest tests/browser

## Screenshots of the page's main states (docs/screenshots/*.png, shown in README.md).
screenshots: install chromium
	$(PY) -m tests.browser.screenshots --out docs/screenshots

infra: install install-sam
	SAM_BIN=$(abspath $(SAM)) $(PY) -m pytest tests/infrastructure

## Validate and build the SAM application offline (no Docker, no account).
validate: install-sam
	$(SAM) validate --lint --region us-east-1

build: install-sam
	$(SAM) build

## Benchmarks: long runs and timings, never part of `make test`.
bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .local .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
