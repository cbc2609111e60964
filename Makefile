# The platform's commands. `make run` and `make test` are all a fresh machine needs (Python 3.11+).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export TALENT_ENV ?= dev

.PHONY: run test setup lint typecheck check clean procfile demo screenshots bench faults

setup: ## install uv (from PyPI) and the locked dependencies
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet --break-system-packages uv
	@$(UV) sync --frozen --quiet
	@mkdir -p var

run: setup ## the whole platform on 127.0.0.1 (SQLite + the embedded Tansu broker); Ctrl-C stops it all
	@echo "人才码 platform (TALENT_ENV=$(TALENT_ENV))"
	@echo "  gateway     http://127.0.0.1:8000      API docs: http://127.0.0.1:8000/docs"
	@echo "  services    applicant :8001  benefits :8002  housing :8003  notify :8004  insight :8005"
	@echo "  broker      127.0.0.1:9092 (Tansu, in memory)      data: ./var/*.db"
	@echo "  metrics     the gateway's on http://127.0.0.1:9100/metrics (not on :8000); each service's on its own port"
	@APPLICANT_LOG_JSON=false BENEFITS_LOG_JSON=false HOUSING_LOG_JSON=false NOTIFY_LOG_JSON=false GATEWAY_LOG_JSON=false \
		$(UV) run --frozen honcho start -f Procfile

test: setup ## every test: unit, service and cross-service with a real broker (SQLite; PostgreSQL with TEST_DATABASE_URL)
	@$(UV) run --frozen pytest -q -p no:cacheprovider

lint: setup
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

typecheck: setup
	@$(UV) run --frozen mypy libs/servicekit/src libs/contracts/src services/*/src gateway/src

.PHONY: routes
routes: setup ## regenerate the gateway's route and role table (gateway/src/gateway/routes.generated.json) from the services' routes
	@$(UV) run --frozen python scripts/generate_routes.py

.PHONY: web-states
web-states: setup ## regenerate the web apps' status lists (gateway/src/gateway/web/common/states.js) from the services' enums
	@$(UV) run --frozen python scripts/generate_web_states.py

demo: setup ## a one-minute scripted walk through the running platform (start it with `make run`; BASE_URL=… for another)
	@$(UV) run --frozen python scripts/demo.py --base-url $(or $(BASE_URL),http://127.0.0.1:8000)

screenshots: setup ## refresh docs/screenshots/*.png in Debian's Chromium (starts a platform, or BASE_URL=… of a running one)
	@$(UV) run --frozen python scripts/screenshots.py $(if $(BASE_URL),--base-url $(BASE_URL))

bench: setup ## every bench/ scenario on SQLite and PostgreSQL side by side (+ production shape; quick sizes; BENCH_FULL=1 for the issues' sizes) + baselines → bench/report.md, bench/report.json
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; } \
		|| echo "wrk not installed: the HTTP scenarios fall back to the in-process load generator"
	@$(UV) run --frozen python -m bench.run_all

faults: setup ## the full fault suite: kill -9 every service and the gateway, pause the broker, under load (FAULTS_FULL=1)
	@FAULTS_FULL=1 $(UV) run --frozen pytest -q -p no:cacheprovider tests/test_faults.py

.PHONY: fuzz
fuzz: setup ## schemathesis against the whole API as every role, long run (FUZZ_EXAMPLES=100; FUZZ_SEED=… for another)
	@FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),100) $(UV) run --frozen pytest -q -p no:cacheprovider tests/test_fuzz_api.py

check: lint typecheck test

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
