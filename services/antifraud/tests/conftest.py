"""Antifraud on a fresh database (migrated with Alembic), real Redis and Kafka.

Each test gets its own velocity key prefix, so counters never leak between tests; ids, IPs and
devices are random per test for the same reason (the block list is in the shared database).
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from antifraud.app import create_app
from antifraud.db.tables import assessments, outbox_table
from antifraud.settings import get_settings
from gamekeys_platform.migrations import upgrade_to_head

SERVICE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings(platform_env, postgres_url):
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return get_settings(
        **platform_env,
        antifraud_events_topic=f"test.af.{uuid.uuid4().hex[:8]}.antifraud.events",
        antifraud_velocity_prefix=f"aft:{uuid.uuid4().hex[:8]}:",
        database_pool_size=10,
        # Documentation ranges with made-up countries and kinds, for deterministic features.
        geoip_sample_ranges=True,
    )


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["antifraud"].db.dispose()


@pytest.fixture(scope="session")
def af(app):
    return app.extensions["antifraud"]


@pytest.fixture(autouse=True)
def fresh_counters(af):
    """A velocity namespace of its own for every test (keys expire after 25 h anyway)."""
    af.velocity.prefix = f"aft:{uuid.uuid4().hex[:12]}:"
    yield


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def service_auth(make_token):
    return {
        "Authorization": f"Bearer {make_token(sub='activation-gateway', roles=(), scopes=('fraud:analyze',))}"
    }


@pytest.fixture(scope="session")
def admin_auth(make_token):
    return {"Authorization": f"Bearer {make_token(roles=('admin',))}"}


@pytest.fixture(scope="session")
def support_auth(make_token):
    return {"Authorization": f"Bearer {make_token(roles=('support',))}"}


@pytest.fixture(scope="session")
def user_auth(make_token):
    return {"Authorization": f"Bearer {make_token(roles=('user',))}"}


def _random_ip(prefix: str = "10") -> str:
    """An IP in ``prefix`` (e.g. "10", "192.0.2", "203.0.113") with random remaining octets."""
    parts = prefix.split(".")
    parts += [str(random.randint(1, 254)) for _ in range(4 - len(parts))]
    return ".".join(parts)


def _request_body(**overrides) -> dict:
    """A normal FraudAnalysisRequest: fresh user, key, device, an IP without country."""
    context = {"ipAddress": _random_ip(), "userRegion": "DE", "keyType": "retail"}
    context.update(overrides.pop("context", {}))
    body = {
        "keyId": str(uuid.uuid4()),
        "userId": str(uuid.uuid4()),
        "activationId": str(uuid.uuid4()),
        "activationContext": context,
        "deviceFingerprint": f"dev-{uuid.uuid4().hex}",
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="session")
def random_ip():
    return _random_ip


@pytest.fixture(scope="session")
def request_body():
    return _request_body


@pytest.fixture()
def analyze(client, service_auth):
    def call(body: dict | None = None, expect: int = 200, **overrides):
        response = client.post(
            "/api/v1/antifraud/analyze", json=body or _request_body(**overrides), headers=service_auth
        )
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    return call


@pytest.fixture()
def count_rows(af):
    def count(table=assessments, **where) -> int:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with af.db.transaction() as session:
            return session.execute(query).scalar_one()

    return count


@pytest.fixture()
def events_of(af):
    """Outbox events of a type (optionally for one subject), oldest first."""
    outbox = outbox_table

    def of(event_type: str, subject=None) -> list[dict]:
        query = select(outbox.c.payload).where(outbox.c.event_type == event_type).order_by(outbox.c.seq)
        if subject is not None:
            query = query.where(outbox.c.message_key == str(subject))
        with af.db.transaction() as session:
            return [row.payload for row in session.execute(query)]

    return of
