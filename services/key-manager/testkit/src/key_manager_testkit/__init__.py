"""key-manager for tests, its own and other services': a pytest plugin (registered by this
package's pyproject.toml) with the fixtures ``km_app`` and ``km_url`` of its real app on the test
database, and helpers that seed a studio's game into its projection as developer.events would.

Test support only, outside the service's production package; it migrates from the source
checkout's alembic.ini.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import seed_studio_game, serving
from key_manager.app import create_app
from key_manager.context import KeyManager
from key_manager.db.tables import studio_projection
from key_manager.settings import get_settings

ALEMBIC_INI = Path(__file__).resolve().parents[3] / "alembic.ini"  # services/key-manager/


@pytest.fixture(scope="session")
def km_app(platform_env: dict[str, Any], postgres_url: str) -> Iterator[Flask]:
    """A migrated key-manager on the test database with fresh secrets, publishing (when relayed)
    to a keys topic of its own (``km_app.extensions["key_manager"].settings.keys_events_topic``)."""
    upgrade_to_head(ALEMBIC_INI, postgres_url)
    settings = get_settings(
        **{**platform_env, "database_url": postgres_url},
        key_encryption_keys=f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        key_encryption_active_key_id="k1",
        key_lookup_pepper=secrets.token_urlsafe(32),
        keys_events_topic=f"test.km.{uuid.uuid4().hex[:8]}.keys.events",
        database_pool_size=10,
    )
    app = create_app(settings)
    yield app
    app.extensions["key_manager"].db.dispose()


@pytest.fixture(scope="session")
def km_url(km_app: Flask) -> Iterator[str]:
    """``km_app`` served over real HTTP, for the service under test to call."""
    with serving(km_app) as url:
        yield url


def studio_with_game(
    km: KeyManager, *, members: tuple[str, ...] = (), verified: bool = True
) -> tuple[uuid.UUID, uuid.UUID, dict[str, str]]:
    """A studio with one game in ``km``'s projection, its admin plus a team member per role of
    ``members``: (developer id, game id, team role -> user id)."""
    return seed_studio_game(km.db, studio_projection, members=members, verified=verified)


def verified_studio_game(app: Flask) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A verified studio with one game, known to key-manager: (developer id, game id, admin user id)."""
    developer_id, game_id, users = studio_with_game(app.extensions["key_manager"])
    return developer_id, game_id, users["admin"]
