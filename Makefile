# simbridge: SIM-as-identity onboarding of 1NCE devices to AWS IoT Core.
# The two commands that matter: `make run` (whole system locally, no Docker)
# and `make test` (every test). See README.md.

SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
MODULES := libs libs/testkit services/sim-poller services/provisioner services/deactivator services/onboarding-api services/vpn-gateway tools tests/e2e tests/deploy
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
	./tools/cmd/devstack \
	./tools/cmd/simbridge
TEST_TIMEOUT ?= 14m

.PHONY: all help build deps deps-run run test test-unit lint vulncheck fmt clean bench-sync images up down deploy teardown

## all: the default goal, same as build
all: build

## help: the targets and what they do (from their ## comments)
help:
	@awk '/^## / { line = substr($$0, 4); \
		if (match(line, /^[a-z][a-z0-9 \/-]*: /)) { printf "  %-18s %s\n", substr(line, 1, RLENGTH - 2), substr(line, RLENGTH + 1) } \
		else { printf "  %-18s %s\n", "", line } }' $(MAKEFILE_LIST)

## build: static binaries of the services and tools into ./bin
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(COMMANDS)

## deps-run: what `make run` needs: Go modules, and moto[server] in .venv when moto_server is not installed
deps-run:
	$(GO) mod download -x 2>/dev/null || $(GO) list -m all >/dev/null
	@./tools/scripts/ensure-moto.sh

## deps: what `make test` needs besides: openvpn (tunnel tests) and cfn-lint (template lint)
deps: deps-run
	@./tools/scripts/ensure-openvpn.sh
	@./tools/scripts/ensure-cfn-lint.sh

## run: the whole system locally without Docker, until Ctrl-C
run: deps-run build
	$(BIN)/devstack -bin $(BIN) -logs $(CURDIR)/.run/logs

## test: every test (unit, integration against moto, end to end) and vulncheck; BIN_DIR lets e2e reuse the build
test: deps build lint vulncheck
	BIN_DIR=$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## test-unit: tests that need nothing running, in about half a minute (`make lint` vets; test binaries skip it)
test-unit:
	$(GO) test -count=1 -short -vet=off $(PKGS)

## bench-sync: the built sim-poller reconciles 1,000 / 10,000 unchanged SIMs (simulator vs a SIM table in moto) through
## POST /sync; the last line is sims=… seconds=… peak_rss_mb=… published=… (SIZES=1000,10000,100000 for more)
bench-sync: deps-run build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./tools/cmd/bench-sync
	$(BIN)/bench-sync -bin $(BIN) -sizes $${SIZES:-1000,10000} -logs $(CURDIR)/.run/bench-sync

## images: the service images (docker; one Dockerfile, SERVICE build arg); IMAGE_TAG defaults to local
IMAGE_TAG ?= local
images:
	@command -v docker >/dev/null || { echo "make images needs Docker"; exit 1; }
	for s in sim-poller provisioner deactivator onboarding-api; do \
		docker build -f deployments/docker/Dockerfile --build-arg SERVICE=$$s --target service -t simbridge/$$s:$(IMAGE_TAG) . || exit 1; \
	done
	docker build -f deployments/docker/Dockerfile --build-arg SERVICE=vpn-gateway --target gateway -t simbridge/vpn-gateway:$(IMAGE_TAG) .

## up / down: the whole system in docker compose (LocalStack, moto, simulator, services, Prometheus, Grafana)
up:
	docker compose up --build --detach --wait
down:
	docker compose down --volumes

## deploy: the stack of ENV (deployments/environments/ENV.env) to the AWS account of the current credentials
deploy:
	./tools/scripts/deploy.sh $(ENV)

## teardown: dry run of removing ENV; with CONFIRM=<prefix> removes IoT certificates, Things, policy and the stack
teardown:
	CONFIRM=$(CONFIRM) ./tools/scripts/teardown.sh $(ENV)

## docs: docs/configuration.md from the services' configuration structs (a test checks it is current)
.PHONY: docs
docs: build
	$(GO) run ./tools/cmd/configdoc -bin $(BIN) -out docs/configuration.md

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## vulncheck: govulncheck over every module; fails on a reachable vulnerability not in tools/scripts/vulncheck.allow
vulncheck:
	GO=$(GO) MODULES="$(MODULES)" ./tools/scripts/vulncheck.sh

## fmt: gofmt every module
fmt:
	gofmt -w $(MODULES)

## clean: remove binaries, local run state and the vulnerability database cache
clean:
	rm -rf $(BIN) .run .cache

## bench-onboarding: 1,000 devices through vpn-gateway, then through nginx as the reference set it up, in front
## of the same onboarding-api; then 200 devices enrolling with keys of their own through the whole system; the last
## line is p99_ms_at_1000rps=… max_rps=… nginx_max_rps=… ratio=… errors=… enrolments_per_s=… enrol_p99_ms=… enrol_errors=…
.PHONY: bench-onboarding
bench-onboarding: deps-run build
	@./tools/scripts/ensure-nginx.sh
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./tools/cmd/bench-onboarding ./tools/cmd/sqsstub
	PATH="$$PATH:/usr/sbin" $(BIN)/bench-onboarding -bin $(BIN)

## bench-provision: 2,000 new SIMs from first poll to onboardable on the local emulator with each certificate
## authority and with one worker, then 4 tasks under an account-wide quota; the last line is sims=…
## own_ca_sims_per_s=… aws_sims_per_s=… one_worker_sims_per_s=… ratio=… quota_rps=… tasks=… achieved_rps=… quota_use=… dlq=…
.PHONY: bench-provision
bench-provision: deps build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./tools/cmd/bench-provision ./tools/cmd/sqsstub
	$(BIN)/bench-provision -bin $(BIN) -sims $${SIMS:-2000} -logs $(CURDIR)/.run/bench-provision

## bench-scale: 1,000,000 SIMs through the built sim-poller and the local stack, the SIM table in dynalite (installed with
## npm into .cache/dynalite): one full sync, then 5 minutes of Data Streamer events (95 % that change nothing, 1 % real
## changes); the last line is sims=… peak_rss_mb=… store_bytes_per_sim=… first_command_s=… sync_s=… hint_lookups_per_s=…
## events_per_s=… missed=… (SIMS=… EVENTS_FOR=… for a shorter run)
.PHONY: bench-scale
bench-scale: deps-run build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./tools/cmd/bench-scale ./tools/cmd/sqsstub
	$(BIN)/bench-scale -bin $(BIN) -logs $(CURDIR)/.run/bench-scale -dynalite "$$(./tools/scripts/ensure-dynalite.sh)" \
		-sims $${SIMS:-1000000} -events-for $${EVENTS_FOR:-5m}

## bench-realtime: 1,000 provisioned SIMs, then 100 changes at once in the simulator (new, disabled, moved) reaching
## the device through the Data Streamer, no poll; the last line is p50_s=… p99_s=… max_s=… changes=100 missed=0
.PHONY: bench-realtime
bench-realtime: deps-run build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./tools/cmd/bench-realtime ./tools/cmd/sqsstub
	$(BIN)/bench-realtime -bin $(BIN) -logs $(CURDIR)/.run/bench-realtime
