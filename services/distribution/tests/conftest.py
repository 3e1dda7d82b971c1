"""Distribution on a fresh, migrated database, against a real key-manager: key-manager's own app
(its schema in the same test database) on a threaded werkzeug server, with a studio projection
and keys seeded the way key-manager's tests do it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from distribution.app import create_app
from distribution.db import tables
from distribution.settings import get_settings
from gamekeys_platform.migrations import upgrade_to_head
from key_manager_testkit import verified_studio_game

SERVICE_DIR = Path(__file__).resolve().parents[1]
API = "/api/v1/distribution"


@pytest.fixture(scope="session")
def retailer_key_file(tmp_path_factory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("retailer-keys") / "retailer-token-signing.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@pytest.fixture(scope="session")
def settings(platform_env, postgres_url, km_app, km_url, retailer_key_file, run_id):
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return get_settings(
        **platform_env,
        key_manager_url=km_url,
        key_manager_timeout_seconds=3,
        retailer_token_signing_key_file=retailer_key_file,
        distribution_events_topic=f"test.dist.{run_id}.distribution.events",
        keys_events_topic=km_app.extensions["key_manager"].settings.keys_events_topic,
        database_pool_size=10,
    )


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["distribution"].db.dispose()


@pytest.fixture(scope="session")
def dist(app):
    return app.extensions["distribution"]


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def admin_auth(make_token):
    return {"Authorization": f"Bearer {make_token(roles=('admin',))}"}


@dataclass
class Game:
    game_id: uuid.UUID
    developer_id: uuid.UUID
    token: str  # the studio admin's developer token
    admin: str = ""  # the studio admin's user id


@pytest.fixture(scope="session")
def make_game(km_app, make_token):
    """``make_game(keys=10, key_type="retail")``: a verified studio's game in key-manager's
    projection, with ``keys`` freshly generated keys."""
    km_client = km_app.test_client()

    def make(keys: int = 10, key_type: str = "retail") -> Game:
        developer_id, game_id, admin = verified_studio_game(km_app)
        token = make_token(sub=admin, roles=("developer",))
        remaining = keys
        while remaining > 0:
            quantity = min(remaining, 1000)
            response = km_client.post(
                "/api/v1/keys/generate",
                json={"gameId": str(game_id), "keyType": key_type, "quantity": quantity},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 201, response.get_json()
            remaining -= quantity
        return Game(game_id, developer_id, token, admin)

    return make


@pytest.fixture()
def game(make_game) -> Game:
    return make_game(10)


@pytest.fixture(scope="session")
def make_retailer(app, admin_auth):
    client = app.test_client()

    def make(game_ids=(), **fields) -> dict:
        body = {
            "name": "Key Shop",
            "contactInfo": {"email": "sales@keyshop.example"},
            "commissionRate": "0.15",
            "allowedGameIds": [str(g) for g in game_ids],
            **fields,
        }
        response = client.post(f"{API}/retailers", json=body, headers=admin_auth)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture(scope="session")
def retailer_token(app):
    client = app.test_client()

    def token(retailer: dict) -> dict:
        credentials = retailer["apiCredentials"]
        response = client.post(
            f"{API}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": credentials["clientId"],
                "client_secret": credentials["clientSecret"],
            },
        )
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    return token


@pytest.fixture(scope="session")
def allocate(app, admin_auth):
    client = app.test_client()

    def run(retailer: dict, game: Game, quantity: int, *, headers=None, **fields):
        body = {
            "retailerId": retailer["id"],
            "gameId": str(game.game_id),
            "quantity": quantity,
            "keyType": "retail",
            "pricing": {"amount": "19.99", "currency": "USD"},
            **fields,
        }
        return client.post(f"{API}/allocations", json=body, headers={**admin_auth, **(headers or {})})

    return run


@pytest.fixture(scope="session")
def counts(dist):
    """``counts()``: rows per distribution table (and outbox), to prove nothing was written."""

    def count() -> dict[str, int]:
        with dist.db.transaction() as session:
            result = {}
            for table in (
                tables.retailers,
                tables.allocations,
                tables.sales,
                tables.sale_keys,
                tables.returns,
                tables.retailer_keys,
                dist.db.tables.outbox,
            ):
                result[table.name] = session.execute(select(func.count()).select_from(table)).scalar_one()
            return result

    return count


@pytest.fixture(scope="session")
def events_of(dist):
    """``events_of(event_type, subject=None)``: payloads in distribution's outbox, oldest first."""

    def find(event_type: str, subject=None) -> list[dict]:
        outbox = dist.db.tables.outbox
        query = select(outbox.c.payload).where(outbox.c.event_type == event_type)
        if subject is not None:
            query = query.where(outbox.c.message_key == str(subject))
        with dist.db.transaction() as session:
            return [row[0] for row in session.execute(query.order_by(outbox.c.seq)).all()]

    return find
