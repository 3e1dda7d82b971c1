"""game-builds' Flask app: ``gunicorn 'game_builds.app:create_app()'`` on port 8002."""

from __future__ import annotations

from flask import Flask

from game_builds.api import media, versions
from game_builds.api.access import API_KEY_SCHEME, API_KEY_SECURITY_SCHEME
from game_builds.context import GameBuilds
from game_builds.settings import Settings, get_settings
from gamekeys_platform.app import create_service_app
from gamekeys_platform.auth import init_opaque_tokens


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    gb = GameBuilds.from_settings(settings)
    app = create_service_app(
        settings,
        title="Game Builds",
        blueprints=[versions.blp, media.blp],
        # Kafka is not a readiness dependency (events wait in the outbox); S3 is checked per call.
        ready_checks={"database": gb.db.ping},
        security_schemes={API_KEY_SCHEME: API_KEY_SECURITY_SCHEME},
    )
    # CI credentials (Bearer gkp_… / gkpt_…) besides the platform's JWTs.
    init_opaque_tokens(app, gb.keys)
    gb.db.init_app(app)
    app.extensions["game_builds"] = gb
    return app
