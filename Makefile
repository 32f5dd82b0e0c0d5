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

test:
	$(GO) test -race -shuffle=on -timeout 20m ./...

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin .wattcast
