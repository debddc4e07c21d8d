"""The one place that wires adapters to domain logic for each service."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from config import Settings, load_business_rules
from config.settings import ConfigError
from models import Topics
from tingjian.errors import TransportError
from tingjian.runtime.consumer_loop import ConsumerLoop
from tingjian.runtime.kafka_io import (
    Outgoing,
    check_reachable,
    ensure_topics,
    make_consumer,
    make_producer,
    send_all,
)
from tingjian.runtime.observability import OpsServer

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set an event: loops finish their batch, commit and return."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def timezone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.business.timezone)  # validated with the settings


def build_engine(settings: Settings, *, durable_dedup: bool = True) -> Any:
    from triage.engine import TriageEngine
    from triage.model_loader import load_classifier

    rules = load_business_rules(settings.business)
    classifier, keywords = load_classifier(settings.triage.model_path)
    from triage.dedup import build_deduplicator

    return TriageEngine(
        rules=rules,
        classifier=classifier,
        hash_key=settings.privacy.hash_key,
        timezone=timezone(settings),
        review_threshold=settings.triage.review_threshold,
        spam_min_confidence=settings.triage.spam_min_confidence,
        dedup=build_deduplicator(settings, durable=durable_dedup),
        keywords=keywords,
    )


def run_triage(settings: Settings, metrics_port: int | None) -> int:
    from triage.service import TriageHandler

    _check_store_schema(settings)
    engine = build_engine(settings)
    stop = stop_on_signals()
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    producer = make_producer(settings.kafka, client_suffix="-triage")
    consumer = make_consumer(
        settings.kafka,
        group_id=settings.triage.group_id,
        max_poll_records=settings.triage.batch_size,
    )
    from triage.reload import ModelWatcher

    watcher = ModelWatcher(engine, settings.triage.model_path)
    handler = TriageHandler(engine, producer, topics, watcher=watcher)
    loop = ConsumerLoop(
        consumer, [topics.received], handler, stop, poll_timeout_ms=settings.triage.poll_timeout_ms
    )

    def health() -> dict[str, Any]:
        kafka_ok = check_reachable(producer, topics.triaged)
        return {
            "ok": kafka_ok and loop.last_error is None,
            "kafka": kafka_ok,
            "batches": loop.batches_done,
            "last_error": loop.last_error,
            "model_version": engine.classifier.version,
            "model_refused": watcher.refused,
        }

    ops = OpsServer(settings.metrics.host, _port(metrics_port, settings, 1), health).start()
    log.info(
        "triage started",
        extra={"metrics_port": ops.port, "model_version": engine.classifier.version},
    )
    try:
        loop.run()
    finally:
        producer.flush(timeout=5)
        producer.close(timeout=5)
        ops.stop()
    return 0


def run_sink_crm(settings: Settings, metrics_port: int | None) -> int:
    import psycopg

    from sinks.crm.migrate import check_schema
    from sinks.crm.sink import CrmSink
    from sinks.crm.store import CrmStore

    stop = stop_on_signals()
    store = CrmStore(
        settings.postgres.dsn, settings.business.ticket_number_format, timezone(settings)
    )
    check_schema(store.connection())
    store.connection().rollback()
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    producer = make_producer(settings.kafka, client_suffix="-sink-crm")
    consumer = make_consumer(
        settings.kafka, group_id=settings.sink.group_id, max_poll_records=settings.sink.batch_size
    )
    sink = CrmSink(store, producer, topics.dlq, settings.sink.group_id)
    loop = ConsumerLoop(
        consumer, [topics.triaged], sink, stop, poll_timeout_ms=settings.sink.poll_timeout_ms
    )

    def health() -> dict[str, Any]:
        db_ok = store.ping()
        kafka_ok = check_reachable(producer, topics.dlq)
        return {
            "ok": db_ok and kafka_ok and loop.last_error is None,
            "postgres": db_ok,
            "kafka": kafka_ok,
            "batches": loop.batches_done,
            "last_error": loop.last_error,
        }

    ops = OpsServer(settings.metrics.host, _port(metrics_port, settings, 2), health).start()
    log.info("crm sink started", extra={"metrics_port": ops.port})
    try:
        loop.run()
    except psycopg.Error as exc:  # pragma: no cover - mapped inside the store
        log.error("store failure", extra={"error": str(exc)})
        return 1
    finally:
        producer.flush(timeout=5)
        producer.close(timeout=5)
        store.close()
        ops.stop()
    return 0


def run_ingest_web(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from ingest.web.app import WebOptions, create_app
    from sinks.crm.numbering import NumberAllocator

    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    producer = make_producer(settings.kafka, client_suffix="-ingest-web")
    timeout = settings.web.produce_timeout_s

    def publish(topic: str, key: bytes, value: bytes) -> None:
        send_all(producer, [Outgoing(topic, key, value)], timeout)

    def health() -> dict[str, Any]:
        kafka_ok = check_reachable(producer, topics.received)
        doc: dict[str, Any] = {"kafka": kafka_ok}
        if settings.web.assign_numbers:
            # Numbers come from the CRM store: without it every post would be a 503.
            from sinks.crm.store import CrmStore

            doc["postgres"] = CrmStore(settings.postgres.dsn, "", timezone(settings)).ping()
        doc["ok"] = all(doc.values())
        return doc

    web = settings.web
    allocator = (
        NumberAllocator(
            settings.postgres.dsn, settings.business.ticket_number_format, timezone(settings)
        )
        if web.assign_numbers
        else None
    )
    opts = WebOptions(
        topic=topics.received,
        hash_key=settings.privacy.hash_key,
        max_body_bytes=web.max_body_bytes,
        allowed_origins=tuple(web.allowed_origins),
        rate_limit_per_minute=web.rate_limit_per_minute,
        allocate_number=allocator.allocate if allocator else None,
    )
    app = create_app(publish, opts, health)
    config = uvicorn.Config(
        app,
        host=host or settings.web.host,
        port=settings.web.port if port is None else port,
        log_config=None,  # our JSON logging, not uvicorn's
        access_log=False,
        timeout_graceful_shutdown=8,
    )
    server = _graceful_server(config)
    try:
        server.run()
    finally:
        producer.close(timeout=5)
    return 0


@dataclass
class ConnectorIO:
    """What every pull connector needs: topics, an acknowledged send, a checkpoint store."""

    topics: Topics
    send: Callable[[Sequence[Outgoing]], object]
    store: Any


@contextmanager
def connector_io(settings: Settings, connector: str) -> Iterator[ConnectorIO]:
    from ingest.checkpoints import CheckpointStore

    _check_store_schema(settings)
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    producer = make_producer(settings.kafka, client_suffix=f"-{connector.replace(':', '-')}")
    store = CheckpointStore(settings.postgres.dsn, connector)
    try:
        yield ConnectorIO(topics, lambda outs: send_all(producer, outs, 60.0), store)
    finally:
        producer.flush(timeout=5)
        producer.close(timeout=5)
        store.close()


def _run_with_ops(
    run: Callable[[], None],
    health: Callable[[], dict[str, Any]],
    settings: Settings,
    port: int,
    what: str,
    **extra: Any,
) -> int:
    ops = OpsServer(settings.metrics.host, port, health).start()
    log.info(f"{what} started", extra={**extra, "metrics_port": ops.port})
    try:
        run()
    finally:
        ops.stop()
    return 0


def run_ingest_email(settings: Settings, metrics_port: int | None) -> int:
    from ingest.email.imap_source import ImapSource

    cfg = settings.email
    with connector_io(settings, f"email:{cfg.username}@{cfg.host}") as io:
        source = ImapSource(
            cfg,
            io.store,
            io.send,
            received_topic=io.topics.received,
            dlq_topic=io.topics.dlq,
            hash_key=settings.privacy.hash_key,
            stop=stop_on_signals(),
        )

        def health() -> dict[str, Any]:
            st = source.stats
            return {
                "ok": st.last_error is None,
                "polls": st.polls,
                "produced": st.produced,
                "last_error": st.last_error,
            }

        return _run_with_ops(
            source.run,
            health,
            settings,
            _port(metrics_port, settings, 3),
            "email connector",
            mailbox=cfg.mailbox,
        )


def run_ingest_social(settings: Settings, source: str, metrics_port: int | None) -> int:
    from ingest.social.adapters import build_adapter
    from ingest.social.poller import SocialPoller

    if source not in settings.social:
        known = ", ".join(sorted(settings.social)) or "none configured"
        raise ConfigError(
            f"--source: unknown social source {source!r} (social.<name> in the config; known: {known})"
        )
    cfg = settings.social[source]
    with connector_io(settings, f"social:{source}") as io:
        poller = SocialPoller(
            source,
            cfg,
            build_adapter(cfg),
            io.store,
            io.send,
            topic=io.topics.received,
            hash_key=settings.privacy.hash_key,
            stop=stop_on_signals(),
        )

        def health() -> dict[str, Any]:
            st = poller.state
            return {
                "ok": st.last_error is None,
                "polls": st.polls,
                "produced": st.produced,
                "token_expired": st.token_expired,
                "last_error": st.last_error,
            }

        return _run_with_ops(
            poller.run,
            health,
            settings,
            _port(metrics_port, settings, 4),
            "social connector",
            source=source,
        )


def run_import(settings: Settings, file: str, mapping_name: str, mappings_file: str | None) -> int:
    import sys
    from pathlib import Path

    from ingest.bulk.importer import import_file, load_mapping, write_errors
    from tingjian.errors import TingjianError

    mapping = load_mapping(mapping_name, mappings_file)
    path = Path(file)
    if not path.is_file():
        raise TingjianError(f"file not found: {file}")
    with connector_io(settings, "import") as io:
        rep = import_file(
            path,
            mapping,
            store=io.store,
            send=io.send,
            topic=io.topics.received,
            hash_key=settings.privacy.hash_key,
            tz=timezone(settings),
        )
    errors = write_errors(path, rep)
    for b in rep.bad[:20]:
        print(f"row {b['row']}: {b['error']}", file=sys.stderr)
    if len(rep.bad) > 20:
        print(f"... {len(rep.bad) - 20} more bad rows", file=sys.stderr)
    print(
        f"{path.name}: {rep.rows} rows, {rep.produced} imported, {rep.already_imported} already imported,"
        f" {len(rep.bad)} bad" + (f" (see {errors})" if errors else "")
    )
    return 0


def _graceful_server(config: Any) -> Any:
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process
    would die of the signal; a drained shutdown is a clean exit (code 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True  # not recorded: nothing is re-raised afterwards

    return Server(config)


def _check_store_schema(settings: Settings) -> None:
    """Triage keeps its dedup index in the CRM database: it must be migrated."""
    import psycopg

    from sinks.crm.migrate import check_schema
    from tingjian.errors import StoreError

    try:
        with psycopg.connect(settings.postgres.dsn, connect_timeout=10) as conn:
            check_schema(conn)
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach PostgreSQL for the dedup index: {exc}") from exc


def _port(flag: int | None, settings: Settings, offset: int) -> int:
    """Default metrics ports: web serves its own; triage 9101, sink 9102."""
    if flag is not None:
        return flag
    return settings.metrics.port + offset if settings.metrics.port else 0


__all__ = ["TransportError", "run_ingest_web", "run_sink_crm", "run_triage"]
