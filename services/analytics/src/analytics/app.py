"""The analytics service's Flask app: ``gunicorn 'analytics.app:create_app()'`` on port 8007."""

from __future__ import annotations

from flask import Flask

from analytics.api.fraud import blp as fraud_blp
from analytics.api.funnels import blp as funnels_blp
from analytics.api.internal import blp as internal_blp
from analytics.api.keys import blp as keys_blp
from analytics.api.keys import internal_blp as internal_keys_blp
from analytics.api.reports import blp as reports_blp
from analytics.api.series import blp as series_blp
from analytics.context import Analytics
from analytics.db.clickhouse import ClickHouseUnavailable
from analytics.settings import Settings, get_settings
from gamekeys_platform.app import create_service_app
from gamekeys_platform.errors import service_unavailable


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    ctx = Analytics.from_settings(settings)
    app = create_service_app(
        settings,
        title="Analytics",
        blueprints=[
            reports_blp,
            series_blp,
            funnels_blp,
            keys_blp,
            fraud_blp,
            internal_blp,
            internal_keys_blp,
        ],
        # Kafka is not a readiness dependency: the reports answer while ingestion waits.
        ready_checks={"database": ctx.db.ping, "clickhouse": ctx.clickhouse.ping},
    )

    @app.errorhandler(ClickHouseUnavailable)
    def clickhouse_unavailable(_exc):
        # Rendered by the platform's ApiError handler: §3's body, 503 with Retry-After.
        return app.handle_user_exception(service_unavailable("the event store is unavailable, retry later"))

    ctx.db.init_app(app)
    app.extensions["analytics"] = ctx
    return app
