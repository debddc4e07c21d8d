"""Typed settings. Precedence: packaged YAML defaults < optional user YAML
(``TINGJIAN_CONFIG``) < ``TINGJIAN_*`` environment < command-line flags."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError

DEFAULTS_DIR = Path(__file__).parent / "defaults"
DEFAULT_SETTINGS_FILE = DEFAULTS_DIR / "settings.yaml"

__all__ = ["ConfigError", "Settings", "load_settings"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaSettings(Section):
    bootstrap_servers: str = Field(min_length=1)
    topic_prefix: str = ""
    partitions: int = Field(ge=1, le=1000)
    replication_factor: int = Field(ge=1, le=10)
    client_id: str = "tingjian"
    request_timeout_ms: int = Field(ge=1000)
    # How long a client waits for a first broker, and the ceiling of its
    # reconnect backoff: kafka-python's 30 s defaults meant every command hung
    # 30 s with Kafka down and recovery took 20-50 s after it came back.
    bootstrap_timeout_ms: int = Field(default=5000, ge=100)
    reconnect_backoff_max_ms: int = Field(default=1000, ge=50)


class PostgresSettings(Section):
    dsn: str = Field(min_length=1)


# 0 picks a free port (tests); each service has its own key, no offsets.
MetricsPort = Annotated[int, Field(ge=0, le=65535)]


class ConsumerSettings(Section):
    group_id: str = Field(min_length=1)
    batch_size: int = Field(ge=1, le=100_000)
    poll_timeout_ms: int = Field(ge=10, le=60_000)
    metrics_port: MetricsPort


class TriageSettings(ConsumerSettings):
    model_path: str
    review_threshold: float = Field(ge=0, le=1)
    spam_min_confidence: float = Field(default=0.6, ge=0, le=1)
    dedup_window_days: int = Field(ge=0, le=3650)
    incident_threshold: int = Field(ge=2)
    incident_window_minutes: int = Field(ge=1)
    # An incident with this many customers within the window is P1.
    incident_p1_count: int = Field(default=10, ge=2)
    heads: list[str] = Field(default_factory=lambda: ["type", "priority", "sentiment"])
    # The model registry (tingjian model list|promote|rollback); promote
    # materialises the live version at model_path, which the workers follow.
    registry_dir: str = ".run/models/registry"
    # A registered version run beside the live one, never affecting tickets:
    # its disagreements land in shadow_disagreements.
    shadow_version: str | None = None


class WebSettings(Section):
    host: str
    port: int = Field(ge=0, le=65535)
    max_body_bytes: int = Field(ge=1024)
    produce_timeout_s: float = Field(gt=0)
    # A request body not fully received by then is answered 408 (slow or stalled clients).
    body_timeout_s: float = Field(default=10.0, gt=0)
    # Browser posts from other sites must come from one of these origins.
    allowed_origins: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(ge=1)
    # Behind a reverse proxy: the header naming the client (X-Forwarded-For).
    trusted_proxy_header: str | None = None
    # Tell the customer the 反馈编号 at once (allocated in the CRM store).
    assign_numbers: bool = True


class ApiSettings(Section):
    """The ticket API and the agents' console (``tingjian api``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    max_body_bytes: int = Field(default=65_536, ge=1024)
    rate_limit_per_minute: int = Field(default=600, ge=1)


class SlaClockSettings(Section):
    """``tingjian sla watch``: how often it looks, and how early it warns."""

    interval_s: float = Field(default=30.0, gt=0)
    warn_before_minutes: int = Field(default=30, ge=0)
    metrics_port: MetricsPort = 9105


class WebhookTarget(Section):
    """One receiver: an external CRM or an IM bot."""

    url: str = Field(min_length=8)
    secret: str = Field(min_length=8)  # key of the X-Tingjian-Signature HMAC-SHA256
    kinds: list[str] = Field(default_factory=list)  # empty: every kind
    departments: list[str] = Field(default_factory=list)  # empty: every department


class WebhookSinkSettings(Section):
    """``tingjian sink webhook``: posts crm.notifications to the targets."""

    group_id: str = "tingjian-sink-webhook"
    batch_size: int = Field(default=100, ge=1, le=10_000)
    poll_timeout_ms: int = Field(default=1000, ge=10, le=60_000)
    metrics_port: MetricsPort = 9106
    timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_base_s: float = Field(default=0.2, ge=0)
    backoff_max_s: float = Field(default=5.0, ge=0)
    # After this many deliveries in a row fail, a target's circuit opens: the
    # sink stops (offsets stay) and retries after the cooldown.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, ge=0)
    targets: dict[str, WebhookTarget] = Field(default_factory=dict)


class EmailSettings(Section):
    host: str
    port: int = Field(ge=1, le=65535)
    ssl: bool = False
    username: str
    password: str
    mailbox: str = "INBOX"
    # What happens to a mail once its item is in Kafka: flag it \\Seen, move
    # it to processed_folder, or leave it (the checkpoint alone then guards).
    processed_action: Literal["flag", "move", "none"] = "flag"
    processed_folder: str = "Processed"
    poll_interval_s: float = Field(gt=0)
    batch_size: int = Field(ge=1, le=1000)
    max_bytes: int = Field(ge=1024)
    max_parts: int = Field(ge=1)
    max_depth: int = Field(ge=1)
    metrics_port: MetricsPort


