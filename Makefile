# The two commands a newcomer needs (see README.md):
#   make demo   broker + worker running, the sample article in, its alert printed
#   make test   everything installed, lint, types, all tests against a real Kafka broker
# and the fast loop while working:
#   make unit   unit and agent tests only: no apt-get, no broker, no browser (creates .venv if missing)
#   make lint   ruff and mypy
.PHONY: demo stop test unit lint bootstrap lock console

demo:
	scripts/demo

stop:
	scripts/demo stop

test:
	scripts/test

# ARGS passes more pytest options, e.g. make unit ARGS="-k rules -x"
unit:
	scripts/bootstrap --python-only
	.venv/bin/python -m pytest -m "not integration" --timeout=60 -q tests/unit tests/agents $(ARGS)

lint:
	scripts/bootstrap --python-only
	.venv/bin/ruff check streams tests bench scripts
	.venv/bin/ruff format --check streams tests bench
	.venv/bin/mypy

bootstrap:
	scripts/bootstrap

# The live console's vendored npm files (streams/api/static/vendor/: map libraries and Natural
# Earth outlines) from the exact versions of web/package-lock.json; needs npm, which nothing
# else does (the files are committed; tests/unit/api/test_console_assets.py checks them).
console:
	scripts/build_console

# The lock files, from pyproject.toml, for Python 3.11 on linux (whatever this machine is):
#   requirements-dev.lock  runtime + the dev extra: what scripts/bootstrap puts in .venv (and CI)
#   requirements.lock      runtime only, at the same versions (constrained by the dev lock)
# uv runs from a throwaway venv under /tmp, never from .venv. Pins already in the files are
# kept where they still fit; `make lock LOCK_ARGS=--upgrade` moves everything to the newest.
UV_VERSION := 0.13.9
LOCK_TOOLS := $(or $(TMPDIR),/tmp)/rasid-lock-tools-uv-$(UV_VERSION)
LOCK_FLAGS := --no-config --python-version 3.11 --python-platform linux --annotation-style line \
  --quiet --custom-compile-command "make lock   (uv pip compile, for Python 3.11 on linux: see the Makefile)"

lock:
	@test -x $(LOCK_TOOLS)/bin/uv || { python3 -m venv $(LOCK_TOOLS) && \
	  $(LOCK_TOOLS)/bin/python -m pip install -q uv==$(UV_VERSION); }
	$(LOCK_TOOLS)/bin/uv pip compile pyproject.toml --extra dev -o requirements-dev.lock \
	  $(LOCK_FLAGS) $(LOCK_ARGS)
	$(LOCK_TOOLS)/bin/uv pip compile pyproject.toml -c requirements-dev.lock -o requirements.lock \
	  $(LOCK_FLAGS)
