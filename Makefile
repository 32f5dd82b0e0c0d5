# wattcast: see README.md. Every target works on a fresh clone with Go installed.
GO        ?= go
BIN       ?= bin/wattcast
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: build demo test vet lint bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wattcast

demo: build
	$(BIN) demo

# The race detector runs on every package except the numeric model code
# (single-threaded, and ten times slower under -race: minutes instead of
# seconds); the registry, which is concurrent, stays under it.
NUMERIC_PKGS := ./training ./training/models ./training/backtest
RACE_PKGS = $(shell $(GO) list ./... | grep -v -x -e 'github.com/wattcast/wattcast/training' -e 'github.com/wattcast/wattcast/training/models' -e 'github.com/wattcast/wattcast/training/backtest')

# The commands' tests that fit models are numeric too.
NUMERIC_TESTS := TestBacktestCommand|TestTrainCommand

test:
	$(GO) test -race -shuffle=on -timeout 20m -skip '$(NUMERIC_TESTS)' $(RACE_PKGS)
	$(GO) test -shuffle=on -timeout 20m $(NUMERIC_PKGS)
	$(GO) test -shuffle=on -timeout 20m -run '$(NUMERIC_TESTS)' ./cmd/wattcast

vet:
	$(GO) vet ./...

# End-to-end benchmarks (name ...VsRaw...: a stage next to a raw franz-go
# consume of the same topics, ratio and peak memory) run once per count, the
# others as usual. The machine is shared: compare runs of one invocation.
BENCH_COUNT ?= 3
BENCH_OUT   ?= /tmp/wattcast-bench-e2e.txt
bench:
	bash -o pipefail -c 'nice $(GO) test -run "^$$" -bench VsRaw -benchtime 1x -count $(BENCH_COUNT) ./... | tee $(BENCH_OUT)'
	@echo; echo "== end-to-end: rates, ratios, peak memory =="; grep -h -E '^Benchmark.*VsRaw|regions, ' $(BENCH_OUT); rm -f $(BENCH_OUT)
	nice $(GO) test -run '^$$' -skip 'VsRaw' -bench . -benchmem ./...

clean:
	rm -rf bin .wattcast

# Infrastructure checks (terraform fmt, tflint, tfsec, actionlint, shellcheck)
# and the container image (podman, scratch base): see docs/cicd.md.
.PHONY: infra-check image
infra-check:
	bash .ci/infra-checks.sh

image: build
	bash .ci/container.sh

# Local servers for integration tests and development (scripts/kafka/README.md,
# scripts/s3/README.md). Each -up prints the exports that point wattcast at it;
# eval "$$(scripts/kafka/kafka-local.sh env)" sets them in a shell.
.PHONY: kafka-up kafka-down s3-up s3-down

kafka-up:
	bash scripts/kafka/kafka-local.sh start
	@bash scripts/kafka/kafka-local.sh env

kafka-down:
	bash scripts/kafka/kafka-local.sh stop

s3-up:
	bash scripts/s3/s3-local.sh start
	@bash scripts/s3/s3-local.sh env

s3-down:
	bash scripts/s3/s3-local.sh stop

# Integration suite (integration/, README "Integration tests"): the binary
# just built, against the real broker and S3 server that
# WATTCAST_KAFKA_BROKERS and WATTCAST_S3_ENDPOINT name (make kafka-up s3-up,
# then eval the env of scripts/kafka and scripts/s3). Skipped without them,
# failed without them when CI=true; go test ./... skips the suite unless
# WATTCAST_INTEGRATION=1. -v prints each test's report. Then the object
# store's own contract (conditional create, paged and StartAfter listings)
# is checked against the same S3 server (lake.TestExternalS3).
.PHONY: integration
integration: build
	WATTCAST_INTEGRATION=1 WATTCAST_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 40m -v ./integration/...
	@if [ -z "$${WATTCAST_S3_ENDPOINT:-}$${WATTCAST_S3_BUCKET:-}" ]; then \
	  echo "lake.TestExternalS3 skipped: no S3 server (WATTCAST_S3_ENDPOINT or WATTCAST_S3_BUCKET)"; \
	else set -x; WATTCAST_TEST_S3_URL=s3://$${WATTCAST_S3_BUCKET:-wattcast-lake}/external-test \
	  WATTCAST_TEST_S3_ENDPOINT=$${WATTCAST_S3_ENDPOINT:-} $(GO) test -count=1 -v -run '^TestExternalS3$$' ./lake/; fi
