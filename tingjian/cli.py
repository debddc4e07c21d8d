"""``tingjian``: one command, a subcommand per service (each its own process,
so that it scales as a Kafka consumer group) and the operator tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from config.settings import Settings, load_settings
from core.errors import ConfigError, TingjianError

EXIT_CONFIG = 2


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connections (override config and TINGJIAN_* env)")
    g.add_argument("--bootstrap-servers", dest="kafka__bootstrap_servers")
    g.add_argument("--topic-prefix", dest="kafka__topic_prefix")
    g.add_argument("--partitions", dest="kafka__partitions", type=int)
    g.add_argument("--dsn", dest="postgres__dsn", help="PostgreSQL connection string")
    g.add_argument("--log-level", dest="log_level")
    g.add_argument("--model", dest="triage__model_path", help="triage model bundle")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tingjian", description="听见 Tingjian feedback pipeline")
    sub = p.add_subparsers(dest="cmd", required=True)

    ingest = sub.add_parser("ingest", help="run a connector").add_subparsers(
        dest="source", required=True
    )
    web = ingest.add_parser("web", help="HTTP endpoint POST /v1/feedback")
    _common(web)
    web.add_argument("--host")
    web.add_argument("--port", type=int)

    em = ingest.add_parser("email", help="poll an IMAP mailbox")
    _common(em)
    em.add_argument("--metrics-port", type=int)

    so = ingest.add_parser("social", help="poll a social platform's comment API")
    _common(so)
    so.add_argument(
        "--source",
        dest="source_name",
        required=True,
        help="name of a source under social: in the config",
    )
    so.add_argument("--metrics-port", type=int)

    inspect = sub.add_parser("inspect", help="show what a connector would produce").add_subparsers(
        dest="what", required=True
    )
    ie = inspect.add_parser("email", help="parse one .eml file as the email connector would")
    ie.add_argument("file")

    imp = sub.add_parser("import", help="import a CSV or Excel file of feedback")
    _common(imp)
    imp.add_argument("file")
    imp.add_argument(
        "--mapping",
        required=True,
        help="column mapping name (config/defaults/import_mappings.yaml)",
    )
    imp.add_argument("--mappings-file", default=None)

    tri = sub.add_parser("triage", help="run the triage stage")
    _common(tri)
    tri.add_argument("--metrics-port", type=int)

    sink = sub.add_parser("sink", help="run a sink").add_subparsers(dest="sink", required=True)
    crm = sink.add_parser("crm", help="write tickets to the CRM store")
    _common(crm)
    crm.add_argument("--metrics-port", type=int)

    db = sub.add_parser("db", help="CRM store administration").add_subparsers(
        dest="dbcmd", required=True
    )
    _common(db.add_parser("migrate", help="apply pending SQL migrations"))

    topics = sub.add_parser("topics", help="Kafka topics").add_subparsers(
        dest="topicscmd", required=True
    )
    _common(topics.add_parser("create", help="create the pipeline's topics if missing"))

    tickets = sub.add_parser("tickets", help="print recent tickets as a table (contacts masked)")
    _common(tickets)
    tickets.add_argument("--limit", type=int, default=20)

    model = sub.add_parser("model", help="triage model bundle").add_subparsers(
        dest="modelcmd", required=True
    )
    train = model.add_parser("train", help="train the bundle from labeled feedback")
    _common(train)
    train.add_argument(
        "--data", default=None, help="labeled JSONL (default ../shared/data/feedback_labeled.jsonl)"
    )
    train.add_argument("--out", default=None, help="bundle path (default triage.model_path)")

    cls = sub.add_parser(
        "classify", help="triage a JSONL file exactly like the stream, without Kafka"
    )
    _common(cls)
    cls.add_argument("input")
    cls.add_argument("-o", "--output", required=True)
    cls.add_argument(
        "--errors", default=None, help="where invalid lines go (default OUTPUT.errors.jsonl)"
    )

    ev = sub.add_parser("eval", help="cross-validated metrics of the triage models")
    _common(ev)
    ev.add_argument(
        "--data-dir", default=None, help="the shared data folder (default ../shared/data)"
    )
    ev.add_argument("--folds", type=int, default=5)
    ev.add_argument("--features", choices=["chars", "words"], default="chars")
    ev.add_argument(
        "--json", dest="json_out", default=None, help="also write the full report as JSON"
    )
    ev.add_argument("--skip-cross-domain", action="store_true")

    dump = sub.add_parser("dump", help="print the dead-letter or quarantine topic, contacts masked")
    _common(dump)
    dump.add_argument("which", choices=["dlq", "quarantine"])
    dump.add_argument("--limit", type=int, default=100)

    feed = sub.add_parser("feed", help="post a JSONL file of feedback to the web endpoint")
    feed.add_argument("file")
    feed.add_argument("--url", default="http://127.0.0.1:8080/v1/feedback")
    return p


def _overrides(ns: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in vars(ns).items():
        if v is None or ("__" not in k and k != "log_level"):
            continue
        parts = k.split("__")
        cur = out
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = v
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.cmd == "inspect":
        from tingjian.tools import inspect_email

        return inspect_email(ns.file)
    if ns.cmd == "feed":
        from tingjian.tools import feed_file

        return feed_file(ns.file, ns.url)
    try:
        settings = load_settings(_overrides(ns))
        from core.logs import setup_logging

        setup_logging(settings.log_level)
        return _dispatch(ns, settings)
    except ConfigError as exc:
        print(f"tingjian: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except TingjianError as exc:
        print(f"tingjian: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _dispatch(ns: argparse.Namespace, settings: Settings) -> int:
    from tingjian import runner

    service: runner.Service | None = None
    if ns.cmd == "ingest" and ns.source == "web":
        from tingjian.services import web

        service = web.build(settings, ns.host, ns.port)
    elif ns.cmd == "ingest" and ns.source == "email":
        from tingjian.services import email

        service = email.build(settings, ns.metrics_port)
    elif ns.cmd == "ingest" and ns.source == "social":
        from tingjian.services import social

        service = social.build(settings, ns.source_name, ns.metrics_port)
    elif ns.cmd == "import":
        from tingjian.services import bulk

        service = bulk.build(settings, ns.file, ns.mapping, ns.mappings_file)
    elif ns.cmd == "triage":
        from tingjian.services import triage

        service = triage.build(settings, ns.metrics_port)
    elif ns.cmd == "sink" and ns.sink == "crm":
        from tingjian.services import crm_sink

        service = crm_sink.build(settings, ns.metrics_port)
    if service is not None:
        return runner.run(service, settings.metrics.host)
    if ns.cmd == "db" and ns.dbcmd == "migrate":
        from core.store.schema import migrate

        applied = migrate(settings.postgres.dsn)
        print("applied: " + ", ".join(applied) if applied else "database is up to date")
        return 0
    if ns.cmd == "topics":
        from core.kafka import ensure_topics

        created = ensure_topics(settings.kafka)
        print("created: " + ", ".join(created) if created else "topics exist")
        return 0
    if ns.cmd in ("model", "classify", "eval"):
        from tingjian import data_tools

        return data_tools.dispatch(ns, settings)
    if ns.cmd == "dump":
        from tingjian.tools import dump_topic

        return dump_topic(settings, ns.which, ns.limit)
    if ns.cmd == "tickets":
        from tingjian.tools import print_tickets

        return print_tickets(settings, ns.limit)
    raise AssertionError(f"unhandled command {ns.cmd}")


if __name__ == "__main__":
    sys.exit(main())
