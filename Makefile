# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up by these targets.
SHELL := /bin/bash
PYTHON ?= python3
ASR_HOME ?= $(CURDIR)/.asr_home
export ASR_HOME
# Converted weights and LiteRT programs are built once per checkpoint; tests that give each case its own ASR_HOME
# still share this cache.
ASR_MODEL_CACHE ?= $(ASR_HOME)/models
export ASR_MODEL_CACHE
# uv: use the one on PATH, else install it once into .tools (a private venv, no root needed).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV_STAMP := .venv/.installed
export UV_PYTHON_DOWNLOADS := never
# Benchmark inputs (the evaluation audio is not in the repository); override: make bench BENCH_DIR=DIR.
BENCH_DIR ?= ../shared/eval/en
PROFILE_FILE ?= ../shared/eval/calls/long-conversational/spokenwoz_MUL1011.opus
# make ui: where the web UI listens
PORT ?= 3000
HOST ?= 127.0.0.1

.PHONY: install browser demo test test-fast test-k8s bake ui lint fmt typecheck bench profile soak eval clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV_STAMP)

demo: install
	.venv/bin/asr-assets ingest asr_assets/samples/calls

# The suite spreads over TEST_WORKERS processes (pytest-xdist); --dist loadgroup keeps the tests that share an
# expensive set-up in one of them (asr_assets_tests/conftest.py: the engine tests, the dbt tests, each other file),
# and --no-loadscope-reorder starts them in the conftest's order (the longest first) rather than biggest group first.
# --durations: the slowest tests are named at the end of every run (its budget: 20 min on 2 cores).
TEST_WORKERS ?= 2
PYTEST := .venv/bin/python -m pytest -q -ra -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder
# The model caches are built first (make bake, idempotent): once, not by each worker that needs them at once.
test: install browser bake
	$(PYTEST) --durations=25 -m "not k8s_e2e"

# The caches docker/Dockerfile bakes into the image (the same commands, checked by test_dockerfile.py), built into
# ASR_MODEL_CACHE: converted weights, tiny.en's LiteRT programs, the multilingual base's int8 ones. Idempotent.
bake: install
	.venv/bin/python -c "from asr_assets.asr.checkpoints import load_checkpoint; load_checkpoint()"
	.venv/bin/python -m asr_assets.asr.litert.export
	.venv/bin/python -m asr_assets.asr.litert.export --model base --compute-type int8

# The whole ingest_job through the fake Kubernetes cluster, every step in its own pod (engine and dbt included),
# with each step pod's start-up measured (k8s-step-timings.json; BENCHMARKS.md) on the caches the image bakes. ~2 min: kept out of make test,
# whose fake-cluster tests run raw_audio alone in a pod plus the executor's retries, cancels and resumes.
test-k8s: install bake
	ASR_K8S_TIMINGS_JSON=$(CURDIR)/k8s-step-timings.json .venv/bin/python -m pytest -q -ra -s -m k8s_e2e \
	  asr_assets_tests/deployment/test_k8s_executor.py

# Debian's Chromium for the UI tests (asr_assets_tests/ui/), which Playwright drives through executable_path: no
# browser is downloaded from anywhere but Debian's mirrors.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; \
	fi

# Everything but the tests marked slow (whole pipeline runs, dbt builds, compiled engines, profiling) or needing the
# evaluation audio: for iteration (its budget: 5 min on 2 cores).
test-fast: install bake
	$(PYTEST) --durations=10 -m "not slow and not eval and not k8s_e2e"

# The Dagster UI (webserver + daemon, `dagster dev`) on the local instance: make ui PORT=3001 HOST=0.0.0.0
ui: install
	.venv/bin/asr-assets ui --port $(PORT) --host $(HOST)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck: install
	.venv/bin/mypy asr_assets/asr

# Ours vs faster-whisper (benchmarks/README.md); results are written up in BENCHMARKS.md.
bench: install
	.venv/bin/python -m benchmarks bench $(BENCH_DIR) --json bench-en.json

profile: install
	.venv/bin/python -m benchmarks profile $(PROFILE_FILE)

# Reliability soak (benchmarks/README.md): generated calls and hostile files through the real daemon, with kill -9
# faults; exits 0 only when no file is lost or duplicated. Not part of `make test` (it transcribes for minutes).
SOAK_FILES ?= 2000
soak: install
	.venv/bin/python -m benchmarks soak --files $(SOAK_FILES) --json soak.json

clean:
	rm -rf .venv .tools .asr_home dbt_transcripts/target dbt_transcripts/logs
