# The two commands: `make demo` (the live demo) and `make test` (every test).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

# (test-installed-3.10/-3.13 come from a pattern rule, which make skips for .PHONY targets)
.PHONY: demo test install install-demo js system-deps lint bench bench-quick js-test py-test \
	wheel test-installed

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

test: system-deps install lint js-test py-test test-installed

js-test: install
	cd js && npm test

py-test: install
	$(VENV)/bin/pytest

# ---- the released artifacts, as a user installs them --------------------------------------
# The wheel and sdist are built once; the wheel is installed into fresh venvs on Python 3.10
# and 3.13 (both in parallel) with no Node on PATH, and the headless and real-Redis tests run
# against that installed copy (not the source tree), plus one browser test on 3.13.
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON_3.10 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.10*/bin/python3.10))
PYTHON_3.13 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13))
NODELESS := $(CURDIR)/build/nodeless-bin
INSTALLED_TESTS := tests/core tests/widget tests/io tests/sources/test_source.py \
	tests/sources/test_streams.py tests/sources/test_tls.py tests/sources/test_base.py

wheel: install
	rm -rf dist
	$(PY) -m build --outdir dist . >/dev/null
	@ls dist

$(NODELESS):
	mkdir -p $(NODELESS)
	for tool in redis-server redis-cli openssl chromium ps sh bash env; do \
	  ln -sf "$$(command -v $$tool)" $(NODELESS)/$$tool; done

test-installed: wheel $(NODELESS)
	$(MAKE) -j2 test-installed-3.10 test-installed-3.13

test-installed-%: $(NODELESS)
	@test -n "$(PYTHON_$*)" || (echo "Python $* not found under $(PYENV_ROOT)"; exit 1)
	rm -rf build/venv-$*
	$(PYTHON_$*) -m venv build/venv-$*
	build/venv-$*/bin/pip install -q -U pip
	build/venv-$*/bin/pip install -q "$$(ls dist/*.whl)[test]"
	cd build && PATH=$(CURDIR)/build/venv-$*/bin:$(NODELESS) venv-$*/bin/python -c \
	  "import segment_debugger as s, shutil; assert 'site-packages' in s.__file__, s.__file__; \
	   assert shutil.which('node') is None; print('installed', s.__version__, s.__file__)"
	PATH=$(CURDIR)/build/venv-$*/bin:$(NODELESS) build/venv-$*/bin/pytest -q -p no:cacheprovider \
	  -m "not slow or browser" $(INSTALLED_TESTS) $(if $(filter 3.13,$*),tests/browser/test_voila.py)

demo: install-demo
	$(VENV)/bin/segment-debugger demo

# Performance goals, each against a baseline measured in the same run (not tests; minutes).
bench: system-deps install
	$(PY) benchmarks/run_all.py

bench-quick: system-deps install
	$(PY) benchmarks/run_all.py --quick
