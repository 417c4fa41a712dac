# Haven's everyday targets. `make test` is the test command the README and
# CI use.

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: build test vet fmt-check bench fuzz

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/haven ./cmd/haven

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

bench:
	bash bench/pipeline.sh

# FUZZTIME=10m make fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-1m} ./internal/pipeline/
