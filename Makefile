# BrightRun — the two commands are `make dev` and `make test`; both install
# what they need on first run (npm tools pinned in package.json, Go tools
# pinned below). Nothing else has to be installed by hand besides Go,
# Node/npm and a JDK 17.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
LOCAL     := .local
VERSITYGW_VERSION := v1.8.0
VERSITYGW := $(LOCAL)/bin/versitygw
NPM_STAMP := node_modules/.installed
FUNCTIONS := $(notdir $(wildcard functions/*))
# Deployed build: arm64, no RPC shim, reproducible (stable CDK asset hashes).
LAMBDA_FLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='

export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: help tools dev test test-go test-race bench build lint fmt clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

tools: $(NPM_STAMP) $(VERSITYGW) ## install the pinned dev tools (npm, versitygw)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VERSITYGW):
	@mkdir -p $(LOCAL)/bin
	GOBIN=$(CURDIR)/$(LOCAL)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

dev: tools ## run the whole platform locally on 127.0.0.1 (Ctrl-C stops it; data stays in .local/)
	$(GO) run ./cmd/local

test: tools test-go test-infra ## run every test (unit, integration on DynamoDB Local and S3, infra)

test-go:
	$(GO) test -count=1 ./...

test-race: tools ## the concurrency-heavy packages under the race detector
	$(GO) test -count=1 -race ./pkg/lambdahost/... ./pkg/gateway/... ./pkg/httpapi/... ./pkg/job/... ./pkg/workflow/... ./pkg/dynamo/... ./pkg/sse/...

bench: tools ## benchmarks (figures go to docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem ./cmd/local/ ./pkg/...

build: ## every function to build/lambda/<fn>/bootstrap (linux/arm64)
	@for fn in $(FUNCTIONS); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o build/lambda/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done
	@ls -l build/lambda/*/bootstrap | awk '{printf "  %-40s %6.1f MiB\n", $$9, $$5/1048576}'

lint: ## gofmt and go vet, both modules
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd infra && $(GO) vet ./...

fmt: ## format the Go code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output (keeps .local data; rm -rf .local to reset the local platform)
	rm -rf build

include infra/infra.mk
include statemachine/statemachine.mk
