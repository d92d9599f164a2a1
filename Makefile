# Make targets of mcpwarden. Each target is independent; add yours below.

# bench runs the fleet benchmark (docs/benchmarks.md): 5,000 loopback
# endpoints served by a child process, the scanner against a bare HTTP
# baseline at concurrency 1,000. Extra flags go in BENCHFLAGS, e.g.
# make bench BENCHFLAGS="-fleet.paths=default -fleet.size=8000"
BENCHFLAGS ?=

.PHONY: bench
bench:
	go test -run='^$$' -bench=Fleet -benchtime=1x -timeout 20m ./internal/bench/ $(BENCHFLAGS)
