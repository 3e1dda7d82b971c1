from __future__ import annotations

import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

sys.path.insert(0, str(Path(__file__).parent))

import sample_service
from sample_service import events as sample_events

from gamekeys_platform.app import create_service_app
from gamekeys_platform.db import Database
from gamekeys_platform.outbox import Outbox
from gamekeys_platform.settings import PlatformSettings, load_settings
from gamekeys_platform.testing import serving


@pytest.fixture(scope="session")
def migrated_url(postgres_url: str) -> str:
    config = Config()
    config.set_main_option("script_location", str(Path(sample_service.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", postgres_url)
    command.upgrade(config, "head")
    return postgres_url


@pytest.fixture(scope="session")
def settings(platform_env, migrated_url) -> PlatformSettings:
    return load_settings(PlatformSettings, service_name="sample-service", **platform_env)


@pytest.fixture(scope="session")
def db(settings) -> Database:
    database = Database.from_settings(settings, metadata=sample_service.metadata)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app(settings, db):
    sample_service.app_state["outbox"] = Outbox(db, source=sample_events.SOURCE, topic=sample_events.TOPIC)
    application = create_service_app(
        settings, title="Sample service", blueprints=[sample_service.blp], ready_checks={"database": db.ping}
    )
    db.init_app(application)
    return application


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app):
    """The app on a real threaded HTTP server, for tests of concurrent requests."""
    with serving(app) as url:
        yield url
