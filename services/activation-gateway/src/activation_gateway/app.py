"""The activation gateway's Flask app: ``gunicorn 'activation_gateway.app:create_app()'`` on port 8004."""

from __future__ import annotations

from flask import Flask

from activation_gateway.api.internal import blp as internal_blp
from activation_gateway.api.routes import blp
from activation_gateway.api.support import support
from activation_gateway.context import Gateway
from activation_gateway.settings import Settings, get_settings
from gamekeys_platform.app import create_service_app


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    gw = Gateway.from_settings(settings)

    def redis_ready() -> None:
        gw.limiter._redis.ping()

    app = create_service_app(
        settings,
        title="Activation Gateway",
        blueprints=[blp, internal_blp, support],
        # Redis is a readiness dependency (lockouts fail closed); Kafka is not (the outbox waits).
        # The IP data check never fails: it shows each source's data date and staleness.
        ready_checks={"database": gw.db.ping, "redis": redis_ready, "geoip": gw.geoip.data_status},
    )
    gw.db.init_app(app)
    app.extensions["activation_gateway"] = gw
    return app
