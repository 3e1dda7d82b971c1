"""The Admin Service's calls on studios over a real HTTP server with service tokens: suspend and
reinstate (games off the store and back, publishing refused meanwhile, scheduled releases
waiting, audited under the admin, one effect when retried after a lost answer), and the support
search of studios and games (recorded with the admin and reason); scopes and bad input."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from dp_testkit import approved_game, expect, outbox_data, published_game
from sqlalchemy import select

from developer_portal.db.tables import audit_log, support_log
from developer_portal.usecases.publishing import release_due
from gamekeys_platform.testing import serving

log = support_log.table

SUSPEND = "developers:suspend"
SUPPORT = "support:read"
ADMIN_ID = "platform-admin-7"


@pytest.fixture(scope="module")
def base_url(app):
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def bearer(make_token):
    return lambda *scopes: {
        "Authorization": f"Bearer {make_token(sub='admin-service', roles=(), scopes=scopes)}"
    }


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == code and error["requestId"] == response.headers["X-Request-Id"]
    return error


def suspend(base_url, headers, developer_id, reason="chargeback fraud ring", **extra):
    return requests.post(
        f"{base_url}/internal/v1/developers/{developer_id}/suspension",
        json={"reason": reason, "adminId": ADMIN_ID},
        headers={**headers, **extra},
        timeout=30,
    )


def reinstate(base_url, headers, developer_id, reason="cleared after review", **extra):
    return requests.post(
        f"{base_url}/internal/v1/developers/{developer_id}/reinstatement",
        json={"reason": reason, "adminId": ADMIN_ID},
        headers={**headers, **extra},
        timeout=30,
    )


def status_of(admin, game) -> str:
    return expect(admin.get(f"/games/{game['gameId']}"), 200)["status"]


def test_suspension_takes_games_off_the_store_and_reinstatement_brings_them_back(
    portal, db, app, base_url, bearer
):
    admin, on_store, _version = published_game(portal, db)
    developer_id = on_store["developerId"]
    _admin, self_removed, _version = published_game(portal, db, admin)
    expect(admin.post(f"/games/{self_removed['gameId']}/unpublish"), 200)  # the studio's own choice
    scheduled = approved_game(portal, db, admin)[0]
    release_at = datetime.now(UTC) + timedelta(hours=1)
    expect(
        admin.post(f"/games/{scheduled['gameId']}/publish", json={"releaseAt": release_at.isoformat()}), 200
    )
    headers = bearer(SUSPEND)

    # A lost answer retried with the same Idempotency-Key: the same answer, one suspension.
    first = suspend(base_url, headers, developer_id, **{"Idempotency-Key": "susp-1"})
    assert first.status_code == 200, first.text
    retried = suspend(base_url, headers, developer_id, **{"Idempotency-Key": "susp-1"})
    assert retried.status_code == 200 and retried.json() == first.json()
    again = suspend(base_url, headers, developer_id, reason="another reason")  # no key: a no-op
    assert again.status_code == 200 and again.json()["suspension"] == first.json()["suspension"]
    studio = first.json()
    assert studio["suspension"]["reason"] == "chargeback fraud ring"
    assert studio["suspension"]["suspendedBy"] == ADMIN_ID and studio["suspension"]["suspendedAt"]

    assert status_of(admin, on_store) == "removed"
    assert status_of(admin, self_removed) == "removed"
    [event] = outbox_data(db, "developer.suspended", developer_id)
    assert event["suspendedBy"] == ADMIN_ID and event["unpublishedGameIds"] == [on_store["gameId"]]
    unpublished = outbox_data(db, "game.unpublished", on_store["gameId"])[-1]
    assert unpublished["reason"] == "studio suspended: chargeback fraud ring"
    assert unpublished["listing"]["status"] == "removed" and unpublished["changedBy"] == ADMIN_ID
    # the studio sees why, and cannot publish meanwhile; the scheduled release waits
    assert expect(admin.get("/accounts/me"), 200)["suspension"]["reason"] == "chargeback fraud ring"
    refused = admin.post(f"/games/{self_removed['gameId']}/publish")
    assert (
        refused.status_code == 403 and refused.get_json()["error"]["details"]["reason"] == "STUDIO_SUSPENDED"
    )
    state = app.extensions["developer_portal"]
    release_due(state, now=release_at + timedelta(seconds=1))
    assert status_of(admin, scheduled) == "approved"

    back = reinstate(base_url, headers, developer_id, **{"Idempotency-Key": "reinst-1"})
    assert back.status_code == 200 and back.json()["suspension"] is None
    assert reinstate(base_url, headers, developer_id).json()["suspension"] is None  # a no-op
    assert status_of(admin, on_store) == "published"
    assert status_of(admin, self_removed) == "removed"  # as the studio left it
    [event] = outbox_data(db, "developer.reinstated", developer_id)
    assert event["republishedGameIds"] == [on_store["gameId"]] and event["reinstatedBy"] == ADMIN_ID
    assert outbox_data(db, "game.published", on_store["gameId"])[-1]["listing"]["status"] == "published"
    release_due(state, now=release_at + timedelta(seconds=2))
    assert status_of(admin, scheduled) == "published"

    with db.transaction() as session:
        trail = session.execute(
            select(audit_log.c.action, audit_log.c.actor_type, audit_log.c.actor_id)
            .where(
                audit_log.c.developer_id == uuid.UUID(developer_id),
                audit_log.c.action.in_(("developer.suspended", "developer.reinstated")),
            )
            .order_by(audit_log.c.audit_id)
        ).all()
    assert [tuple(row) for row in trail] == [
        ("developer.suspended", "user", ADMIN_ID),
        ("developer.reinstated", "user", ADMIN_ID),
    ]


def test_suspension_calls_need_their_scope_a_reason_and_a_known_studio(portal, base_url, bearer, make_token):
    _admin, developer = portal.studio()
    path = f"{base_url}/internal/v1/developers/{developer['developerId']}/suspension"
    body = {"reason": "r", "adminId": ADMIN_ID}
    _error(requests.post(path, json=body, timeout=30), 401, "UNAUTHORIZED")
    _error(requests.post(path, json=body, headers=bearer("developers:verify"), timeout=30), 403, "FORBIDDEN")
    user = {"Authorization": f"Bearer {make_token(sub=str(uuid.uuid4()), roles=('admin',))}"}
    _error(requests.post(path, json=body, headers=user, timeout=30), 403, "FORBIDDEN")
    for bad in (
        {"adminId": ADMIN_ID},
        {"reason": "r"},
        {"reason": "  ", "adminId": ADMIN_ID},
        {**body, "x": 1},
    ):
        _error(requests.post(path, json=bad, headers=bearer(SUSPEND), timeout=30), 422, "VALIDATION_ERROR")
    unknown = f"{base_url}/internal/v1/developers/{uuid.uuid4()}/suspension"
    _error(requests.post(unknown, json=body, headers=bearer(SUSPEND), timeout=30), 404, "NOT_FOUND")
    assert expect(_admin.get("/accounts/me"), 200)["suspension"] is None  # nothing was suspended


def test_support_search_of_studios_and_games_is_recorded_with_the_admin_and_reason(
    portal, db, base_url, bearer
):
    name = f"Zyx Unique {uuid.uuid4().hex[:6]}"
    admin, developer = portal.studio()
    expect(admin.put("/accounts/me", json={"companyName": name}), 200)
    game = portal.game(admin, title=f"Quasar {uuid.uuid4().hex[:6]}")
    headers = bearer(SUPPORT)
    ask = {"adminId": ADMIN_ID, "reason": "ticket 4411"}

    def search(what, **params):
        response = requests.get(
            f"{base_url}/internal/v1/support/{what}", params={**ask, **params}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()["items"]

    for found in (
        search("studios", q=name[4:].lower()),
        search("studios", email=admin.email.upper()),
        search("studios", userId=admin.user_id),
        search("studios", developerId=developer["developerId"]),
    ):
        assert [(s["developerId"], s["members"], s["games"]) for s in found] == [
            (developer["developerId"], 1, 1)
        ]
    assert [g["gameId"] for g in search("games", q=game["title"][2:])] == [game["gameId"]]
    assert [g["gameId"] for g in search("games", developerId=developer["developerId"])] == [game["gameId"]]
    assert all("%_" in g["title"] for g in search("games", q="%_"))  # wildcards are literal

    with db.transaction() as session:
        logged = session.execute(
            select(
                log.c.action,
                log.c.admin_id,
                log.c.reason,
                log.c.caller,
                log.c.query,
            )
            .where(log.c.reason == "ticket 4411")
            .order_by(log.c.id)
        ).all()
    assert [row.action for row in logged][:5] == ["support.studios"] * 4 + ["support.games"]
    assert all(row.admin_id == ADMIN_ID and row.caller == "admin-service" for row in logged)
    assert logged[1].query == {"email": admin.email.upper()}

    # no scope, no reason, no criterion: refused, nothing recorded
    before = len(logged)
    _error(
        requests.get(f"{base_url}/internal/v1/support/studios", params={**ask, "q": "zz"}, timeout=30),
        401,
        "UNAUTHORIZED",
    )
    _error(
        requests.get(
            f"{base_url}/internal/v1/support/studios",
            params={**ask, "q": "zz"},
            headers=bearer(SUSPEND),
            timeout=30,
        ),
        403,
        "FORBIDDEN",
    )
    games_url = f"{base_url}/internal/v1/support/games"
    _error(requests.get(games_url, params={**ask, "q": "zz"}, timeout=30), 401, "UNAUTHORIZED")
    _error(
        requests.get(
            games_url, params={**ask, "q": "zz"}, headers=bearer(SUPPORT.replace("read", "x")), timeout=30
        ),
        403,
        "FORBIDDEN",
    )
    _error(requests.get(games_url, params=ask, headers=headers, timeout=30), 422, "VALIDATION_ERROR")
    for params in ({"q": "zz", "adminId": ADMIN_ID}, {"q": "zz", "reason": "x"}, ask, {**ask, "q": "z"}):
        _error(
            requests.get(
                f"{base_url}/internal/v1/support/studios", params=params, headers=headers, timeout=30
            ),
            422,
            "VALIDATION_ERROR",
        )
    with db.transaction() as session:
        assert len(session.execute(select(log.c.id).where(log.c.reason == "ticket 4411")).all()) == before


def _race_publish_and_suspension(base_url, headers, admin, developer, game) -> tuple[int, int]:
    barrier = threading.Barrier(2)

    def publish():
        barrier.wait()
        return requests.post(
            f"{base_url}/api/v1/developer/games/{game['gameId']}/publish",
            headers={"Authorization": f"Bearer {admin.token}"},
            timeout=30,
        ).status_code

    def suspension():
        barrier.wait()
        return suspend(base_url, headers, developer["developerId"]).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        published, suspended = pool.submit(publish), pool.submit(suspension)
        return published.result(), suspended.result()


def test_a_publish_racing_a_suspension_never_leaves_the_game_on_the_store(portal, db, base_url, bearer):
    """The studio publishes while the Admin Service suspends it: either the publish came first
    and the suspension takes the game off, or it comes after and is refused; never on the store."""
    for _round in range(4):
        admin, developer = portal.studio()
        game = approved_game(portal, db, admin)[0]
        published, suspended = _race_publish_and_suspension(base_url, bearer(SUSPEND), admin, developer, game)
        assert suspended == 200 and published in (200, 403)
        assert status_of(admin, game) == ("removed" if published == 200 else "approved")
