# The two commands in the README: `make run` and `make test`. Both set up a fresh machine first.
PY ?= python3
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: setup bundle run test lint bench model clean

setup:
	@bash scripts/setup.sh

bundle: setup
	@if [ -f wasm/build_bundle.py ]; then $(PY) wasm/build_bundle.py --quiet; fi

run: bundle
	AUDYN_DEV_MODE=true $(PY) -m origin.cli demo --port $(PORT)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check wasm origin tests bench models

# Two pytest workers: the suite mixes CPU-bound DSP tests with real-time I/O (RTP streams,
# servers, Chromium), so this halves the wall time on the 2-core CI machine.
PYTEST_ARGS ?= -n 2

test: bundle
	$(PY) -m ruff check .
	$(PY) -m ruff format --check wasm origin tests bench models
	$(PY) -m mypy
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: bundle
	$(PY) -m bench

model: setup
	$(PY) -m origin.cli train --corpus --seed 0 --out models
	$(PY) -m origin.cli train --corpus --mfcc --seed 0 --out models

clean:
	rm -rf wasm/dist build *.egg-info .pytest_cache .ruff_cache .setup-stamp
