"""The antifraud Flask app: ``gunicorn 'antifraud.app:create_app()'`` on port 8005."""

from __future__ import annotations

from flask import Flask

from antifraud.api.routes import BLUEPRINTS
from antifraud.context import Antifraud
from antifraud.settings import Settings, get_settings
from gamekeys_platform.app import create_service_app


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    af = Antifraud.from_settings(settings)
    app = create_service_app(
        settings,
        title="Antifraud",
        blueprints=BLUEPRINTS,
        # Redis is not a readiness dependency: without it analyze scores in degraded mode.
        # Kafka neither: events wait in the outbox. The IP data check only reports its dates.
        ready_checks={"database": af.db.ping, "geoip": af.geoip.data_status},
    )
    af.db.init_app(app)
    app.extensions["antifraud"] = af
    return app
