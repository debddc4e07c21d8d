# Two commands set everything up: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

MODEL := .run/models/triage.bundle


.PHONY: system-deps install services stop status run test unit model eval bench bench-report bench-sink lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The default bundle is trained on first use from the project's own corpus
# (data/corpus, data/CARD.md; about a minute) and again when the corpus changes.
$(MODEL): $(wildcard data/corpus/*.jsonl) | $(STAMP)
	$(BIN)/tingjian model train --out $(MODEL)

## Retrain the triage model bundle from the labeled data.
model: install
	$(BIN)/tingjian model train --out $(MODEL)

## Cross-validated metrics (the README's table).
eval: install
	$(BIN)/tingjian eval

## Triage throughput on one core.
bench-report: install services
	$(BIN)/python -m bench.report_bench

## The CRM sink's write rate beside PostgreSQL COPY (own database tingjian_bench_sink).
bench-sink: install services
	$(BIN)/python -m bench.sink_bench

bench: install $(MODEL)
	OMP_NUM_THREADS=1 taskset -c 0 $(BIN)/python -m bench.triage_bench

system-deps:
	scripts/system-deps.sh

services: system-deps
	scripts/services.sh start

status:
	scripts/services.sh status; scripts/pipeline.sh status

## Start the services and every pipeline process, feed examples/, print tickets.
DEMO_DSN ?= postgresql://tingjian:tingjian@127.0.0.1:15432/tingjian_demo
run: install services $(MODEL)
	scripts/pipeline.sh start
	$(BIN)/tingjian feed examples/feedback.jsonl
	scripts/pipeline.sh wait-tickets $$(grep -c . examples/feedback.jsonl)
	$(BIN)/tingjian tickets --limit 50
	scripts/pipeline.sh console
	$(BIN)/tingjian demo seed --weeks 12 --dsn $(DEMO_DSN)
	@echo "report: $$($(BIN)/tingjian report weekly --dsn $(DEMO_DSN) 2>/dev/null | head -1)"

## Stop the pipeline processes and the services.
stop:
	-scripts/pipeline.sh stop
	scripts/services.sh stop

## The whole suite (unit, integration, e2e) against real Kafka and PostgreSQL.
test: install services $(MODEL)
	$(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy .

clean:
	rm -rf .run build *.egg-info
