"""The developer portal's Flask app: ``gunicorn 'developer_portal.app:create_app()'``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from developer_portal.api.routes import BLUEPRINTS
from developer_portal.db.tables import metadata
from developer_portal.settings import Settings
from gamekeys_platform.app import create_service_app
from gamekeys_platform.db import Database
from gamekeys_platform.outbox import Outbox
from gamekeys_platform.settings import load_settings

EVENT_SOURCE = "developer-portal"  # publishes to developer.events


@dataclass(frozen=True)
class PortalState:
    settings: Settings
    db: Database
    outbox: Outbox


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings(Settings)
    db = Database.from_settings(settings, metadata=metadata)
    # Readiness is the database only: events wait in the outbox while Kafka is away, and the
    # API uses no Redis, so neither outage should take the API out of rotation.
    app = create_service_app(
        settings, title="Developer portal", blueprints=BLUEPRINTS, ready_checks={"database": db.ping}
    )
    db.init_app(app)
    app.extensions["developer_portal"] = PortalState(settings, db, Outbox(db, source=EVENT_SOURCE))
    return app
