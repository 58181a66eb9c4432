# A real Kubernetes control plane for tests (issue 3): etcd, kube-apiserver and kube-controller-manager built
# from test/controlplane/go.mod at the versions in tools/versions.env, plus two small Go helpers of ours
# (sluice-certgen writes the PKI, sluice-orphan-guard stops a server whose test process died).
# Included before the Makefile defines TOOLS_BIN, so paths here are spelled out.

CONTROLPLANE_BIN := $(CURDIR)/.tools/bin
CONTROLPLANE_KUBE_STAMP := $(CONTROLPLANE_BIN)/.controlplane-$(KUBERNETES_VERSION)-etcd-$(ETCD_VERSION)
CONTROLPLANE_MODULE := test/controlplane/go.mod test/controlplane/go.sum
CONTROLPLANE_HELPERS := $(CONTROLPLANE_BIN)/sluice-certgen $(CONTROLPLANE_BIN)/sluice-orphan-guard

.PHONY: controlplane-tools controlplane

controlplane-tools: $(CONTROLPLANE_KUBE_STAMP) $(CONTROLPLANE_HELPERS) ## Build pinned etcd, kube-apiserver, kube-controller-manager into .tools/bin

# The stamp is named after both versions, so changing tools/versions.env (then `build.sh pin`) rebuilds.
# A cold build compiles most of Kubernetes (test/controlplane/README.md has the time and disk it takes);
# nice keeps the machine usable meanwhile.
$(CONTROLPLANE_KUBE_STAMP): $(CONTROLPLANE_MODULE)
	@mkdir -p $(CONTROLPLANE_BIN)
	@echo "building kube-apiserver and kube-controller-manager $(KUBERNETES_VERSION), etcd $(ETCD_VERSION) (cold: many minutes)"
	KUBERNETES_VERSION=$(KUBERNETES_VERSION) ETCD_VERSION=$(ETCD_VERSION) \
	  nice -n 10 bash test/controlplane/build.sh kube $(CONTROLPLANE_BIN)
	@rm -f $(CONTROLPLANE_BIN)/.controlplane-* && touch $@

$(CONTROLPLANE_HELPERS) &: $(CONTROLPLANE_MODULE) $(wildcard test/controlplane/certgen/*.go test/controlplane/orphanguard/*.go)
	bash test/controlplane/build.sh helpers $(CONTROLPLANE_BIN)

controlplane: controlplane-tools deps ## Run a local control plane (kubeconfig in .data/controlplane/kubeconfig; Ctrl-C stops it)
	node test/controlplane/run.ts

# The rest of a node for `make cluster-up` (tools/cluster.mk): kube-scheduler, kubelet, kube-proxy, kubectl,
# from the same module and pins. Warm after controlplane-tools, it still compiles the kubelet (minutes).
CONTROLPLANE_NODE_STAMP := $(CONTROLPLANE_BIN)/.node-$(KUBERNETES_VERSION)

.PHONY: node-tools

node-tools: $(CONTROLPLANE_NODE_STAMP) ## Build pinned kube-scheduler, kubelet, kube-proxy, kubectl into .tools/bin

$(CONTROLPLANE_NODE_STAMP): $(CONTROLPLANE_MODULE)
	@mkdir -p $(CONTROLPLANE_BIN)
	@echo "building kube-scheduler, kubelet, kube-proxy and kubectl $(KUBERNETES_VERSION) (cold: many minutes)"
	KUBERNETES_VERSION=$(KUBERNETES_VERSION) ETCD_VERSION=$(ETCD_VERSION) \
	  nice -n 10 bash test/controlplane/build.sh node $(CONTROLPLANE_BIN)
	@rm -f $(CONTROLPLANE_BIN)/.node-* && touch $@
