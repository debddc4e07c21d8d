"""``tingjian``: one command, a subcommand per service (each its own process,
so that it scales as a Kafka consumer group) and the operator tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

from config.settings import Settings, load_settings
from core.errors import ConfigError, TingjianError
from tingjian import __version__

EXIT_CONFIG = 2
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line on stderr that names the (sub)command, not
    argparse's usage dump of the top-level command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _since(value: str) -> datetime:
    from tingjian.replay import parse_since

    try:
        return parse_since(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connections (override config and TINGJIAN_* env)")
    g.add_argument(
        "--bootstrap-servers",
        dest="kafka__bootstrap_servers",
        metavar="HOST:PORT",
        help="Kafka brokers, comma-separated (kafka.bootstrap_servers)",
    )
    g.add_argument(
        "--topic-prefix", dest="kafka__topic_prefix", metavar="PREFIX", help="kafka.topic_prefix"
    )
    g.add_argument(
        "--partitions",
        dest="kafka__partitions",
        type=int,
        metavar="N",
        help="partitions of topics created (kafka.partitions)",
    )
    g.add_argument(
        "--dsn", dest="postgres__dsn", metavar="DSN", help="PostgreSQL connection string"
    )
    g.add_argument(
        "--log-level",
        dest="log_level",
        metavar="LEVEL",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="DEBUG, INFO, WARNING or ERROR",
    )
    g.add_argument("--model", dest="triage__model_path", metavar="PATH", help="triage model bundle")


def _metrics_port(p: argparse.ArgumentParser, setting: str) -> None:
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help=f"port of /metrics and /healthz (0: any free port; default {setting})",
    )


def _mapping_names() -> str:
    from ingest.bulk.importer import DEFAULT_MAPPINGS

    try:
        import yaml

        names = sorted(
            (yaml.safe_load(DEFAULT_MAPPINGS.read_text(encoding="utf-8")) or {}).get("mappings", {})
        )
    except (OSError, ValueError, AttributeError):
        return "see config/defaults/import_mappings.yaml"
    return "built-in mappings: " + ", ".join(names)


def _name_leaves(parser: argparse.ArgumentParser) -> None:
    """Every parser records its prog, so that an unrecognised flag is reported
    by the subcommand it was given to."""
    parser.set_defaults(_prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _name_leaves(child)


def _registry(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument(
        "--registry", dest="triage__registry_dir", metavar="DIR", help="triage.registry_dir"
    )


def _model_commands(model: Any) -> None:
    """The registry's actions (tingjian/model_tools.py)."""
    _registry(model.add_parser("list", help="registered versions, one a line, live one marked"))
    show = model.add_parser("show", help="a version's model card")
    show.add_argument("version", metavar="V")
    _registry(show)
    add = model.add_parser(
        "add", help="register an existing bundle file (checked against its manifest)"
    )
    add.add_argument("path", metavar="FILE")
    _registry(add)
    promote = model.add_parser(
        "promote", help="make V live if it passes the gate (frozen split, recent corrections)"
    )
    promote.add_argument("version", metavar="V")
    promote.add_argument("--force", action="store_true", help="promote despite the gate")
    promote.add_argument("--reason", default=None, help="why --force (recorded in the card)")
    _registry(promote)
    _registry(model.add_parser("rollback", help="return to the version live before"))
    _registry(
        model.add_parser("shadow-report", help="agreement of the shadow version with the live one")
    )
    drift = model.add_parser("drift", help="last week's labels against the training data's")
    drift.add_argument("--days", type=int, default=7, metavar="N", help="window (default 7)")
    _registry(drift)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tingjian", description="听见 Tingjian feedback pipeline")
    p.add_argument("--version", action="version", version=f"tingjian {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="run a connector").add_subparsers(
        dest="source", required=True, metavar="SOURCE"
    )
    web = ingest.add_parser("web", help="HTTP endpoint POST /v1/feedback")
    _common(web)
    web.add_argument("--host", metavar="ADDR", help="listen address (default web.host)")
    web.add_argument("--port", type=int, help="listen port (default web.port)")

    em = ingest.add_parser("email", help="poll an IMAP mailbox")
    _common(em)
    _metrics_port(em, "email.metrics_port")

    so = ingest.add_parser("social", help="poll a social platform's comment API")
    _common(so)
    so.add_argument(
        "--source",
        dest="source_name",
        required=True,
        help="name of a source under social: in the config",
    )
    _metrics_port(so, "social.<name>.metrics_port")

    inspect = sub.add_parser("inspect", help="show what a connector would produce").add_subparsers(
        dest="what", required=True, metavar="WHAT"
    )
    ie = inspect.add_parser("email", help="parse one .eml file as the email connector would")
    ie.add_argument("file")

    imp = sub.add_parser(
        "import",
        help="import a CSV or Excel file of feedback; `import customers FILE` for segments",
        epilog=_mapping_names()
        + ". `tingjian import customers FILE`: a CRM customer list (手机号/邮箱/账号, 姓名,"
        " 客户类型 新客户|老客户|高价值客户|流失客户) sets the segment triage uses.",
    )
    _common(imp)
    imp.add_argument(
        "file", help="a .csv (UTF-8, UTF-8 with BOM or GBK) or .xlsx file, or `customers`"
    )
    imp.add_argument("path", nargs="?", help="with `customers`: the customer list file")
    imp.add_argument(
        "--mapping",
        default=None,
        metavar="NAME",
        help="column mapping name (config/defaults/import_mappings.yaml); required for feedback",
    )
    imp.add_argument("--mappings-file", default=None, metavar="YAML", help="your own mappings file")

    api = sub.add_parser(
        "api",
        help="the ticket API and the agents' console (GET/POST /v1/tickets, /console)",
    )
    _common(api)
    api.add_argument("--host", metavar="ADDR", help="listen address (default api.host)")
    api.add_argument("--port", type=int, help="listen port (default api.port, 8090)")
    api_sub = api.add_subparsers(dest="apicmd", required=False, metavar="ACTION")
    token = api_sub.add_parser("token", help="API tokens").add_subparsers(
        dest="tokencmd", required=True, metavar="ACTION"
    )
    tc = token.add_parser("create", help="create a bearer token (printed once, stored hashed)")
    _common(tc)
    tc.add_argument("--name", required=True, help="who the token is for (shown in events)")
    tc.add_argument(
        "--role", required=True, choices=["agent", "lead", "admin"], help="agent, lead or admin"
    )
    tc.add_argument(
        "--department",
        default=None,
        help="an agent's department (技术部, 产品部, 客服部…): it sees only those tickets",
    )

    sla = sub.add_parser("sla", help="the SLA clock").add_subparsers(
        dest="slacmd", required=True, metavar="ACTION"
    )
    watch = sla.add_parser(
        "watch", help="record SLA warnings and breaches as events, publish notifications"
    )
    _common(watch)
    _metrics_port(watch, "sla_clock.metrics_port")

    corr = sub.add_parser("corrections", help="agents' label corrections").add_subparsers(
        dest="corrcmd", required=True, metavar="ACTION"
    )
    cx = corr.add_parser(
        "export",
        help="JSONL of corrected tickets (masked, latest label wins) for model train --data",
    )
    _common(cx)
    cx.add_argument("--since", default=None, metavar="WHEN", help="ISO date or time (local)")
    cx.add_argument("-o", "--output", default=None, metavar="JSONL", help="default: stdout")

    tri = sub.add_parser("triage", help="run the triage stage")
    _common(tri)
    _metrics_port(tri, "triage.metrics_port")

    sink = sub.add_parser("sink", help="run a sink").add_subparsers(
        dest="sink", required=True, metavar="SINK"
    )
    crm = sink.add_parser("crm", help="write tickets to the CRM store")
    _common(crm)
    _metrics_port(crm, "sink.metrics_port")
    hook = sink.add_parser(
        "webhook", help="post crm.notifications to external CRMs and IM bots (webhook.targets)"
    )
    _common(hook)
    _metrics_port(hook, "webhook.metrics_port")

    db = sub.add_parser("db", help="CRM store administration").add_subparsers(
        dest="dbcmd", required=True, metavar="ACTION"
    )
    _common(db.add_parser("migrate", help="apply pending SQL migrations"))

    topics = sub.add_parser("topics", help="Kafka topics").add_subparsers(
        dest="topicscmd", required=True, metavar="ACTION"
    )
    _common(topics.add_parser("create", help="create the pipeline's topics if missing"))

    from tingjian import reporting

    reporting.add_parsers(sub, _common)

    tickets = sub.add_parser("tickets", help="print recent tickets as a table (contacts masked)")
    _common(tickets)
    tickets.add_argument(
        "--limit", type=int, default=20, metavar="N", help="how many tickets (default 20)"
    )

    inc = sub.add_parser("incidents", help="incidents (bursts of one problem), masked")
    _common(inc)
    inc.add_argument("--open", action="store_true", help="only those seen within the window")

    model = sub.add_parser("model", help="triage model bundle").add_subparsers(
        dest="modelcmd", required=True, metavar="ACTION"
    )
    train = model.add_parser("train", help="train and register a version from labeled feedback")
    _registry(train)
    train.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="PATH",
        help="labeled JSONL file or folder, repeatable (default: the project's corpus "
        "data/corpus, or TINGJIAN_CORPUS_DIR)",
    )
    train.add_argument(
        "--out", default=None, metavar="PATH", help="also write the bundle here (not promoted)"
    )
    train.add_argument(
        "--folds", type=int, default=5, metavar="N", help="group cross-validation folds (default 5)"
    )
    _model_commands(model)

    cls = sub.add_parser(
        "classify",
        help="triage a JSONL file exactly like the stream, without Kafka",
        description="One JSON object a line, the shape `tingjian feed` posts: "
        '{"text": ..., "subject", "name", "contact" (phone or email), "phone", "email", '
        '"account", "channel" (default web_form), "id" (default line-N), "received_at"}; '
        '"customer": {"name", "phone", "email", "account"} is accepted too. '
        "Other keys (labels) are ignored.",
    )
    _common(cls)
    cls.add_argument("input", help="JSONL file")
    cls.add_argument("-o", "--output", required=True, metavar="JSONL", help="one result a line")
    cls.add_argument(
        "--errors",
        default=None,
        metavar="JSONL",
        help="where invalid lines go (default OUTPUT.errors.jsonl)",
    )

    ev = sub.add_parser("eval", help="cross-validated metrics of the triage models")
    _common(ev)
    ev.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="extra labeled material: feedback_labeled.jsonl and public/ review corpora "
        "(default ../shared/data or TINGJIAN_DATA_DIR; used when present)",
    )
    ev.add_argument("--folds", type=int, default=5, metavar="K", help="cross-validation folds")
    ev.add_argument(
        "--features",
        choices=["chars", "words"],
        default="chars",
        help="text features of the models evaluated (default chars)",
    )
    ev.add_argument(
        "--json", dest="json_out", default=None, help="also write the full report as JSON"
    )
    ev.add_argument(
        "--skip-cross-domain",
        action="store_true",
        help="skip the binary sentiment check on public review corpora",
    )

    dump = sub.add_parser("dump", help="print the dead-letter or quarantine topic, contacts masked")
    _common(dump)
    dump.add_argument("which", choices=["dlq", "quarantine"])
    dump.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N records (default 100)"
    )

    dlq = sub.add_parser("dlq", help="the dead-letter topic").add_subparsers(
        dest="dlq_cmd", required=True, metavar="COMMAND"
    )
    rp = dlq.add_parser(
        "replay",
        help="send dead letters back through the normal path (safe to repeat: source ids are unique)",
    )
    _common(rp)
    rp.add_argument("--stage", metavar="S", help="only dead letters of stage S (e.g. triage)")
    rp.add_argument(
        "--since",
        type=_since,
        metavar="T",
        help="only those failed after T (ISO time, or an age: 2h, 7d)",
    )
    rp.add_argument(
        "--dry-run", action="store_true", help="count what would go where; send nothing"
    )

    feed = sub.add_parser("feed", help="post a JSONL file of feedback to the web endpoint")
    feed.add_argument("file", help='JSONL: {"text", "name", "contact", "id"...} a line')
    feed.add_argument(
        "--url", default="http://127.0.0.1:8080/v1/feedback", help="the web connector's endpoint"
    )
    _name_leaves(p)
    return p


