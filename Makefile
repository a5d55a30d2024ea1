# Strongroom — every target creates its own virtualenv from the lock file.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
DEV_ROOT_TOKEN ?= strongroom_dev_root_token
PYTEST_ARGS ?=
# SLOW=1 adds the crash and soak tests (marker `slow`); .ci/run sets it.
ifeq ($(SLOW),1)
MARK := 
else
MARK := -m "not slow"
endif

.PHONY: venv run test lint bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv==0.13.8
	$(VENV)/bin/uv pip sync -q --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

run: venv
	$(VENV)/bin/strongroom server --dev --data-dir ./var --listen 127.0.0.1:8200 --dev-root-token $(DEV_ROOT_TOKEN)

test: venv
	$(PY) -m pytest -n 2 --dist loadgroup $(MARK) $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/interrogate src/strongroom

bench: venv
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
