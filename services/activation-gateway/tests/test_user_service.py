"""Step 5 with the platform User Service configured (a real HTTP server in the test): an
account that is not active or does not exist → ACCOUNT_BLOCKED; slow, failing or down → the
redemption goes on to antifraud; the account's creation time (token claim first, else the User
Service) reaches antifraud as accountCreatedAt."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select

from activation_gateway.app import create_app
from activation_gateway.domain.redemption import Account, account_refusal, parse_account_created_at
from antifraud.db.tables import assessments
from gamekeys_platform.testing import serving

API = "/api/v1/activations"


def test_domain_account_refusal_and_creation_time():
    assert account_refusal(None) is None  # not configured or unavailable: go on
    assert account_refusal(Account(True, "active")) is None
    assert account_refusal(Account(True, "suspended")).details == {"accountStatus": "suspended"}
    assert account_refusal(Account(False)).code == "ACCOUNT_BLOCKED"
    assert parse_account_created_at(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_account_created_at("2024-05-01T10:00:00+02:00") == datetime(2024, 5, 1, 8, tzinfo=UTC)
    for junk in ("2024-05-01T10:00:00", "yesterday", True, None, [1], 10**20):
        assert parse_account_created_at(junk) is None


@pytest.fixture(scope="module")
def user_service():
    """A stand-in for the platform User Service: ``accounts[user_id] = (status, body, delay)``."""
    app = Flask("user-service")
    app.config["accounts"] = {}
    app.config["calls"] = []

    @app.get("/internal/v1/users/<user_id>")
    def account(user_id):
        app.config["calls"].append((user_id, request.headers.get("Authorization", "")))
        status, body, delay = app.config["accounts"].get(user_id, (404, {"error": {"code": "NOT_FOUND"}}, 0))
        time.sleep(delay)
        return jsonify(body), status

    with serving(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def gateway_app(settings, user_service):
    app = create_app(
        settings.model_copy(
            update={
                "user_service_url": user_service[1],
                "user_service_timeout_seconds": 0.3,
                "database_pool_size": 2,
            }
        )
    )
    yield app
    app.extensions["activation_gateway"].db.dispose()


@pytest.fixture()
def redeem_as(gateway_app, redeem_body, make_token, random_ip):
    def call(key: str, user_id: str, **claims):
        headers = {
            "Authorization": f"Bearer {make_token(sub=user_id, roles=('user',), **claims)}",
            "X-Forwarded-For": random_ip(),
        }
        return gateway_app.test_client().post(f"{API}/redeem", json=redeem_body(key), headers=headers)

    return call


def account_age_seen_by_antifraud(af, user_id: str) -> int:
    with af.db.transaction() as session:
        query = select(assessments.c.features).where(assessments.c.user_id == uuid.UUID(user_id))
        return session.execute(query).scalar_one()["account_age_days"]


def test_inactive_or_unknown_account_is_blocked(
    game, user_service, redeem_as, rows, events_of, count_assessments
):
    app, _ = user_service
    suspended = str(uuid.uuid4())
    app.config["accounts"][suspended] = (200, {"userId": suspended, "status": "suspended"}, 0)
    key = game.key()
    refused = redeem_as(key["key"], suspended)
    body = refused.get_json()
    assert refused.status_code == 403 and body["error"]["code"] == "ACCOUNT_BLOCKED", body
    assert body["error"]["details"] == {"accountStatus": "suspended"}
    [row] = rows(user_id=suspended)
    assert row["status"] == "blocked" and row["error_code"] == "ACCOUNT_BLOCKED"
    assert events_of("activation.blocked", row["id"])[0]["data"]["reason"] == "ACCOUNT_BLOCKED"
    assert count_assessments(suspended) == 0  # refused before antifraud
    assert app.config["calls"][-1][0] == suspended and app.config["calls"][-1][1].startswith("Bearer ")

    unknown = str(uuid.uuid4())
    gone = redeem_as(key["key"], unknown)
    assert gone.status_code == 403 and gone.get_json()["error"]["details"] == {"accountStatus": "not_found"}


def test_active_account_redeems_and_its_age_reaches_antifraud(game, user_service, redeem_as, af):
    app, _ = user_service
    # From the User Service when the token has no claim.
    player = str(uuid.uuid4())
    created = datetime.now(UTC) - timedelta(days=400)
    app.config["accounts"][player] = (
        200,
        {"userId": player, "status": "active", "createdAt": created.isoformat()},
        0,
    )
    assert redeem_as(game.key()["key"], player).status_code == 200
    assert account_age_seen_by_antifraud(af, player) == 400
    # The token's claim wins over the User Service.
    other = str(uuid.uuid4())
    app.config["accounts"][other] = (
        200,
        {"userId": other, "status": "ACTIVE", "createdAt": created.isoformat()},
        0,
    )
    claim = int((datetime.now(UTC) - timedelta(days=3, hours=1)).timestamp())
    assert redeem_as(game.key()["key"], other, account_created_at=claim).status_code == 200
    assert account_age_seen_by_antifraud(af, other) == 3


@pytest.mark.parametrize(
    "answer",
    [(200, {"status": "suspended"}, 1.0), (500, {}, 0), (200, {"unexpected": True}, 0)],
    ids=["slow", "failing", "garbled"],
)
def test_user_service_unavailable_goes_on_to_antifraud(
    game, user_service, redeem_as, answer, af, gateway_app
):
    app, _ = user_service
    player = str(uuid.uuid4())
    app.config["accounts"][player] = answer
    started = time.monotonic()
    response = redeem_as(game.key()["key"], player)
    assert response.status_code == 200, response.get_json()
    assert time.monotonic() - started < 5
    assert account_age_seen_by_antifraud(af, player) == -1  # unknown
    gateway_app.extensions["activation_gateway"].user_service.client.breaker.record_success()


def test_user_service_down_goes_on(settings, game, redeem_body, make_token, random_ip):
    app = create_app(
        settings.model_copy(update={"user_service_url": "http://127.0.0.1:1", "database_pool_size": 2})
    )
    try:
        player = str(uuid.uuid4())
        headers = {
            "Authorization": f"Bearer {make_token(sub=player, roles=('user',))}",
            "X-Forwarded-For": random_ip(),
        }
        response = app.test_client().post(
            f"{API}/redeem", json=redeem_body(game.key()["key"]), headers=headers
        )
        assert response.status_code == 200, response.get_json()
    finally:
        app.extensions["activation_gateway"].db.dispose()
