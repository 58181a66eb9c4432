# The bench's load generator (issue 20): wrk, a C HTTP benchmark spending a few µs per request, from the
# distribution's packages (Debian: `wrk`). Installed with apt-get when it is missing and this runs as root;
# otherwise the target says what is missing and how to get it, and fails, since the bench's figures mean
# little with a generator as dear as the servers it measures. wrk2 (constant rate) is not packaged, so the
# paced latency runs use bench/paced-load.ts, which reports its own CPU per request.
# Included by the Makefile after tools/versions.env.

.PHONY: bench-tools

bench-tools: ## Install wrk (apt-get, as root) for make bench, or say how to get it
	@if command -v wrk >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing wrk (Debian package) for make bench"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; } || \
	    { echo "make bench needs wrk: apt-get install wrk failed (see above)" >&2; exit 1; }; \
	else \
	  echo "make bench needs wrk (a C HTTP load generator) on PATH: install it (apt-get install wrk, brew install wrk) and run again" >&2; \
	  exit 1; \
	fi; \
	command -v taskset >/dev/null 2>&1 || echo "note: taskset not found (util-linux): the bench will not pin the load generator apart from the servers"
