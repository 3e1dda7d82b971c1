"""The distribution service's configuration: the platform's variables plus its own (README lists them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from gamekeys_platform.settings import PlatformSettings, load_settings


class Settings(PlatformSettings):
    service_name: str = Field(default="distribution", min_length=1, max_length=64)

    # key-manager's internal API (allocate, list an allocation's keys, sell, return).
    key_manager_url: str = Field(pattern=r"^https?://")
    key_manager_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    # The retailer API's own tokens: signed by this service with its RS256 private key, checked
    # on /retailer/* with the public half; issuer and audience differ from the platform's, so a
    # platform token is never a retailer token and vice versa.
    retailer_token_signing_key_file: Path
    retailer_token_issuer: str = Field(default="gamekeys-distribution", min_length=1)
    retailer_token_audience: str = Field(default="gamekeys-retailer-api", min_length=1)
    retailer_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    # Failed client authentications per client id (and per address) in a minute before 429.
    retailer_token_failures_per_minute: int = Field(default=10, ge=1)

    # Allocations key-manager reserved but this service never recorded are given back after
    # this long without a retry (far above any request's time: key-manager calls time out in
    # seconds), checked every interval by the worker.
    orphaned_allocation_after_seconds: float = Field(default=600, ge=0)
    orphaned_allocation_interval_seconds: float = Field(default=60, gt=0)

    keys_events_topic: str = Field(default="keys.events", min_length=1)
    developer_events_topic: str = Field(default="developer.events", min_length=1)
    distribution_events_topic: str = Field(default="distribution.events", min_length=1)

    @model_validator(mode="after")
    def _signing_key_readable(self):
        if not self.retailer_token_signing_key_file.is_file():
            raise ValueError(
                f"RETAILER_TOKEN_SIGNING_KEY_FILE {self.retailer_token_signing_key_file} "
                "is not a readable file"
            )
        return self


def get_settings(**overrides) -> Settings:
    return load_settings(Settings, **overrides)
