"""The key manager's Flask app: ``gunicorn 'key_manager.app:create_app()'`` on port 8003."""

from __future__ import annotations

from flask import Flask

from gamekeys_platform.app import create_service_app
from key_manager.api.internal import blp as internal_blp
from key_manager.api.leaks import blp as leaks_blp
from key_manager.api.provenance import blp as provenance_blp
from key_manager.api.quotas import blp as quotas_blp
from key_manager.api.routes import blp as public_blp
from key_manager.api.store import blp as store_blp
from key_manager.api.support import blp as support_blp
from key_manager.context import KeyManager
from key_manager.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    km = KeyManager.from_settings(settings)
    app = create_service_app(
        settings,
        title="Key Manager",
        blueprints=[public_blp, quotas_blp, internal_blp, store_blp, support_blp, leaks_blp, provenance_blp],
        # Kafka is not a readiness dependency: with the broker down the API keeps working and
        # events wait in the outbox.
        ready_checks={"database": km.db.ping},
    )
    km.db.init_app(app)
    app.extensions["key_manager"] = km
    return app
