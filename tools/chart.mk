# The Helm chart, the image and the kind workflow (issue 5). Included by the Makefile after tools/versions.env
# and before TOOLS_BIN is defined, so paths here are spelled out.

CHART_BIN := $(CURDIR)/.tools/bin
CHART_HELM := $(CHART_BIN)/helm
CHART_HELM_STAMP := $(CHART_BIN)/.helm-$(HELM_VERSION)
CHART_DIR := charts/sluice
SLUICE_IMAGE ?= sluice:dev
# Minor of the pinned Kubernetes, baked into helm as its default for `helm template`/`lint`.
CHART_KUBE_MINOR := $(word 2,$(subst ., ,$(KUBERNETES_VERSION)))

.PHONY: helm-tool chart-lint images kind-up kind-down e2e-kind

helm-tool: $(CHART_HELM_STAMP) ## Build pinned helm into .tools/bin

# `go install` leaves out the version data helm's release builds carry in ldflags: without it `helm version`
# is blank and templates assume Kubernetes v1.20. Set both, from tools/versions.env.
$(CHART_HELM_STAMP):
	@mkdir -p $(CHART_BIN)
	@echo "building helm $(HELM_VERSION) from its Go module"
	GOBIN=$(CHART_BIN) nice -n 10 go install -trimpath \
	  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(CHART_KUBE_MINOR)" \
	  helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@rm -f $(CHART_BIN)/.helm-* && touch $@

chart-lint: helm-tool ## helm lint --strict and helm template of every value set in charts/sluice/ci
	@set -e; for values in $(CHART_DIR)/ci/*-values.yaml; do \
	  echo "== $$values"; \
	  $(CHART_HELM) lint --strict $(CHART_DIR) --kube-version $(KUBERNETES_VERSION) --values $$values; \
	  $(CHART_HELM) template sluice $(CHART_DIR) --namespace sluice --kube-version $(KUBERNETES_VERSION) --values $$values > /dev/null; \
	done

images: ## Build the Sluice image (all three apps), tagged sluice:dev unless SLUICE_IMAGE says otherwise
	@command -v docker >/dev/null 2>&1 || { echo "make images needs docker (the client and a running engine): https://docs.docker.com/engine/install/" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make images: docker is installed but no Docker engine answers (start Docker, or set DOCKER_HOST)" >&2; exit 1; }
	docker build --build-arg NODE_VERSION=$(NODE_VERSION) -t $(SLUICE_IMAGE) .

kind-up: helm-tool ## kind cluster + image + helm install; the ingress on http://localhost:8080
	SLUICE_IMAGE=$(SLUICE_IMAGE) bash k8s/kind-up.sh

kind-down: ## Delete the kind cluster
	bash k8s/kind-down.sh

e2e-kind: helm-tool ## On the kind cluster: curl, flood until 503, scale up and down, pause + kubectl scale, helm test
	bash k8s/e2e-kind.sh
