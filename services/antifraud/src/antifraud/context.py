"""What a request or the worker needs besides the session: settings, database, outbox,
Redis velocity store, IP data, the rule engine, the block list."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from antifraud.blocklist import BlockList
from antifraud.db.tables import metadata
from antifraud.engine import RuleEngine
from antifraud.settings import Settings
from antifraud.velocity import VelocityStore
from gamekeys_platform.db import Database
from gamekeys_platform.geoip import IpIntelligence
from gamekeys_platform.outbox import Outbox

SOURCE = "antifraud"


@dataclass(frozen=True)
class Antifraud:
    settings: Settings
    db: Database
    outbox: Outbox
    redis: redis.Redis
    velocity: VelocityStore
    geoip: IpIntelligence
    rules: RuleEngine
    blocks: BlockList

    @classmethod
    def from_settings(cls, settings: Settings) -> Antifraud:
        db = Database.from_settings(settings, metadata=metadata)
        timeout = settings.antifraud_redis_timeout_ms / 1000
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        velocity = VelocityStore(client, settings.antifraud_velocity_prefix)
        return cls(
            settings=settings,
            db=db,
            outbox=Outbox(db, SOURCE, topic=settings.antifraud_events_topic),
            redis=client,
            velocity=velocity,
            geoip=IpIntelligence.from_settings(settings, settings.antifraud_ip_ranges_file),
            rules=RuleEngine(poll_seconds=settings.antifraud_rules_poll_seconds),
            blocks=BlockList(velocity),
        )


def antifraud() -> Antifraud:
    return current_app.extensions["antifraud"]
