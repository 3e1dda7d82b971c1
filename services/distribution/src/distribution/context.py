"""What a request or the worker needs besides the session: settings, database, outbox,
key-manager client, retailer tokens and the secret hasher."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from argon2 import PasswordHasher
from flask import current_app

from distribution.db.tables import metadata
from distribution.key_manager_client import KeyManager, KeyManagerClient
from distribution.retailer_tokens import RetailerTokens
from distribution.settings import Settings
from gamekeys_platform.db import Database
from gamekeys_platform.outbox import Outbox
from gamekeys_platform.ratelimit import RateLimiter

SOURCE = "distribution"


@dataclass(frozen=True)
class Distribution:
    settings: Settings
    db: Database
    outbox: Outbox
    key_manager: KeyManager
    tokens: RetailerTokens
    hasher: PasswordHasher
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Distribution:
        db = Database.from_settings(settings, metadata=metadata)
        return cls(
            settings=settings,
            db=db,
            outbox=Outbox(db, SOURCE, topic=settings.distribution_events_topic),
            key_manager=KeyManagerClient.from_settings(settings),
            tokens=RetailerTokens.from_settings(settings),
            # Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, 64 MiB, p=4).
            hasher=PasswordHasher(),
            # Failed token requests are counted in Redis; with Redis down the endpoint keeps
            # working (a 256-bit secret is not guessable anyway), so fail open.
            limiter=RateLimiter(
                redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1),
                fail_open=True,
                key_prefix="distribution:rl",
            ),
        )


def distribution() -> Distribution:
    return current_app.extensions["distribution"]
