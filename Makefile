# The two commands: `make demo` (the live demo) and `make test` (every test).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test install install-demo js system-deps lint bench bench-quick

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q -U pip

js:
	cd js && npm ci --no-audit --no-fund && npm run build

install: $(PY) js
	$(PIP) install -q -e ".[test]"

install-demo: $(PY) js
	$(PIP) install -q -e ".[demo]"

# Debian packages the tests need (redis-server, chromium); a no-op when present.
system-deps:
	@command -v redis-server >/dev/null && command -v chromium >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server chromium)

lint: install
	$(VENV)/bin/ruff check segment_debugger tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict segment_debugger/core segment_debugger/sources

test: system-deps install lint
	cd js && npm test
	$(VENV)/bin/pytest

demo: install-demo
	$(VENV)/bin/segment-debugger demo

# Performance goals, each against a baseline measured in the same run (not tests; minutes).
bench: system-deps install
	$(PY) benchmarks/run_all.py

bench-quick: system-deps install
	$(PY) benchmarks/run_all.py --quick
