# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up by these targets.
SHELL := /bin/bash
PYTHON ?= python3
ASR_HOME ?= $(CURDIR)/.asr_home
export ASR_HOME
# uv: use the one on PATH, else install it once into .tools (a private venv, no root needed).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV_STAMP := .venv/.installed
export UV_PYTHON_DOWNLOADS := never

.PHONY: install demo test ui lint fmt typecheck bench eval clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV_STAMP)

demo: install
	.venv/bin/asr-assets ingest asr_assets/samples/calls

test: install
	.venv/bin/python -m pytest -q -ra

ui: install
	.venv/bin/asr-assets ui

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck: install
	.venv/bin/mypy asr_assets/asr

bench: install
	.venv/bin/asr-assets bench ../shared/eval/en --json bench-en.json

clean:
	rm -rf .venv .tools .asr_home dbt_transcripts/target dbt_transcripts/logs
