"""Antifraud configuration: the platform's variables plus its own (the README lists them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from antifraud.domain.scoring import Thresholds
from gamekeys_platform.geoip import GeoipSettings, IpRanges
from gamekeys_platform.settings import load_settings


class Settings(GeoipSettings):
    service_name: str = Field(default="antifraud", min_length=1, max_length=64)

    antifraud_events_topic: str = Field(default="antifraud.events", min_length=1)
    activations_events_topic: str = Field(default="activations.events", min_length=1)
    keys_events_topic: str = Field(default="keys.events", min_length=1)

    # The operator's own IP ranges (cidr,country,kind), before MaxMind's and the packaged data
    # (gamekeys_platform.geoip; the GEOIP_* variables configure the rest); unset: none.
    antifraud_ip_ranges_file: Path | None = None
    # How often an instance checks for a new rule-set version (hot reload within 5 s).
    antifraud_rules_poll_seconds: float = Field(default=1.0, gt=0, le=5)
    # Redis keys of the velocity store start with this (tests use their own).
    antifraud_velocity_prefix: str = Field(default="af:", min_length=1, max_length=32)
    antifraud_redis_timeout_ms: int = Field(default=250, ge=10, le=5_000)

    # Score thresholds: levels and recommended actions.
    antifraud_level_medium: int = Field(default=30, ge=1, le=100)
    antifraud_level_high: int = Field(default=60, ge=1, le=100)
    antifraud_level_critical: int = Field(default=85, ge=1, le=100)
    antifraud_review_score: int = Field(default=40, ge=1, le=100)
    antifraud_block_score: int = Field(default=80, ge=1, le=100)

    @model_validator(mode="after")
    def _valid_thresholds_and_data(self):
        _ = self.thresholds  # raises ValueError naming the ordering rule
        if self.antifraud_ip_ranges_file is not None and not self.antifraud_ip_ranges_file.is_file():
            raise ValueError(
                f"ANTIFRAUD_IP_RANGES_FILE {self.antifraud_ip_ranges_file} is not a readable file"
            )
        if self.antifraud_ip_ranges_file is not None:
            try:
                IpRanges.from_file(self.antifraud_ip_ranges_file)
            except ValueError as exc:
                raise ValueError(f"ANTIFRAUD_IP_RANGES_FILE: {exc}") from None
        return self

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            medium=self.antifraud_level_medium,
            high=self.antifraud_level_high,
            critical=self.antifraud_level_critical,
            review=self.antifraud_review_score,
            block=self.antifraud_block_score,
        )


def get_settings(**overrides) -> Settings:
    return load_settings(Settings, **overrides)
