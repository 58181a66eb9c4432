# Sluice: every target does its own set-up, idempotently, so `make dev` and `make test` work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

include tools/versions.env
include tools/controlplane.mk
include tools/chart.mk
include tools/cluster.mk
include tools/reliability.mk
include tools/schemathesis.mk
include tools/python-worker.mk
include tools/bench.mk

TOOLS := $(CURDIR)/.tools
TOOLS_BIN := $(TOOLS)/bin
# The bootstrapped Node (if any) and our Go-built tools come first, so every recipe sees the same binaries.
export PATH := $(TOOLS_BIN):$(TOOLS)/node_modules/.bin:$(CURDIR)/node_modules/.bin:$(PATH)
export NATS_SERVER_BIN ?= $(TOOLS_BIN)/nats-server

SYSTEM_NODE_MAJOR := $(shell command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)

.PHONY: help setup node deps tools dev test typecheck lint format check unit clean docs bench bench-scaling test-reliability

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: node deps tools ## Install everything the project needs (idempotent)

node: ## Use Node >= 22: bootstrap Node 24 (tools/versions.env) into .tools when the system one is older
	@if [ "$(SYSTEM_NODE_MAJOR)" -lt 22 ] && [ ! -x "$(TOOLS)/node_modules/.bin/node" ]; then \
	  echo "system node is $(SYSTEM_NODE_MAJOR).x (< 22): installing node@$(NODE_VERSION) into .tools"; \
	  npm install --prefix "$(TOOLS)" --no-save --no-audit --no-fund "node@$(NODE_VERSION)"; \
	fi
	@node --version | grep -qE '^v(2[2-9]|[3-9][0-9])\.' || { echo "node $$(node --version) is older than 22" >&2; exit 1; }

deps: node node_modules/.installed ## npm ci when package-lock.json changed

node_modules/.installed: package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

tools: $(TOOLS_BIN)/.nats-server-$(NATS_SERVER_VERSION) ## Build pinned nats-server into .tools/bin

$(TOOLS_BIN)/.nats-server-$(NATS_SERVER_VERSION):
	@mkdir -p $(TOOLS_BIN)
	@echo "building nats-server $(NATS_SERVER_VERSION) from its Go module"
	GOBIN=$(TOOLS_BIN) go install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)
	@rm -f $(TOOLS_BIN)/.nats-server-* && touch $@

typecheck: deps ## TypeScript strict check of every workspace
	tsc -p tsconfig.json --noEmit

lint: deps ## Format and lint check (Biome, biome.jsonc); `make format` rewrites
	biome ci .

format: deps ## Format the sources and apply Biome's safe lint fixes
	biome check --write .

check: setup lint typecheck ## Fast: lint, format, typecheck and the suites that need only nats-server (a few minutes)
	vitest run --project nats

unit: check controlplane-tools helm-tool schemathesis-tool python-worker-tool ## make check, then the suites that need the control plane, helm, schemathesis or nats-py
	vitest run --project tools

test: setup typecheck unit ## Everything CI runs: make check, every other suite, and the e2e stage

dev: setup ## Run nats-server, the ingress and the autoscaler with its workers locally (Ctrl-C stops all)
	node scripts/dev.ts

clean: ## Remove local state (.data) and build output
	rm -rf .data dist

docs: deps ## Regenerate from the settings: docs/configuration.md's table, the chart's config values, schema and rules
	node scripts/config-table.ts
	node scripts/chart-config.ts
	node scripts/chart-config-rules.ts

bench: setup bench-tools ## Benchmark the ingress, worker and baselines (wrk drives the load); prints a table, writes .data/bench/latest.json
	node bench/run.ts

bench-scaling: setup ## How durable publishes scale with R3 and with N streams (real nats-servers on loopback); prints JSON lines
	node bench/stream-scaling.ts
