# The Python worker example (examples/python-worker, issue 16): the official NATS client from PyPI, at the
# version in tools/versions.env, in its own virtual environment under .tools, so it never touches the system
# Python. test/examples/python-worker.test.ts runs the worker with this interpreter.
# Included by the Makefile after tools/versions.env and before TOOLS_BIN is defined, so paths are spelled out.

PYTHON_WORKER_VENV := $(CURDIR)/.tools/python-worker
PYTHON_WORKER_STAMP := $(PYTHON_WORKER_VENV)/.nats-py-$(NATS_PY_VERSION)
PYTHON ?= python3

.PHONY: python-worker-tool

python-worker-tool: $(PYTHON_WORKER_STAMP) ## Install pinned nats-py into .tools/python-worker (a Python venv) for the Python worker example

# As schemathesis-tool: the stamp names the version, a half-made venv is removed first, and without Python
# this is a note outside CI (the suite skips, saying why) and an error in CI.
$(PYTHON_WORKER_STAMP):
	@if ! command -v $(PYTHON) >/dev/null 2>&1; then \
	  echo "the Python worker example needs Python 3.8+ ($(PYTHON) not found; set PYTHON=...)" >&2; \
	  if [ -n "$${CI:-}" ] && [ "$${CI}" != "false" ] && [ "$${CI}" != "0" ]; then exit 1; fi; \
	  echo "not installing nats-py: its suite will be skipped" >&2; exit 0; \
	fi; \
	echo "installing nats-py $(NATS_PY_VERSION) into $(PYTHON_WORKER_VENV)"; \
	rm -rf $(PYTHON_WORKER_VENV); \
	$(PYTHON) -m venv $(PYTHON_WORKER_VENV); \
	$(PYTHON_WORKER_VENV)/bin/pip install --quiet "nats-py==$(NATS_PY_VERSION)"; \
	touch $@
