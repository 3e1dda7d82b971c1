"""A studio's suspension as key-manager learns it from developer.events (the library's studio
projection): its keys' redemption refused PUBLISHER_SUSPENDED and unchanged, no store orders nor
generation, all back after developer.reinstated; and the Admin Service's support look-up of a
key by id over a real HTTP server (scope, admin and reason, recorded, the key masked)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import requests
from sqlalchemy import select
from test_store import gift_keys, order_body

from gamekeys_platform.contracts import developer
from key_manager.db.tables import keys, studio_projection, support_log

INTERNAL = "/internal/v1/keys"
ADMIN_ID = "platform-admin-3"


def project(km, data) -> None:
    """One developer.events event through the consumer's handler, as the worker applies it."""
    with km.db.transaction() as session:
        studio_projection.handlers()(session, data.to_event())


def suspend(km, studio) -> None:
    project(
        km,
        developer.DeveloperSuspended(
            developer_id=studio.developer_id,
            reason="fraud",
            suspended_by=ADMIN_ID,
            suspended_at=datetime.now(UTC),
            unpublished_game_ids=[studio.game_id],
        ),
    )


def reinstate(km, studio) -> None:
    project(
        km,
        developer.DeveloperReinstated(
            developer_id=studio.developer_id,
            reason="cleared",
            reinstated_by=ADMIN_ID,
            reinstated_at=datetime.now(UTC),
            republished_game_ids=[studio.game_id],
        ),
    )


def test_a_suspended_studio_s_keys_are_not_redeemed_until_it_is_reinstated(
    client, gen, studio, service_auth, km
):
    generated = gen(studio, 3).get_json()["keys"]
    gift_keys(gen, studio, 3)
    key = generated[0]
    activate = service_auth("keys:activate")
    body = {"key": key["key"], "userId": "player-1", "activationId": str(uuid.uuid4()), "userRegion": "DE"}
    suspend(km, studio)

    looked_up = client.post(f"{INTERNAL}/lookup", json={"key": key["key"]}, headers=service_auth("keys:read"))
    assert looked_up.get_json()["publisherSuspended"] is True
    refused = client.post(f"{INTERNAL}/activate", json=body, headers=activate)
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "PUBLISHER_SUSPENDED" and error["details"]["status"] == "generated"
    with km.db.transaction() as session:
        assert (
            session.execute(select(keys.c.status).where(keys.c.id == uuid.UUID(key["id"]))).scalar_one()
            == "generated"
        )
    order = client.post(f"{INTERNAL}/issue", json=order_body(studio, 1), headers=service_auth("keys:issue"))
    assert order.status_code == 403 and order.get_json()["error"]["code"] == "PUBLISHER_SUSPENDED"
    generation = gen(studio, 1)
    assert (
        generation.status_code == 403
        and generation.get_json()["error"]["details"]["reason"] == "STUDIO_SUSPENDED"
    )
    # an already activated key still answers as activated (not as suspended)
    reinstate(km, studio)
    assert client.post(f"{INTERNAL}/activate", json=body, headers=activate).status_code == 200
    suspend(km, studio)
    again = client.post(
        f"{INTERNAL}/activate", json={**body, "activationId": str(uuid.uuid4())}, headers=activate
    )
    assert again.get_json()["error"]["code"] == "KEY_ALREADY_ACTIVATED"
    reinstate(km, studio)
    other = {**body, "key": generated[1]["key"], "activationId": str(uuid.uuid4())}
    assert client.post(f"{INTERNAL}/activate", json=other, headers=activate).status_code == 200
    assert (
        client.post(
            f"{INTERNAL}/issue", json=order_body(studio, 1), headers=service_auth("keys:issue")
        ).status_code
        == 201
    )


def test_support_looks_up_a_key_by_id_recorded_with_the_admin_and_reason(
    live_server, gen, studio, service_auth, km, make_token
):
    gift_keys(gen, studio, 2)
    order = requests.post(
        f"{live_server}{INTERNAL}/issue",
        json=order_body(studio, 1),
        headers=service_auth("keys:issue"),
        timeout=30,
    ).json()
    sold = order["keys"][0]
    url = f"{live_server}/internal/v1/support/keys/{sold['keyId']}"
    ask = {"adminId": ADMIN_ID, "reason": "ticket 981: buyer says the key does not work"}
    auth = service_auth("support:read")

    found = requests.get(url, params=ask, headers=auth, timeout=30)
    assert found.status_code == 200, found.text
    info = found.json()
    assert info["id"] == sold["keyId"] and info["status"] == "sold" and info["orderId"] == order["orderId"]
    assert info["key"].startswith("****-****-****-") and sold["key"] not in found.text  # masked only
    assert [(h["from"], h["to"]) for h in info["history"]] == [
        ("generated", "allocated"),
        ("allocated", "sold"),
    ]
    assert info["publisherSuspended"] is False
    missing = requests.get(
        f"{live_server}/internal/v1/support/keys/{uuid.uuid4()}", params=ask, headers=auth, timeout=30
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "KEY_NOT_FOUND"

    log = support_log.table
    with km.db.transaction() as session:
        rows = session.execute(
            select(log.c.admin_id, log.c.reason, log.c.caller, log.c.action, log.c.query, log.c.result_count)
            .where(log.c.reason == ask["reason"])
            .order_by(log.c.id)
        ).all()
    assert [(r.admin_id, r.caller, r.action, r.result_count) for r in rows] == [
        (ADMIN_ID, "test-service", "support.key", 1),
        (ADMIN_ID, "test-service", "support.key", 0),  # a miss is recorded too
    ]
    assert rows[0].query == {"keyId": sold["keyId"]}

    assert requests.get(url, params=ask, timeout=30).status_code == 401
    assert requests.get(url, params=ask, headers=service_auth("keys:read"), timeout=30).status_code == 403
    admin_user = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    assert requests.get(url, params=ask, headers=admin_user, timeout=30).status_code == 403
    for params in ({"adminId": ADMIN_ID}, {"reason": "x"}, {**ask, "adminId": " "}):
        response = requests.get(url, params=params, headers=auth, timeout=30)
        assert response.status_code == 422 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    with km.db.transaction() as session:
        assert (
            len(
                session.execute(
                    select(log.c.id).where(
                        log.c.admin_id == ADMIN_ID, log.c.query["keyId"].astext == sold["keyId"]
                    )
                ).all()
            )
            == 1
        )