def _overrides(ns: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in vars(ns).items():
        if v is None or k.startswith("_") or ("__" not in k and k != "log_level"):
            continue
        parts = k.split("__")
        cur = out
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = v
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns, extra = parser.parse_known_args(argv)
    if extra:
        prog = getattr(ns, "_prog", parser.prog)
        print(
            f"{prog}: error: unrecognized arguments: {' '.join(extra)} (see {prog} --help)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        if ns.cmd == "inspect":
            from tingjian.tools import inspect_email

            return inspect_email(ns.file)
        if ns.cmd == "feed":
            from tingjian.tools import feed_file

            return feed_file(ns.file, ns.url)
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
    except OSError as exc:  # a missing or unreadable file the user named
        print(
            f"tingjian: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(ns: argparse.Namespace, settings: Settings) -> int:
    from tingjian import runner

    service: runner.Service | None = None
    if ns.cmd in ("report", "demo"):
        from tingjian import reporting

        return reporting.dispatch(ns, settings)
    if ns.cmd == "corrections":
        from tingjian.tools import export_corrections

        return export_corrections(settings, ns.since, ns.output)
    if ns.cmd == "api" and getattr(ns, "apicmd", None) == "token":
        from tingjian.services.api import create_token

        return create_token(settings, ns.name, ns.role, ns.department)
    if ns.cmd == "api":
        from tingjian.services import api

        service = api.build(settings, ns.host, ns.port)
    elif ns.cmd == "ingest" and ns.source == "web":
        from tingjian.services import web

        service = web.build(settings, ns.host, ns.port)
    elif ns.cmd == "ingest" and ns.source == "email":
        from tingjian.services import email

        service = email.build(settings, ns.metrics_port)
    elif ns.cmd == "ingest" and ns.source == "social":
        from tingjian.services import social

        service = social.build(settings, ns.source_name, ns.metrics_port)
    elif ns.cmd == "import" and ns.file == "customers" and ns.path:
        from tingjian.tools import import_customers

        return import_customers(settings, ns.path)
    elif ns.cmd == "import":
        if not ns.mapping or ns.path:
            print(
                "tingjian import: error: feedback needs --mapping NAME; customers: "
                "tingjian import customers FILE (see tingjian import --help)",
                file=sys.stderr,
            )
            return 2
        from tingjian.services import bulk

        service = bulk.build(settings, ns.file, ns.mapping, ns.mappings_file)
    elif ns.cmd == "sla":
        from tingjian.services import sla

        service = sla.build(settings, ns.metrics_port)
    elif ns.cmd == "triage":
        from tingjian.services import triage

        service = triage.build(settings, ns.metrics_port)
    elif ns.cmd == "sink" and ns.sink == "webhook":
        from tingjian.services import webhook

        service = webhook.build(settings, ns.metrics_port)
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
    if ns.cmd == "dlq":
        from tingjian.replay import replay

        return replay(settings, stage=ns.stage, since=ns.since, dry_run=ns.dry_run)
    if ns.cmd == "dump":
        from tingjian.tools import dump_topic

        return dump_topic(settings, ns.which, ns.limit)
    if ns.cmd == "tickets":
        from tingjian.tools import print_tickets

        return print_tickets(settings, ns.limit)
    if ns.cmd == "incidents":
        from tingjian.incidents_tool import print_incidents

        return print_incidents(settings, ns.open)
    raise AssertionError(f"unhandled command {ns.cmd}")


if __name__ == "__main__":
    sys.exit(main())
