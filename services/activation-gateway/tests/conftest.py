"""The activation gateway on a fresh, migrated database, against the real key-manager and
antifraud: their own apps (their schemas in the same test database) on threaded werkzeug
servers, real Redis and Kafka. Keys are generated through key-manager's API."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activation_gateway.app import create_app
from activation_gateway.db.tables import activations
from activation_gateway.settings import get_settings
from antifraud.app import create_app as create_antifraud_app
from antifraud.settings import get_settings as get_antifraud_settings
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import serving
from key_manager_testkit import verified_studio_game

SERVICE_DIR = Path(__file__).resolve().parents[1]
SERVICES = SERVICE_DIR.parent
API = "/api/v1/activations"


@pytest.fixture(scope="session")
def af_app(platform_env, postgres_url, run_id):
    upgrade_to_head(SERVICES / "antifraud" / "alembic.ini", postgres_url)
    settings = get_antifraud_settings(
        **platform_env,
        antifraud_events_topic=f"test.ag.{run_id}.antifraud.events",
        antifraud_velocity_prefix=f"agt:{run_id}:",
        database_pool_size=10,
        geoip_sample_ranges=True,
    )
    app = create_antifraud_app(settings)
    yield app
    app.extensions["antifraud"].db.dispose()


@pytest.fixture(scope="session")
def af(af_app):
    return af_app.extensions["antifraud"]


@pytest.fixture(scope="session")
def af_url(af_app):
    with serving(af_app) as url:
        yield url


@pytest.fixture(scope="session")
def settings(platform_env, postgres_url, km_url, af_url, run_id):
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return get_settings(
        **platform_env,
        key_manager_url=km_url,
        key_manager_timeout_seconds=15,
        antifraud_url=af_url,
        antifraud_timeout_seconds=15,
        trusted_proxies="127.0.0.1",
        activations_events_topic=f"test.ag.{run_id}.activations.events",
        antifraud_events_topic=f"test.ag.{run_id}.antifraud.events",
        reassess_after_seconds=1,
        database_pool_size=10,
        # Documentation ranges with made-up countries and kinds, for the VPN / datacenter paths;
        # real addresses are answered by the real data.
        geoip_sample_ranges=True,
    )


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["activation_gateway"].db.dispose()


@pytest.fixture(scope="session")
def gw(app):
    return app.extensions["activation_gateway"]


@pytest.fixture(scope="session")
def live_server(app):
    with serving(app) as url:
        yield url


@pytest.fixture(autouse=True)
def fresh_counters(gw, af):
    """Lockout and velocity counters of their own for every test."""
    gw.limiter.key_prefix = f"agt:{uuid.uuid4().hex[:12]}:rl"
    af.velocity.prefix = f"agt:{uuid.uuid4().hex[:12]}:"
    yield


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def user(make_token):
    """``user()`` → (user id, auth headers) of a fresh player."""

    def make(roles=("user",)):
        user_id = str(uuid.uuid4())
        return user_id, {"Authorization": f"Bearer {make_token(sub=user_id, roles=roles)}"}

    return make


@pytest.fixture(scope="session")
def staff_auth(make_token):
    return lambda role="support": {"Authorization": f"Bearer {make_token(roles=(role,))}"}


@dataclass
class Game:
    game_id: uuid.UUID
    developer_id: uuid.UUID
    developer_auth: dict
    keys: list[dict]  # [{"id", "key"}]

    def key(self) -> dict:
        return self.keys.pop()


@pytest.fixture(scope="session")
def make_game(km_app, make_token):
    """``make_game(keys=5, regions=None, **fields)``: a verified studio's game in key-manager's
    projection with freshly generated keys (regions: ``[{"type": "allow", "countries": [...]}]``)."""
    km_client = km_app.test_client()

    def make(keys: int = 5, regions=None, **fields) -> Game:
        developer_id, game_id, admin = verified_studio_game(km_app)
        auth = {"Authorization": f"Bearer {make_token(sub=admin, roles=('developer',))}"}
        body = {"gameId": str(game_id), "keyType": "retail", "quantity": keys, **fields}
        if regions:
            body["regionalRestrictions"] = regions
        response = km_client.post("/api/v1/keys/generate", json=body, headers=auth)
        assert response.status_code == 201, response.get_json()
        return Game(game_id, developer_id, auth, response.get_json()["keys"])

    return make


@pytest.fixture()
def game(make_game) -> Game:
    return make_game(5)


def random_ip(prefix: str = "10") -> str:
    parts = prefix.split(".")
    parts += [str(random.randint(1, 254)) for _ in range(4 - len(parts))]
    return ".".join(parts)


@pytest.fixture(scope="session", name="random_ip")
def random_ip_fixture():
    return random_ip


@pytest.fixture(scope="session")
def redeem_body():
    def body(key: str, region: str = "DE", device: str | None = None, **extra) -> dict:
        return {
            "key": key,
            "userRegion": region,
            "deviceInfo": {"fingerprint": device or f"dev-{uuid.uuid4().hex}", "platform": "windows"},
            **extra,
        }

    return body


@pytest.fixture()
def redeem(client, redeem_body):
    """``redeem(key, auth, ip=None, headers=None, **body)`` → response (through the test client;
    ``ip`` is sent as X-Forwarded-For, believed from the trusted 127.0.0.1)."""

    def call(key: str, auth: dict, *, ip: str | None = None, headers=None, **fields):
        sent = {**auth, **(headers or {}), "X-Forwarded-For": ip or random_ip()}
        return client.post(f"{API}/redeem", json=redeem_body(key, **fields), headers=sent)

    return call


@pytest.fixture(scope="session")
def rows(gw):
    """``rows(**where)``: activation rows (dicts) matching the column values."""

    def find(**where) -> list[dict]:
        query = select(activations)
        for column, value in where.items():
            query = query.where(activations.c[column] == value)
        with gw.db.transaction() as session:
            return [dict(row._mapping) for row in session.execute(query.order_by(activations.c.created_at))]

    return find


@pytest.fixture(scope="session")
def counts(gw):
    def count() -> dict[str, int]:
        with gw.db.transaction() as session:
            return {
                table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (activations, gw.db.tables.outbox)
            }

    return count


@pytest.fixture(scope="session")
def events_of(gw):
    """Payloads in the gateway's outbox of a type (optionally for one subject), oldest first."""

    def find(event_type: str, subject=None) -> list[dict]:
        outbox = gw.db.tables.outbox
        query = select(outbox.c.payload).where(outbox.c.event_type == event_type)
        if subject is not None:
            query = query.where(outbox.c.message_key == str(subject))
        with gw.db.transaction() as session:
            return [row[0] for row in session.execute(query.order_by(outbox.c.seq)).all()]

    return find


