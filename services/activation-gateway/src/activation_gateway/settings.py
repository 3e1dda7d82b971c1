"""The activation gateway's configuration: the platform's variables plus its own (README lists them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from activation_gateway.domain.addresses import parse_networks
from activation_gateway.domain.lockout import DEFAULT_RULES, parse_rules
from activation_gateway.domain.redemption import UnavailablePolicy
from gamekeys_platform.geoip import GeoipSettings, IpRanges
from gamekeys_platform.settings import load_settings


class Settings(GeoipSettings):
    service_name: str = Field(default="activation-gateway", min_length=1, max_length=64)

    # key-manager's internal API (lookup, hold/release, activate) and public key info.
    key_manager_url: str = Field(pattern=r"^https?://")
    key_manager_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # antifraud's analyze: a short timeout, then the unavailable policy applies.
    antifraud_url: str = Field(pattern=r"^https?://")
    antifraud_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    antifraud_unavailable_policy: UnavailablePolicy = UnavailablePolicy.HOLD
    # The platform User Service (optional, unset: not asked): account status at step 5, a short
    # timeout, and on any failure the redemption goes on to antifraud (README explains why).
    user_service_url: str | None = Field(default=None, pattern=r"^https?://")
    user_service_timeout_seconds: float = Field(default=0.3, gt=0, le=10)
    # The user token's claim with the account's creation time (NumericDate or ISO 8601), sent to
    # antifraud as accountCreatedAt for its account-age feature.
    account_created_claim: str = Field(default="account_created_at", min_length=1, max_length=64)
    # Re-assess holds made while antifraud was down, after this many seconds (worker).
    reassess_after_seconds: int = Field(default=60, ge=1)

    # Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs; empty: none).
    trusted_proxies: str = ""
    # The operator's own IP ranges (cidr,country,kind) for the region / VPN check, before
    # MaxMind's and the packaged data (gamekeys_platform.geoip, GEOIP_* variables); unset: none.
    activation_ip_ranges_file: Path | None = None
    # Brute-force lockout rules, dimension:limit/window_seconds (see domain/lockout.py).
    redeem_lockout_rules: str = DEFAULT_RULES

    # How stale the in-memory snapshot of blocks in force may get before a reload (blocklist.py).
    blocks_refresh_seconds: float = Field(default=5.0, gt=0, le=3600)

    activations_events_topic: str = Field(default="activations.events", min_length=1)
    antifraud_events_topic: str = Field(default="antifraud.events", min_length=1)
    keys_events_topic: str = Field(default="keys.events", min_length=1)

    @model_validator(mode="after")
    def _valid(self):
        parse_networks(self.trusted_proxies)
        parse_rules(self.redeem_lockout_rules)
        if self.activation_ip_ranges_file is not None and not self.activation_ip_ranges_file.is_file():
            raise ValueError(
                f"ACTIVATION_IP_RANGES_FILE {self.activation_ip_ranges_file} is not a readable file"
            )
        if self.activation_ip_ranges_file is not None:
            try:
                IpRanges.from_file(self.activation_ip_ranges_file)
            except ValueError as exc:
                raise ValueError(f"ACTIVATION_IP_RANGES_FILE: {exc}") from None
        return self


def get_settings(**overrides) -> Settings:
    return load_settings(Settings, **overrides)
