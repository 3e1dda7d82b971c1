"""The key manager on a fresh database (migrated with Alembic), real Redis and Kafka, and a
studio factory that feeds the developer.events projection the way the consumer does."""

from __future__ import annotations

import base64
import secrets
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import serving
from key_manager.app import create_app
from key_manager.settings import get_settings
from key_manager_testkit import studio_with_game

SERVICE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # km_testkit


def b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="session")
def settings(platform_env, postgres_url):
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return get_settings(
        **platform_env,
        # Two encryption keys: k1 is "old" (rotation test), k2 is active.
        key_encryption_keys=f"k1:{b64key()},k2:{b64key()}",
        key_encryption_active_key_id="k2",
        key_lookup_pepper=secrets.token_urlsafe(32),
        keys_events_topic=f"test.km.{uuid.uuid4().hex[:8]}.keys.events",
        key_batch_poll_seconds=0.2,
        database_pool_size=10,
    )


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["key_manager"].db.dispose()


@pytest.fixture(scope="session")
def km(app):
    return app.extensions["key_manager"]


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app):
    with serving(app) as url:
        yield url


@dataclass
class Studio:
    developer_id: uuid.UUID
    game_id: uuid.UUID
    users: dict[str, str] = field(default_factory=dict)  # team role -> user id
    tokens: dict[str, str] = field(default_factory=dict)  # team role -> bearer header value

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def new_studio(km, make_token, *, verified: bool = True) -> Studio:
    """A studio with a member per team role and a game, in ``km``'s projection."""
    developer_id, game_id, users = studio_with_game(
        km, members=("developer", "marketing", "finance"), verified=verified
    )
    tokens = {role: make_token(sub=user, roles=("developer",)) for role, user in users.items()}
    return Studio(developer_id, game_id, users, tokens)


@pytest.fixture(scope="session")
def studio_in(make_token):
    """``studio_in(km)``: a studio in the projection of a key manager the test made itself."""
    return lambda km, *, verified=True: new_studio(km, make_token, verified=verified)


@pytest.fixture(scope="session")
def make_studio(km, studio_in):
    return lambda *, verified=True: studio_in(km, verified=verified)


@pytest.fixture()
def studio(make_studio) -> Studio:
    return make_studio()


@pytest.fixture(scope="session")
def service_auth(make_token):
    def auth(*scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(sub='test-service', roles=(), scopes=scopes)}"}

    return auth


@pytest.fixture(scope="session")
def admin_auth(make_token):
    return {"Authorization": f"Bearer {make_token(roles=('admin',))}"}


@pytest.fixture()
def gen(client):
    """``gen(studio, quantity=5, role="admin", **fields)``: POST /generate for the studio's game."""

    def generate(studio: Studio, quantity: int = 5, role: str = "admin", headers=None, **fields):
        body = {"gameId": str(studio.game_id), "keyType": "retail", "quantity": quantity, **fields}
        return client.post(
            "/api/v1/keys/generate", json=body, headers={**studio.auth(role), **(headers or {})}
        )

    return generate
