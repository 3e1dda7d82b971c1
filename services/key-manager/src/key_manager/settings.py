"""The key manager's configuration: the platform's variables plus its own (README lists them)."""

from __future__ import annotations

import base64
import binascii
import re

from pydantic import Field, SecretStr, model_validator

from gamekeys_platform.settings import PlatformSettings, load_settings

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class Settings(PlatformSettings):
    service_name: str = Field(default="key-manager", min_length=1, max_length=64)

    # "id:base64(32 bytes),id2:..." — every key id still used by stored keys must stay listed.
    key_encryption_keys: SecretStr
    key_encryption_active_key_id: str = Field(pattern=_KEY_ID.pattern)
    # HMAC-SHA256 pepper of the lookup hashes: at least 32 characters; never rotated casually,
    # since every stored lookup hash depends on it.
    key_lookup_pepper: SecretStr = Field(min_length=32)

    keys_events_topic: str = Field(default="keys.events", min_length=1)
    developer_events_topic: str = Field(default="developer.events", min_length=1)
    key_batch_lease_seconds: int = Field(default=300, ge=10)
    key_batch_max_attempts: int = Field(default=3, ge=1, le=10)
    key_batch_poll_seconds: float = Field(default=2.0, gt=0)
    key_expiry_interval_seconds: float = Field(default=60.0, gt=0)
    key_metadata_max_bytes: int = Field(default=4096, ge=256, le=65536)
    # POST /validate: at most this many calls per caller (token subject) in the window.
    key_validate_rate_limit: int = Field(default=60, ge=1, le=100_000)
    key_validate_rate_window_seconds: float = Field(default=60.0, ge=1, le=86_400)
    # A store order that leaves fewer free keys of its game and key type emits store.stock_low.
    key_store_low_stock_threshold: int = Field(default=10, ge=1, le=100_000)

    # A key's provenance also reads distribution (channel, sale, return, chargeback) and
    # activation-gateway (the activation and its fraud outcome); unset: answered without them.
    distribution_url: str | None = Field(default=None, pattern=r"^https?://")
    activation_gateway_url: str | None = Field(default=None, pattern=r"^https?://")
    provenance_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # POST /provenance/lookup (support pasting a key): at most this many per caller per window.
    key_lookup_rate_limit: int = Field(default=30, ge=1, le=100_000)
    key_lookup_rate_window_seconds: float = Field(default=3600.0, ge=1, le=86_400)

    @model_validator(mode="after")
    def _encryption_keys_parse(self):
        keys = self.encryption_keys  # raises ValueError with a clear message
        if self.key_encryption_active_key_id not in keys:
            raise ValueError("KEY_ENCRYPTION_ACTIVE_KEY_ID names a key id absent from KEY_ENCRYPTION_KEYS")
        return self

    @property
    def encryption_keys(self) -> dict[str, bytes]:
        return parse_encryption_keys(self.key_encryption_keys.get_secret_value())

    @property
    def lookup_pepper(self) -> bytes:
        return self.key_lookup_pepper.get_secret_value().encode()


def parse_encryption_keys(text: str) -> dict[str, bytes]:
    """``k1:<base64>,k2:<base64>`` -> {"k1": 32 bytes, ...}; the message never shows key material."""
    keys: dict[str, bytes] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        key_id, separator, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not separator or not _KEY_ID.match(key_id):
            raise ValueError("KEY_ENCRYPTION_KEYS must look like id1:<base64 of 32 bytes>,id2:...")
        if key_id in keys:
            raise ValueError(f"KEY_ENCRYPTION_KEYS lists key id {key_id} twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"KEY_ENCRYPTION_KEYS: key {key_id} is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"KEY_ENCRYPTION_KEYS: key {key_id} must decode to 32 bytes (AES-256)")
        keys[key_id] = key
    if not keys:
        raise ValueError("KEY_ENCRYPTION_KEYS is empty")
    return keys


def get_settings(**overrides) -> Settings:
    return load_settings(Settings, **overrides)
