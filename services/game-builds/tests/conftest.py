"""game-builds on a fresh database (migrated with Alembic), the real SeaweedFS S3 and clamd, and
a studio factory that feeds the developer.events projection the way the consumer does."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from game_builds.app import create_app
from game_builds.settings import get_settings
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import free_port

SERVICE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # gb_testkit

from gb_testkit import S3_ENV, new_studio, remove_bucket  # noqa: E402


@pytest.fixture(scope="session")
def settings(platform_env, postgres_url, run_id):
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return get_settings(
        **platform_env,
        **S3_ENV,
        builds_bucket=f"test-builds-{uuid.uuid4().hex[:12]}",
        builds_events_topic=f"test.gb.{uuid.uuid4().hex[:8]}.builds.events",
        build_max_size_bytes=64 * 1024 * 1024,
        build_min_part_size_bytes=5 * 1024 * 1024,  # SeaweedFS refuses smaller parts (but the last)
        build_first_part_urls=2,
        build_retry_backoff_seconds=0.1,
        # Nothing listens here: tests of CI keys start a real developer-portal and point an app at it.
        developer_portal_url=f"http://127.0.0.1:{free_port()}",
    )


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    state = application.extensions["game_builds"]
    remove_bucket(state.store.client, settings.builds_bucket)
    state.db.dispose()


@pytest.fixture(scope="session")
def gb(app):
    return app.extensions["game_builds"]


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def studio(gb, make_token):
    return new_studio(gb, make_token)
