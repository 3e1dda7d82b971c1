"""What a request or the worker needs besides the session: settings, database, outbox, the
key-manager, antifraud and (optional) User Service clients, the lockout limiter, IP data,
trusted proxies and the snapshot of blocks in force.

The other services are typed as the small Protocols below, so a unit test builds a ``Gateway``
with plain fakes (``tests/unit``) and runs the use cases without their apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from activation_gateway.blocklist import BlockList
from activation_gateway.clients import (
    SCOPES,
    USER_SERVICE_SCOPE,
    AntifraudClient,
    KeyManagerClient,
    UserServiceClient,
)
from activation_gateway.db.tables import metadata
from activation_gateway.domain.addresses import parse_networks
from activation_gateway.domain.lockout import LockoutRule, parse_rules
from activation_gateway.domain.redemption import Account
from activation_gateway.settings import Settings
from gamekeys_platform.db import Database
from gamekeys_platform.geoip import IpIntelligence
from gamekeys_platform.outbox import Outbox
from gamekeys_platform.ratelimit import RateLimiter
from gamekeys_platform.service_tokens import ServiceTokenProvider

SOURCE = "activation-gateway"


class KeyManager(Protocol):
    """key-manager's internal API (``KeyManagerClient``). Its §3 refusals (KEY_NOT_FOUND,
    KEY_ALREADY_ACTIVATED, CONFLICT, ...) are raised as ``clients.KeyManagerRefusal``."""

    def lookup(self, *, key: str | None = None, key_id: str | None = None) -> dict: ...

    def hold(self, key_id: str, hold_id: str, reason: str) -> dict: ...

    def release(self, key_id: str, hold_id: str, reason: str) -> dict: ...

    def activate(
        self, key_id: str, *, user_id: str, activation_id: str, user_region: str, hold_id: str | None = None
    ) -> dict: ...

    def key_info_as(self, key_id: str, authorization: str) -> dict | None: ...


class Antifraud(Protocol):
    """antifraud's analyze (``AntifraudClient``): the FraudScore, or None when unavailable."""

    def analyze(self, body: dict[str, Any], *, idempotency_key: str | None) -> dict | None: ...


class UserService(Protocol):
    """The platform User Service (``UserServiceClient``): the account, or None when unavailable."""

    def account(self, user_id: str) -> Account | None: ...


@dataclass
class Gateway:
    settings: Settings
    db: Database
    outbox: Outbox
    key_manager: KeyManager
    antifraud: Antifraud
    user_service: UserService | None
    limiter: RateLimiter
    lockout_rules: tuple[LockoutRule, ...]
    geoip: IpIntelligence
    trusted_proxies: tuple
    block_list: BlockList

    @classmethod
    def from_settings(cls, settings: Settings) -> Gateway:
        db = Database.from_settings(settings, metadata=metadata)
        scopes = f"{SCOPES} {USER_SERVICE_SCOPE}" if settings.user_service_url else SCOPES
        tokens = ServiceTokenProvider.from_settings(settings, scope=scopes)
        return cls(
            settings=settings,
            db=db,
            outbox=Outbox(db, SOURCE, topic=settings.activations_events_topic),
            key_manager=KeyManagerClient.from_settings(settings, tokens),
            antifraud=AntifraudClient.from_settings(settings, tokens),
            user_service=UserServiceClient.from_settings(settings, tokens),
            # Lockouts protect the key space: with Redis down, redemption fails closed (503).
            limiter=RateLimiter(
                lockout_redis(settings.redis_url),
                fail_open=False,
                key_prefix="activation-gateway:rl",
            ),
            lockout_rules=parse_rules(settings.redeem_lockout_rules),
            geoip=IpIntelligence.from_settings(settings, settings.activation_ip_ranges_file),
            trusted_proxies=parse_networks(settings.trusted_proxies),
            block_list=BlockList(db, refresh_seconds=settings.blocks_refresh_seconds),
        )


def lockout_redis(url: str) -> redis.Redis:
    """A blocking pool (a burst waits briefly for a connection instead of failing) that gives up
    fast when Redis is down (one retry, no backoff): the lockout then fails closed at once."""
    return redis.Redis(
        connection_pool=redis.BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=2,
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 1),
        )
    )


def gateway() -> Gateway:
    return current_app.extensions["activation_gateway"]
