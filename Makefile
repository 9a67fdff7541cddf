# simbridge: SIM-as-identity onboarding of 1NCE devices to AWS IoT Core.
# The two commands that matter: `make run` (whole system locally, no Docker)
# and `make test` (every test). See README.md.

SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
MODULES := libs services/sim-poller services/provisioner services/deactivator services/onboarding-api services/vpn-gateway tools tests/e2e
PKGS := $(addprefix ./,$(addsuffix /...,$(MODULES)))
COMMANDS := \
	./services/sim-poller/cmd/sim-poller \
	./services/provisioner/cmd/provisioner \
	./services/deactivator/cmd/deactivator \
	./services/onboarding-api/cmd/onboarding-api \
	./services/vpn-gateway/cmd/vpn-gateway \
	./tools/cmd/oncesim \
	./tools/cmd/device \
	./tools/cmd/bootstrap \
	./tools/cmd/devstack
TEST_TIMEOUT ?= 10m

.PHONY: all build deps run test test-unit lint fmt clean bench-sync

all: build

## build: static binaries of the services and tools into ./bin
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(COMMANDS)

## deps: Go modules, and moto[server] in .venv when moto_server is not installed
deps:
	$(GO) mod download -x 2>/dev/null || $(GO) list -m all >/dev/null
	@./tools/scripts/ensure-moto.sh
	@./tools/scripts/ensure-openvpn.sh

## run: the whole system locally without Docker, until Ctrl-C
run: deps build
	$(BIN)/devstack -bin $(BIN) -logs $(CURDIR)/.run/logs

## test: every test (unit, integration against moto, end to end); BIN_DIR lets e2e reuse the build
test: deps build lint
	BIN_DIR=$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## test-unit: tests that need nothing running
test-unit:
	$(GO) test -count=1 -short $(PKGS)

## bench-sync: one unchanged reconciliation of 1,000 / 10,000 / 100,000 SIMs (simulator vs store):
## seconds, peak RSS of the reconciling process, commands published; moto-backed figures for 1,000 / 10,000
bench-sync: deps
	$(GO) build -o $(BIN)/bench-sync ./services/sim-poller/cmd/bench-sync
	$(BIN)/bench-sync

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $(MODULES)

clean:
	rm -rf $(BIN) .run
