"""Configuration from environment variables only, validated once at start-up.

Each service subclasses ``PlatformSettings`` with its own fields and loads it with
``load_settings``; a missing or malformed variable stops the process with one message
naming every variable at fault, instead of failing later on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """Raised at start-up when the environment does not describe a runnable service."""


DEFAULT_JWT_LEEWAY_SECONDS = 5


class PlatformSettings(BaseSettings):
    """What every service needs. Field ``database_url`` is read from ``DATABASE_URL``, and so on."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    service_name: str = Field(min_length=1, max_length=64)
    environment: Literal["local", "test", "staging", "production"] = "local"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str = Field(pattern=r"^postgresql(\+psycopg)?://")
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_statement_timeout_ms: int = Field(default=15_000, ge=100)
    redis_url: str = Field(pattern=r"^rediss?://")
    kafka_bootstrap_servers: str = Field(min_length=3)

    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = Field(min_length=1)
    jwt_algorithm_family: Literal["RS", "ES"] = "RS"
    jwt_public_key_file: Path | None = None
    jwt_jwks_url: str | None = None
    # Tolerated clock skew between the issuer and us on exp/iat/nbf: a token is still accepted
    # this many seconds after its exp.
    jwt_leeway_seconds: int = Field(default=DEFAULT_JWT_LEEWAY_SECONDS, ge=0, le=60)

    # How this service gets its own token for calls to other services: the platform Auth
    # service's client-credentials endpoint, or (local development) minting with the dev key.
    service_token_url: str | None = None
    service_client_id: str | None = None
    service_client_secret: str | None = None
    service_token_signing_key_file: Path | None = None

    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Where a worker process serves /metrics (unset: it serves none; the API has its own route).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    idempotency_ttl_hours: int = Field(default=24, ge=1)

    # Traces (gamekeys_platform.tracing): with a collector's OTLP/HTTP address here (e.g.
    # http://otel-collector:4318), spans are recorded and exported; unset, the trace context is
    # still propagated and logged, and nothing is recorded or exported. The sampler argument is
    # the share of new traces recorded (a caller's sampled flag is followed).
    otel_exporter_otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    otel_traces_sampler_arg: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("otel_exporter_otlp_endpoint", mode="before")
    @classmethod
    def _unset_when_empty(cls, value):
        return value or None

    @model_validator(mode="after")
    def _one_jwt_key_source(self):
        if (self.jwt_public_key_file is None) == (self.jwt_jwks_url is None):
            raise ValueError("set exactly one of JWT_PUBLIC_KEY_FILE and JWT_JWKS_URL")
        if self.jwt_public_key_file is not None and not self.jwt_public_key_file.is_file():
            raise ValueError(f"JWT_PUBLIC_KEY_FILE {self.jwt_public_key_file} is not a readable file")
        return self

    @property
    def kafka_servers(self) -> list[str]:
        return [server.strip() for server in self.kafka_bootstrap_servers.split(",") if server.strip()]


SettingsT = TypeVar("SettingsT", bound=PlatformSettings)


def load_settings(settings_class: type[SettingsT], **overrides) -> SettingsT:
    """Build settings from the environment (``overrides`` win, for tests) or raise ConfigError."""
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
            problem = "missing" if error["type"] == "missing" else error["msg"]
            problems.append(f"{variable}: {problem}")
        raise ConfigError(
            f"{settings_class.__name__} cannot start, fix the environment: " + "; ".join(problems)
        ) from None
