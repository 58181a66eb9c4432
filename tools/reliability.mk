# Long reliability runs (issue 7): a soak at ~80% of capacity with workers SIGKILLed at random, then a fuzz
# of the HTTP surface over real sockets; prints a summary table, fails on any lost job, undocumented answer,
# crash or growing memory. The fast fault and fuzz tests (test/reliability/*.test.ts) run in `make test`.
# Durations: SOAK_SECONDS (600), FUZZ_SECONDS (120); more settings in test/reliability/long/run.ts.
# Included after the Makefile's `setup` target is defined; `setup` builds the pinned nats-server.

.PHONY: test-reliability

test-reliability: setup ## Soak (10 min, workers killed at random) and long HTTP fuzz; prints a summary, fails on loss
	node test/reliability/long/run.ts
