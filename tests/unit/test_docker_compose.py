"""docker-compose.yml cannot run here (no Docker engine): check that it stays
consistent with the settings and the scripts instead."""

import re
from pathlib import Path
from typing import Any

import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _valid_env_name(name: str) -> bool:
    assert name.startswith("TINGJIAN_"), name
    if name == "TINGJIAN_CONFIG":  # the user YAML file, read by config.settings
        return True
    parts = name.removeprefix("TINGJIAN_").lower().split("__")
    model: Any = Settings
    for p in parts:
        fields = model.model_fields
        if p not in fields:
            return False
        model = fields[p].annotation
        if getattr(model, "__origin__", None) is dict:  # social.<name>.<key>
            return True
    return True


def test_every_pipeline_service_is_there() -> None:
    services = set(COMPOSE["services"])
    assert {
        "kafka",
        "postgres",
        "migrate",
        "ingest-web",
        "ingest-email",
        "ingest-social-weibo",
        "triage",
        "sink-crm",
    } <= services


def test_every_tingjian_variable_names_a_setting() -> None:
    names = set()
    for svc in COMPOSE["services"].values():
        names |= {k for k in (svc.get("environment") or {}) if k.startswith("TINGJIAN_")}
    assert "TINGJIAN_KAFKA__BOOTSTRAP_SERVERS" in names
    bad = [n for n in names if not _valid_env_name(n)]
    assert bad == []


def test_commands_are_real_cli_subcommands() -> None:
    from tingjian.cli import build_parser

    parser = build_parser()
    for _name, svc in COMPOSE["services"].items():
        cmd = svc.get("command")
        if cmd and cmd[0] == "tingjian":
            parser.parse_args(cmd[1:])  # raises SystemExit if not a valid command line


def test_kafka_image_matches_the_pinned_broker() -> None:
    pom = (ROOT / "scripts/kafka/pom.xml").read_text(encoding="utf-8")
    version = re.search(r"<kafka.version>(.+)</kafka.version>", pom).group(1)
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{version}"


def test_monitoring_scrapes_the_services_and_charts_real_metrics() -> None:
    services = COMPOSE["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert services["grafana"]["profiles"] == ["monitoring"]
    prom = yaml.safe_load((ROOT / "monitoring/prometheus.yml").read_text(encoding="utf-8"))
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    for t in targets:
        name, port = t.split(":")
        assert name in services, t
        assert port in " ".join(services[name]["command"]), t
    import json

    from prometheus_client import REGISTRY

    import core.metrics  # noqa: F401  (registers every metric)

    known = {m.name for m in REGISTRY.collect()}
    dash = json.loads((ROOT / "monitoring/grafana/dashboards/tingjian.json").read_text("utf-8"))
    used = {
        re.sub(r"_(bucket|total)$", "", n)
        for p in dash["panels"]
        for t in p["targets"]
        for n in re.findall(r"tingjian_[a-z_]+", t["expr"])
    }
    assert used and used <= known, used - known
