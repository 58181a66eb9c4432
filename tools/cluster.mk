# A real single-node Kubernetes on this machine without Docker (issue 14): `make cluster-up`, `make e2e`,
# `make cluster-down`. tools/cluster/node.sh says how it is contained; ../shared/cluster-notes.md why.
# Included after tools/controlplane.mk and tools/chart.mk (node-tools, controlplane-tools, helm-tool).

CLUSTER_BIN := $(CURDIR)/.tools/bin
CLUSTER_COREDNS_STAMP := $(CLUSTER_BIN)/.coredns-$(COREDNS_VERSION)
CLUSTER_TRAEFIK_STAMP := $(CLUSTER_BIN)/.traefik-$(TRAEFIK_VERSION)

.PHONY: cluster-deps cluster-tools cluster-images cluster-up cluster-down e2e

cluster-deps: ## Debian packages for the test cluster: containerd, runc, CNI plugins, buildah, mmdebstrap (root)
	@bash tools/cluster/deps.sh

cluster-tools: controlplane-tools node-tools $(CLUSTER_COREDNS_STAMP) $(CLUSTER_TRAEFIK_STAMP) ## Build every binary the test cluster runs

$(CLUSTER_COREDNS_STAMP): tools/cluster/coredns/go.mod tools/cluster/coredns/go.sum tools/cluster/coredns/main.go
	@mkdir -p $(CLUSTER_BIN)
	@echo "building CoreDNS $(COREDNS_VERSION) from its Go module"
	nice -n 10 bash tools/cluster/build.sh coredns $(CLUSTER_BIN)
	@rm -f $(CLUSTER_BIN)/.coredns-* && touch $@

# Traefik is a large build (cold: many minutes); see tools/cluster/traefik/go.mod for why it has a module here.
$(CLUSTER_TRAEFIK_STAMP): tools/cluster/traefik/go.mod tools/cluster/traefik/go.sum
	@mkdir -p $(CLUSTER_BIN)
	@echo "building Traefik $(TRAEFIK_VERSION) from its Go module (cold: many minutes)"
	nice -n 10 bash tools/cluster/build.sh traefik $(CLUSTER_BIN)
	@rm -f $(CLUSTER_BIN)/.traefik-* && touch $@

cluster-images: setup cluster-deps cluster-tools ## Build the images (local Debian + Node base, the Dockerfile, NATS, pause, CoreDNS, Traefik) with buildah
	bash tools/cluster/images.sh build

cluster-up: cluster-images helm-tool ## Start (or reuse) the test cluster: KUBECONFIG=.data/cluster/kubeconfig, tools/cluster-exec CMD
	bash tools/cluster/node.sh up

cluster-down: ## Stop the test cluster and remove its state; the host is left as it was
	bash tools/cluster/node.sh down

e2e: cluster-images helm-tool deps ## The user flows on the test cluster (helm install, Ingress, scaling, upgrade, failures); prints a summary
	bash tools/cluster/e2e.sh

# make test's last stage, after the unit suites: the e2e suite wherever this machine can run the test
# cluster (tools/cluster/preflight.sh), else a skip naming exactly what is missing. SLUICE_E2E_REQUIRED=1
# (.ci/run sets it) turns that skip into a failure.
.PHONY: test-e2e-stage

test: test-e2e-stage

test-e2e-stage: typecheck unit
	@if missing="$$(bash tools/cluster/preflight.sh)"; then \
	  $(MAKE) --no-print-directory e2e; \
	elif [ -n "$${SLUICE_E2E_REQUIRED:-}" ]; then \
	  echo "e2e: SLUICE_E2E_REQUIRED is set, but this machine cannot run the test cluster; it lacks:" >&2; \
	  echo "$$missing" | sed 's/^/  - /' >&2; exit 1; \
	else \
	  echo "e2e: skipped (make e2e), this machine lacks:"; echo "$$missing" | sed 's/^/  - /'; \
	fi
