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
# (an install that failed) is removed first, so a rerun starts clean.
$(SCHEMATHESIS_STAMP):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "schemathesis needs Python 3.9+ ($(PYTHON) not found; set PYTHON=...)" >&2; exit 1; }
	@echo "installing schemathesis $(SCHEMATHESIS_VERSION) into $(SCHEMATHESIS_VENV)"
	rm -rf $(SCHEMATHESIS_VENV)
	$(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet "schemathesis==$(SCHEMATHESIS_VERSION)"
	@touch $@