class GenericMapping(Section):
    items_path: str = "items"
    id_path: str = "id"
    text_path: str = "text"
    created_at_path: str | None = "created_at"
    author_path: str = "author"
    next_cursor_path: str | None = "next_cursor"
    cursor_param: str = "cursor"
    page_size_param: str = "count"
    thread_param: str | None = None


class SocialSourceSettings(Section):
    adapter: Literal["weibo", "wechat", "generic"]
    base_url: str = Field(min_length=1)
    access_token: str = ""
    # Weibo: status ids; WeChat: "msg_data_id:index"; generic: optional thread ids.
    threads: list[str] = Field(default_factory=list)
    channel: Literal["social", "app_review"] = "social"
    page_size: int = Field(default=50, ge=1, le=200)
    max_pages: int = Field(default=20, ge=1)
    poll_interval_s: float = Field(default=30.0, gt=0)
    request_timeout_s: float = Field(default=15.0, gt=0)
    max_backoff_s: float = Field(default=300.0, gt=0)
    metrics_port: int = Field(default=9104, ge=0, le=65535)
    mapping: GenericMapping = GenericMapping()


class ReportSettings(Section):
    """复盘 reports (reports/): what counts as a spike and how recurring issues are grouped."""

    spike_rise: float = Field(default=0.5, gt=0)  # relative rise vs the previous period
    spike_min_count: int = Field(default=5, ge=1)  # so that 2 -> 3 is not a spike
    top_clusters: int = Field(default=5, ge=1, le=20)
    cluster_sample: int = Field(default=20_000, ge=100)  # summaries clustered per period
    trend_weeks: int = Field(default=8, ge=2, le=52)
    examples_per_cluster: int = Field(default=3, ge=1, le=5)


class MetricsSettings(Section):
    host: str


class BusinessSettings(Section):
    timezone: str
    ticket_number_format: str
    taxonomy_file: str | None = None
    priority_file: str | None = None
    routing_file: str | None = None
    sla_file: str | None = None
    holidays_file: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("ticket_number_format")
    @classmethod
    def _format_works(cls, v: str) -> str:
        try:
            sample = v.format(date=date(2023, 10, 1), seq=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"cannot format with date and seq: {exc}") from exc
        if sample == v.format(date=date(2023, 10, 1), seq=2):
            raise ValueError("must contain {seq}")
        return v


class ModelGateSettings(Section):
    """The promotion gate and the drift check (``tingjian model promote|drift``)."""

    # A head's macro-F1 may drop by at most this much; P1 recall may not drop at all.
    gate_margin: float = Field(default=0.01, ge=0, le=1)
    # Corrections of the last N days are the gate's second test set.
    corrections_days: int = Field(default=30, ge=1)
    # Total variation distance between a head's label distribution of the last
    # week and the training data's beyond which `model drift` reports a shift.
    drift_threshold: float = Field(default=0.15, gt=0, le=1)


class PrivacySettings(Section):
    hash_key: str = Field(min_length=8)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TINGJIAN_",
        env_nested_delimiter="__",
        extra="forbid",
        yaml_file=[DEFAULT_SETTINGS_FILE],
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    kafka: KafkaSettings
    postgres: PostgresSettings
    triage: TriageSettings
    sink: ConsumerSettings
    web: WebSettings
    api: ApiSettings = Field(default_factory=ApiSettings)
    sla_clock: SlaClockSettings = Field(default_factory=SlaClockSettings)
    webhook: WebhookSinkSettings = Field(default_factory=WebhookSinkSettings)
    email: EmailSettings
    social: dict[str, SocialSourceSettings] = Field(default_factory=dict)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    metrics: MetricsSettings
    business: BusinessSettings
    privacy: PrivacySettings
    models: ModelGateSettings = Field(default_factory=ModelGateSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files: list[Path] = [DEFAULT_SETTINGS_FILE]
        user_file = os.environ.get("TINGJIAN_CONFIG")
        if user_file:
            files.append(Path(user_file))
        # YAML files are deep-merged, later ones win; env and flags come on top.
        yaml = YamlConfigSettingsSource(settings_cls, yaml_file=files, deep_merge=True)
        return (init_settings, env_settings, yaml)


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Build settings; raise ConfigError (one line) on the first invalid key.

    ``overrides`` are command-line flags, nested like the YAML
    (``{"kafka": {"bootstrap_servers": ...}}``).
    """
    user_file = os.environ.get("TINGJIAN_CONFIG")
    if user_file and not Path(user_file).is_file():
        raise ConfigError(f"TINGJIAN_CONFIG: file not found: {user_file}")
    try:
        return Settings(**_deep_merge_env(overrides or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{_key(err['loc'])}: {err['msg']}{more}") from exc
    except (OSError, ValueError) as exc:  # unreadable or malformed YAML
        raise ConfigError(f"config file: {exc}".splitlines()[0]) from exc


def _deep_merge_env(overrides: dict[str, Any]) -> dict[str, Any]:
    """Flags given per section must not wipe the section's other keys.

    pydantic-settings replaces a whole nested model given as an init kwarg, so
    we pre-merge: build settings without flags, then merge the flags in.
    """
    if not overrides:
        return {}
    base = Settings().model_dump()  # type: ignore[call-arg]  # values come from the sources
    return _merge(base, overrides)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out
