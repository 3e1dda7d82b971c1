"""The developer portal's Flask app: ``gunicorn 'developer_portal.app:create_app()'``."""

from __future__ import annotations

from flask import Flask

from developer_portal.api.routes import BLUEPRINTS
from developer_portal.context import PortalState
from developer_portal.db.tables import metadata
from developer_portal.settings import Settings
from gamekeys_platform.app import create_service_app
from gamekeys_platform.db import Database
from gamekeys_platform.settings import load_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings(Settings)
    db = Database.from_settings(settings, metadata=metadata)
    # Readiness is the database only: events wait in the outbox while Kafka is away, and the
    # API uses no Redis, so neither outage should take the API out of rotation.
    app = create_service_app(
        settings, title="Developer portal", blueprints=BLUEPRINTS, ready_checks={"database": db.ping}
    )
    db.init_app(app)
    app.extensions["developer_portal"] = PortalState.from_settings(settings, db)
    return app
