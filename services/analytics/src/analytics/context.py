"""The composition root: settings, the PostgreSQL database (the studio projection) and ClickHouse
(the events and the reports)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from analytics.db.clickhouse import ClickHouse
from analytics.db.tables import metadata
from analytics.settings import Settings
from gamekeys_platform.db import Database


@dataclass(frozen=True)
class Analytics:
    settings: Settings
    db: Database
    clickhouse: ClickHouse

    @classmethod
    def from_settings(cls, settings: Settings) -> Analytics:
        return cls(
            settings=settings,
            db=Database.from_settings(settings, metadata=metadata),
            clickhouse=ClickHouse.from_settings(settings),
        )


def analytics() -> Analytics:
    return current_app.extensions["analytics"]
