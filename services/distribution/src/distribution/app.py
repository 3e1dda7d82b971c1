"""The distribution service's Flask app: ``gunicorn 'distribution.app:create_app()'`` on port 8006."""

from __future__ import annotations

from flask import Flask

from distribution.api.admin import blp as admin_blp
from distribution.api.internal import blp as internal_blp
from distribution.api.oauth import TOKEN_URL
from distribution.api.oauth import blp as oauth_blp
from distribution.api.retailer import blp as retailer_blp
from distribution.api.retailer_auth import RETAILER_SECURITY_SCHEME
from distribution.context import Distribution
from distribution.retailer_tokens import TOKEN_SCOPE
from distribution.settings import Settings, get_settings
from gamekeys_platform.app import create_service_app


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    dist = Distribution.from_settings(settings)
    app = create_service_app(
        settings,
        title="Distribution",
        blueprints=[admin_blp, oauth_blp, retailer_blp, internal_blp],
        # Kafka is not a readiness dependency: events wait in the outbox while the broker is down.
        ready_checks={"database": dist.db.ping},
        security_schemes={
            RETAILER_SECURITY_SCHEME: {
                "type": "oauth2",
                "description": "Retailer tokens from the client credentials grant (RFC 6749 §4.4); "
                "never the platform's bearer JWT",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": TOKEN_URL,
                        "scopes": {TOKEN_SCOPE: "the retailer's own keys, sales and returns"},
                    }
                },
            },
            # The token endpoint's client authentication (or client_id/client_secret in the form).
            "basicAuth": {"type": "http", "scheme": "basic"},
        },
    )
    dist.db.init_app(app)
    app.extensions["distribution"] = dist
    return app
