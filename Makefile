# Ruta de Empleabilidad — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export RUTA_HOST ?= 127.0.0.1
export RUTA_PORT ?= 8000
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432
## Test processes (pytest-xdist). Every test takes its own databases and free ports.
TEST_WORKERS ?= 2

.PHONY: deploy-check metrics-check install run test test-fast test-sqlite test-postgres lint run-distributed bench-smoke bench-webhooks bench-registry bench-reports bench-watch bench-matching bench fuzz fuzz-ci faults logcheck contract clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## Embedded shape on SQLite files under ./data: migrate, demo data, serve.
run: install
	@$(BIN)/ruta migrate >/dev/null
	@$(BIN)/ruta seed-demo
	@echo ""
	@echo "  Ruta de Empleabilidad en http://$(RUTA_HOST):$(RUTA_PORT)  (docs: /docs)"
	@echo "  Token de desarrollo / dev token:  $(BIN)/ruta token --as caseworker"
	@echo "  e.g.  curl -H \"Authorization: Bearer \$$($(BIN)/ruta token)\" http://$(RUTA_HOST):$(RUTA_PORT)/v1/profiles"
	@echo ""
	@exec $(BIN)/ruta serve

## The whole suite on SQLite; on PostgreSQL too when RUTA_TEST_DATABASE=postgresql.
test: install
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## The quick loop while editing: everything but the tests that spawn processes or run long.
test-fast: install
	@$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-sqlite: install
	@RUTA_TEST_DATABASE=sqlite $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-postgres: install
	@RUTA_TEST_DATABASE=postgresql RUTA_TEST_PG_URL=$(PG_URL) $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## Style and types; the boundaries between rooms (import-linter contracts in pyproject.toml);
## module and function sizes; no block of 6+ lines repeated in application code.
lint: install
	@$(BIN)/ruff check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/python tools/check_sizes.py
	@$(BIN)/pylint --score=n gateway services shared ruta && echo "duplicates: none of 6+ lines"

## Gateway and the three services as separate processes against PostgreSQL.
run-distributed: install
	@$(BIN)/python -m ruta.distributed --pg-url $(PG_URL)

bench-smoke: install
	@$(BIN)/python bench/smoke.py

## Registry on 1,000,000 synthetic profiles: lookups and search vs raw SQL, bulk vs COPY.
bench-registry: install
	@$(BIN)/python bench/registry.py $(BENCH_ARGS)

## Document-expiry watch over 1,000,000 profiles' documents (1% due): EXPLAIN, watch vs raw.
bench-watch: install
	@$(BIN)/python bench/document_watch.py $(BENCH_ARGS)

## Reports on 1,000,000 people and 2,000,000 referrals (COPY): full report via the API vs raw SQL.
bench-reports: install
	@$(BIN)/python bench/reports.py $(BENCH_ARGS)

## Matching on 100,000 vacancies (bulk API) and 1,000,000 consenting people (COPY): API vs raw SQL.
bench-matching: install
	@$(BIN)/python bench/matching.py $(BENCH_ARGS)

## Webhook deliveries/s with 1 and 2 workers, and commit-to-delivery latency (PostgreSQL).
bench-webhooks: install
	@$(BIN)/python bench/webhooks.py

## Proof (issues 9, 22). Load: embedded and distributed on PostgreSQL vs bare FastAPI and raw
## asyncpg, a realistic mix vs its floor (refapps:mix_floor), 3 runs judged on medians, targets
## PASS/FAIL (BENCH_ARGS=--strict to fail the exit code; --runs N; results in bench/results/).
bench: install
	@$(BIN)/python bench/load.py $(BENCH_ARGS)

## Schemathesis against /openapi.json as every role, SQLite and PostgreSQL (long run).
fuzz: install
	@$(BIN)/python bench/fuzz.py --backend both --max-examples $(or $(FUZZ_EXAMPLES),100) $(FUZZ_ARGS)

## A bounded run (5 examples per operation; 30-60 min on two cores, so not part of CI).
fuzz-ci: install
	@$(BIN)/python bench/fuzz.py --backend both --max-examples 5 --phases examples,coverage,fuzzing $(FUZZ_ARGS)

## PostgreSQL restarted under load (restarts the local server!), a service killed, the worker killed.
faults: install
	@$(BIN)/python bench/faults.py $(FAULTS_ARGS)

## The suite at DEBUG with production logging; no personal data may reach the logs, also when
## writes fail in PostgreSQL (injected first; PYTEST_ARGS=--failures-only runs just that).
logcheck: install
	@$(BIN)/python bench/logcheck.py $(PYTEST_ARGS)

## The contract as integrators meet it (issue 15): a TypeScript client generated from the live
## merged document (openapi-typescript) and compiled with tsc --strict, a Python client
## (openapi-python-client, in .venv-contract) imported and called; /docs and /redoc rendered
## offline in headless Chromium (Debian package, installed if missing). Each step timed.
## CONTRACT_ARGS=--tolerate-known-defs: local only (contract/run.py says what it patches).
contract: install
	@set -e; s=$$SECONDS; cd contract && npm ci --no-audit --no-fund --loglevel=error >/dev/null; \
	  echo "[contract] npm ci: $$((SECONDS-s)) s"
	@set -e; s=$$SECONDS; command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }; \
	  echo "[contract] chromium ($$(chromium --version)): $$((SECONDS-s)) s"
	@set -eo pipefail; s=$$SECONDS; test -x .venv-contract/bin/python || $(PYTHON) -m venv .venv-contract; \
	  .venv-contract/bin/pip install --quiet --disable-pip-version-check \
	    -r contract/python-requirements.txt 2>&1 | { grep -v '^WARNING: Location' || true; }; \
	  echo "[contract] .venv-contract: $$((SECONDS-s)) s"
	@clients=0; $(BIN)/python contract/run.py $(CONTRACT_ARGS) || clients=$$?; \
	  s=$$SECONDS; RUTA_REQUIRE_CHROMIUM=1 RUTA_DOCS_SCREENSHOTS=contract/generated/screenshots \
	  $(BIN)/python -m pytest -q -m chromium tests/contract || exit $$?; \
	  echo "[contract] docs in Chromium: $$((SECONDS-s)) s (screenshots: contract/generated/screenshots)"; \
	  exit $$clients

clean:
	rm -rf $(VENV) data

## Kubernetes manifests: every overlay renders, kubernetes-validate --strict (1.32), checkov
## (pinned in deploy/requirements-check.txt, in their own .venv-deploy).
## Alerting rules (promtool check rules, promtool test rules: Debian package prometheus,
## installed if missing) and every metric the rules and the dashboard name is exported.
metrics-check: install
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@promtool check rules deploy/prometheus/ruta-alerts.yml
	@cd deploy/prometheus && promtool test rules ruta-alerts.test.yml
	@$(BIN)/python -m pytest -q -p no:cacheprovider tests/operations/test_metrics_names.py

deploy-check:
	@test -x .venv-deploy/bin/checkov || { $(PYTHON) -m venv .venv-deploy && .venv-deploy/bin/pip install --quiet --disable-pip-version-check -r deploy/requirements-check.txt; }
	@deploy/check.sh
