# Schemathesis (issue 13): fuzzes every operation of the ingress's /openapi.json and checks each answer
# against the document (test/ingress/openapi-schemathesis.test.ts runs it). Installed from PyPI, at the version
# in tools/versions.env, into its own virtual environment under .tools, so it never touches the system Python.
# Included by the Makefile after tools/versions.env and before TOOLS_BIN is defined, so paths are spelled out.

SCHEMATHESIS_VENV := $(CURDIR)/.tools/schemathesis
SCHEMATHESIS_STAMP := $(SCHEMATHESIS_VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
# The test finds the CLI here (or through SCHEMATHESIS_BIN).
SCHEMATHESIS_BIN := $(SCHEMATHESIS_VENV)/bin/st
PYTHON ?= python3

.PHONY: schemathesis-tool

schemathesis-tool: $(SCHEMATHESIS_STAMP) ## Install pinned schemathesis into .tools/schemathesis (a Python venv)

# The stamp is named after the version, so changing tools/versions.env reinstalls; a half-made venv
# (an install that failed) is removed first, so a rerun starts clean. Without Python the suite cannot run:
# on a developer's machine that is a note (the suite then skips, saying why); with CI set it is an error,
# as it is in the suite.
$(SCHEMATHESIS_STAMP):
	@if ! command -v $(PYTHON) >/dev/null 2>&1; then \
	  echo "schemathesis needs Python 3.9+ ($(PYTHON) not found; set PYTHON=...)" >&2; \
	  if [ -n "$${CI:-}" ] && [ "$${CI}" != "false" ] && [ "$${CI}" != "0" ]; then exit 1; fi; \
	  echo "not installing it: its suite will be skipped" >&2; exit 0; \
	fi; \
	echo "installing schemathesis $(SCHEMATHESIS_VERSION) into $(SCHEMATHESIS_VENV)"; \
	rm -rf $(SCHEMATHESIS_VENV); \
	$(PYTHON) -m venv $(SCHEMATHESIS_VENV); \
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet "schemathesis==$(SCHEMATHESIS_VERSION)"; \
	touch $@
