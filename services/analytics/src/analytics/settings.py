"""The analytics service's configuration: the platform's variables plus its own (README lists them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gamekeys_platform.events import TOPIC_BY_SOURCE
from gamekeys_platform.settings import PlatformSettings, load_settings


class ClickHouseSettings(BaseSettings):
    """All the ClickHouse migrations need (``make migrate`` has no JWT or Kafka settings)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # ClickHouse's native protocol (clickhouses:// for TLS); the database named in the URL is
    # ignored: the service's tables live in CLICKHOUSE_DATABASE, which its migrations create.
    clickhouse_url: str = Field(pattern=r"^clickhouses?://")
    clickhouse_database: str = Field(default="analytics", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    clickhouse_timeout_seconds: float = Field(default=10.0, gt=0, le=300)


class Settings(PlatformSettings, ClickHouseSettings):
    service_name: str = Field(default="analytics", min_length=1, max_length=64)

    # The topics of ARCHITECTURE.md §4, one variable each (tests give them names of their own).
    developer_events_topic: str = Field(default=TOPIC_BY_SOURCE["developer-portal"], min_length=1)
    builds_events_topic: str = Field(default=TOPIC_BY_SOURCE["game-builds"], min_length=1)
    keys_events_topic: str = Field(default=TOPIC_BY_SOURCE["key-manager"], min_length=1)
    activations_events_topic: str = Field(default=TOPIC_BY_SOURCE["activation-gateway"], min_length=1)
    antifraud_events_topic: str = Field(default=TOPIC_BY_SOURCE["antifraud"], min_length=1)
    distribution_events_topic: str = Field(default=TOPIC_BY_SOURCE["distribution"], min_length=1)
    payments_events_topic: str = Field(default=TOPIC_BY_SOURCE["payment-service"], min_length=1)

    # Ingestion: a batch is written when it holds this many events or is this old, whichever
    # comes first; a failed insert is retried after the backoff, the batch kept.
    ingest_batch_size: int = Field(default=50_000, ge=1, le=100_000)
    ingest_batch_seconds: float = Field(default=1.0, gt=0, le=60)
    ingest_retry_backoff_seconds: float = Field(default=2.0, gt=0, le=300)

    # The aggregator (aggregates.py): a pass every interval, reading the change log from its last
    # position less the margin (longer than an insert takes, so none is missed half-finished).
    aggregate_interval_seconds: float = Field(default=1.0, gt=0, le=300)
    aggregate_margin_seconds: float = Field(default=5.0, ge=0, le=3600)

    @property
    def ingest_topics(self) -> list[str]:
        return [
            self.developer_events_topic,
            self.builds_events_topic,
            self.keys_events_topic,
            self.activations_events_topic,
            self.antifraud_events_topic,
            self.distribution_events_topic,
            self.payments_events_topic,
        ]


def get_settings(**overrides) -> Settings:
    return load_settings(Settings, **overrides)
