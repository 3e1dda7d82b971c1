"""What a request or the worker needs besides the session: settings, database, vault, outbox,
rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from gamekeys_platform.db import Database
from gamekeys_platform.outbox import Outbox
from gamekeys_platform.ratelimit import RateLimiter
from key_manager.clients.activation_gateway import ActivationGatewayClient, ActivationSource
from key_manager.clients.distribution import DistributionClient, DistributionSource
from key_manager.db.tables import metadata
from key_manager.domain.vault import KeyVault
from key_manager.settings import Settings

SOURCE = "key-manager"


@dataclass(frozen=True)
class KeyManager:
    settings: Settings
    db: Database
    vault: KeyVault
    outbox: Outbox
    limiter: RateLimiter
    # Read for a key's provenance; None when not configured.
    distribution: DistributionSource | None = None
    activations: ActivationSource | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyManager:
        db = Database.from_settings(settings, metadata=metadata)
        return cls(
            settings=settings,
            db=db,
            vault=KeyVault(
                pepper=settings.lookup_pepper,
                encryption_keys=settings.encryption_keys,
                active_key_id=settings.key_encryption_active_key_id,
            ),
            outbox=Outbox(db, SOURCE, topic=settings.keys_events_topic),
            # With Redis down /validate keeps answering (fail open): it tells a caller nothing
            # about keys it is not entitled to, so the limit guards load more than secrets.
            limiter=RateLimiter(
                redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1),
                fail_open=True,
                key_prefix="key-manager:rl",
            ),
            distribution=DistributionClient.from_settings(settings) if settings.distribution_url else None,
            activations=(
                ActivationGatewayClient.from_settings(settings) if settings.activation_gateway_url else None
            ),
        )


def key_manager() -> KeyManager:
    return current_app.extensions["key_manager"]