@pytest.fixture(scope="session", autouse=True)
def fraud_test_rules(af_app, make_token):
    """antifraud's default rules plus two that tests trigger on purpose through the device's
    ``platform``: ``review-me`` → REVIEW, ``block-me`` → BLOCK."""
    client = af_app.test_client()
    admin = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    rules = client.get("/api/v1/antifraud/rules", headers=admin).get_json()["rules"]
    rules += [
        {"id": "test-review", "expression": "platform == 'review-me'", "weight": 50, "action": "REVIEW"},
        {"id": "test-block", "expression": "platform == 'block-me'", "weight": 90, "action": "BLOCK"},
    ]
    response = client.put("/api/v1/antifraud/rules", json={"rules": rules}, headers=admin)
    assert response.status_code == 200, response.get_json()


@pytest.fixture(scope="session")
def af_admin(af_app, make_token):
    """``af_admin(method, path, json)`` → antifraud's response to an admin call."""
    client = af_app.test_client()
    admin = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    return lambda method, path, json=None: client.open(
        f"/api/v1/antifraud{path}", method=method, json=json, headers=admin
    )


@pytest.fixture(scope="session")
def count_assessments(af):
    """``count_assessments(user_id)``: antifraud assessments stored for a user."""
    from antifraud.db.tables import assessments

    def count(user_id: str) -> int:
        with af.db.transaction() as session:
            query = (
                select(func.count())
                .select_from(assessments)
                .where(assessments.c.user_id == uuid.UUID(user_id))
            )
            return session.execute(query).scalar_one()

    return count
