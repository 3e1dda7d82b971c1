"""A suspended studio's keys refused to players with PUBLISHER_SUSPENDED (key-manager's look-up
says so before any fraud check, its activation refuses too) and redeemed again after the studio
is reinstated; the Admin Service's support look-up of a user's activations over a real HTTP
server, recorded with the admin and reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import requests
from sqlalchemy import select

from activation_gateway.db.tables import support_log
from gamekeys_platform.contracts import developer
from key_manager.db.tables import studio_projection

ADMIN_ID = "support-agent-12"


def project(km_app, data) -> None:
    with km_app.extensions["key_manager"].db.transaction() as session:
        studio_projection.handlers()(session, data.to_event())


def test_a_suspended_publisher_s_key_is_refused_until_reinstated(km_app, game, user, redeem, rows):
    key = game.key()
    project(
        km_app,
        developer.DeveloperSuspended(
            developer_id=game.developer_id,
            reason="fraud",
            suspended_by=ADMIN_ID,
            suspended_at=datetime.now(UTC),
        ),
    )
    player, auth = user()
    refused = redeem(key["key"], auth)
    assert refused.status_code == 403, refused.get_json()
    body = refused.get_json()
    assert body["success"] is False and body["error"]["code"] == "PUBLISHER_SUSPENDED"
    assert "suspended" in body["error"]["message"]
    [row] = rows(user_id=player)
    assert row["status"] == "failed" and row["error_code"] == "PUBLISHER_SUSPENDED"

    project(
        km_app,
        developer.DeveloperReinstated(
            developer_id=game.developer_id,
            reason="cleared",
            reinstated_by=ADMIN_ID,
            reinstated_at=datetime.now(UTC),
        ),
    )
    redeemed = redeem(key["key"], auth)
    assert redeemed.status_code == 200 and redeemed.get_json()["status"] == "activated"


def test_support_reads_a_user_s_activations_recorded_with_admin_and_reason(
    live_server, game, user, redeem, gw, make_token
):
    player, auth = user()
    assert redeem(game.key()["key"], auth).status_code == 200
    assert redeem(game.key()["key"], auth).status_code == 200
    url = f"{live_server}/internal/v1/support/users/{player}/activations"
    ask = {"adminId": ADMIN_ID, "reason": "ticket 77"}
    support = {
        "Authorization": f"Bearer {make_token(sub='admin-service', roles=(), scopes=('support:read',))}"
    }

    response = requests.get(url, params={**ask, "limit": 1}, headers=support, timeout=30)
    assert response.status_code == 200, response.text
    page = response.json()
    assert len(page["items"]) == 1 and page["nextCursor"]
    assert page["items"][0]["userId"] == player
    rest = requests.get(url, params={**ask, "cursor": page["nextCursor"]}, headers=support, timeout=30).json()
    assert [item["status"] for item in page["items"] + rest["items"]] == ["activated", "activated"]

    log = support_log.table
    with gw.db.transaction() as session:
        logged = session.execute(
            select(log.c.admin_id, log.c.caller, log.c.action, log.c.query, log.c.result_count)
            .where(log.c.reason == "ticket 77", log.c.query["userId"].astext == player)
            .order_by(log.c.id)
        ).all()
    assert [(r.admin_id, r.caller, r.action, r.result_count) for r in logged] == [
        (ADMIN_ID, "admin-service", "support.activations", 1),
        (ADMIN_ID, "admin-service", "support.activations", len(rest["items"])),
    ]

    assert requests.get(url, params=ask, timeout=30).status_code == 401
    wrong = {"Authorization": f"Bearer {make_token(sub='svc', roles=(), scopes=('keys:activate',))}"}
    assert requests.get(url, params=ask, headers=wrong, timeout=30).status_code == 403
    staff = {"Authorization": f"Bearer {make_token(roles=('support',))}"}
    assert requests.get(url, params=ask, headers=staff, timeout=30).status_code == 403
    for params in ({"adminId": ADMIN_ID}, {"reason": "r"}, {**ask, "reason": ""}, {**ask, "limit": 0}):
        bad = requests.get(url, params=params, headers=support, timeout=30)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert requests.get(
        f"{live_server}/internal/v1/support/users/{uuid.uuid4()}/activations",
        params=ask,
        headers=support,
        timeout=30,
    ).json() == {"items": [], "nextCursor": None}
