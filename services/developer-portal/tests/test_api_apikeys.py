"""CI API keys over HTTP: created once and never shown again, roles, game and scope checks,
introspection (expired, revoked and mistyped keys inactive; lastUsedAt written at most once a
minute), rolling with an overlap, revocation when the creator leaves, apikey.expiring once, and
the plaintext key in no table, event, audit entry or log line."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dp_testkit import Actor, assert_error, expect
from sqlalchemy import select, text, update

from developer_portal.db import apikeys as apikeys_repo
from developer_portal.db.tables import SCHEMA, api_keys, audit_log
from developer_portal.usecases.apikeys import notify_expiring
from gamekeys_platform.errors import format_timestamp

INTROSPECT = "/internal/v1/apikeys/introspect"


@pytest.fixture(scope="module")
def gateway(portal):
    """game-builds as developer-portal sees it: a service token with apikeys:introspect."""
    token = portal.make_token(sub="game-builds", roles=(), scopes=("apikeys:introspect",))
    return Actor(portal.app.test_client(), token, "game-builds", None)


def new_key(admin, games, **body):
    payload = {"name": "CI", "scopes": ["builds:write"], "gameIds": [g["gameId"] for g in games], **body}
    return expect(admin.post("/apikeys", json=payload), 201)


def introspect(gateway, key, **body):
    return expect(gateway.post(INTROSPECT, json={"key": key, **body}), 200)


def key_row(db, key_id):
    with db.transaction() as session:
        return session.execute(select(api_keys).where(api_keys.c.key_id == uuid.UUID(key_id))).one()


def set_key(db, key_id, **values):
    with db.transaction() as session:
        session.execute(update(api_keys).where(api_keys.c.key_id == uuid.UUID(key_id)).values(**values))


def outbox_events(db, subject):
    outbox = db.tables.outbox
    with db.transaction() as session:
        rows = session.execute(
            select(outbox.c.event_type, outbox.c.payload)
            .where(outbox.c.payload["subject"].astext == subject)
            .order_by(outbox.c.seq)
        ).all()
    return [(row.event_type, row.payload["data"]) for row in rows]


def test_a_key_is_shown_once_and_listed_without_it(portal, gateway, db):
    admin, developer = portal.studio()
    games = [portal.game(admin), portal.game(admin)]
    created = new_key(admin, games, scopes=["builds:read", "builds:write"], name="Release pipeline")
    key = created["key"]
    assert key.startswith("gkp_") and len(key) == 40
    assert created["prefix"] == key[:8] and created["last4"] == key[-4:]
    assert created["status"] == "active" and created["createdBy"] == admin.user_id
    assert created["scopes"] == ["builds:read", "builds:write"]
    assert created["gameIds"] == [g["gameId"] for g in games]
    expires = datetime.fromisoformat(created["expiresAt"])
    assert timedelta(days=364) < expires - datetime.now(UTC) <= timedelta(days=365)

    page = expect(admin.get("/apikeys"), 200)
    [listed] = page["items"]
    assert "key" not in listed and listed == {k: v for k, v in created.items() if k != "key"}
    assert expect(portal.member(admin, "developer").get("/apikeys"), 200)["items"] == [listed]
    platform_admin = portal.user(roles=("admin",))
    assert expect(platform_admin.get(f"/apikeys?developerId={developer['developerId']}"), 200)["items"]

    answer = introspect(gateway, key, clientAddress="203.0.113.7")
    assert answer == {
        "active": True,
        "tokenType": "api_key",
        "keyId": created["keyId"],
        "developerId": developer["developerId"],
        "gameIds": created["gameIds"],
        "scopes": ["builds:read", "builds:write"],
        "expiresAt": created["expiresAt"],
    }
    used = expect(admin.get("/apikeys"), 200)["items"][0]
    assert used["lastUsedAt"] is not None and used["lastUsedAddress"] == "203.0.113.7"
    assert [t for t, _ in outbox_events(db, created["keyId"])] == ["apikey.created"]


@pytest.mark.parametrize(
    ("role", "create", "read"),
    [("developer", 403, 200), ("marketing", 403, 403), ("finance", 403, 403)],
)
def test_only_studio_admins_manage_keys(portal, role, create, read):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    key = new_key(admin, [game])
    member = portal.member(admin, role)
    body = {"name": "x", "scopes": ["builds:write"], "gameIds": [game["gameId"]]}
    assert_error(member.post("/apikeys", json=body), create, "FORBIDDEN")
    assert member.get("/apikeys").status_code == read
    assert_error(member.delete(f"/apikeys/{key['keyId']}"), 403, "FORBIDDEN")
    assert_error(member.post(f"/apikeys/{key['keyId']}/roll", json={}), 403, "FORBIDDEN")


def test_strangers_and_other_studios_see_nothing(portal):
    admin, developer = portal.studio()
    key = new_key(admin, [portal.game(admin)])
    other_admin, _other = portal.studio()
    assert expect(other_admin.get("/apikeys"), 200)["items"] == []
    assert_error(other_admin.delete(f"/apikeys/{key['keyId']}"), 404, "NOT_FOUND")
    assert_error(other_admin.post(f"/apikeys/{key['keyId']}/roll", json={}), 404, "NOT_FOUND")
    assert_error(other_admin.get(f"/apikeys?developerId={developer['developerId']}"), 404, "NOT_FOUND")
    assert_error(portal.user().get("/apikeys"), 404, "NOT_FOUND")
    body = {"name": "x", "scopes": ["builds:write"], "gameIds": [str(uuid.uuid4())]}
    assert_error(portal.user(roles=("admin",)).post("/apikeys", json=body), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gameIds": []}, "gameIds"),
        ({"gameIds": ["not-a-uuid"]}, "gameIds"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["builds:delete"]}, "scopes"),
        ({"name": " "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"expiresAt": "2030-01-01T00:00:00"}, "expiresAt"),
        ({"key": "gkp_mine"}, "key"),
    ],
)
def test_bad_bodies_are_422_and_write_nothing(portal, nothing_written, change, field):
    admin, developer = portal.studio()
    game = portal.game(admin)
    body = {"name": "CI", "scopes": ["builds:write"], "gameIds": [game["gameId"]], **change}
    with nothing_written(developer["developerId"]):
        error = assert_error(admin.post("/apikeys", json=body), 422, "VALIDATION_ERROR")
    assert field in error["details"]["fields"]["json"]


def test_games_must_be_the_studios_and_expiry_bounded(portal, nothing_written):
    admin, developer = portal.studio()
    mine = portal.game(admin)
    other_admin, _other = portal.studio()
    theirs = portal.game(other_admin)
    now = datetime.now(UTC)
    with nothing_written(developer["developerId"]):
        error = assert_error(
            admin.post(
                "/apikeys",
                json={
                    "name": "CI",
                    "scopes": ["builds:write"],
                    "gameIds": [mine["gameId"], theirs["gameId"]],
                },
            ),
            422,
            "VALIDATION_ERROR",
            "UNKNOWN_GAME",
        )
        assert error["details"]["gameIds"] == [theirs["gameId"]]
        for when, reason in (
            (now - timedelta(minutes=1), "EXPIRY_IN_PAST"),
            (now + timedelta(days=366), "EXPIRY_TOO_FAR"),
        ):
            response = admin.post(
                "/apikeys",
                json={
                    "name": "CI",
                    "scopes": ["builds:write"],
                    "gameIds": [mine["gameId"]],
                    "expiresAt": format_timestamp(when),
                },
            )
            assert_error(response, 422, "VALIDATION_ERROR", reason)
    short = new_key(admin, [mine], expiresAt=format_timestamp(now + timedelta(days=3)))
    assert datetime.fromisoformat(short["expiresAt"]) - now < timedelta(days=3, seconds=5)


def test_introspection_needs_the_scope(portal, make_token, anonymous):
    admin, _developer = portal.studio()
    key = new_key(admin, [portal.game(admin)])["key"]
    assert_error(admin.post(INTROSPECT, json={"key": key}), 403, "FORBIDDEN")
    other = make_token(sub="key-manager", roles=(), scopes=("keys:activate",))
    response = anonymous.post(INTROSPECT, json={"key": key}, headers={"Authorization": f"Bearer {other}"})
    assert_error(response, 403, "FORBIDDEN")
    assert_error(anonymous.post(INTROSPECT, json={"key": key}), 401, "UNAUTHORIZED")


def test_a_mistyped_key_is_refused_by_its_checksum_without_a_lookup(portal, gateway, monkeypatch):
    admin, _developer = portal.studio()
    key = new_key(admin, [portal.game(admin)])["key"]
    position = 12
    typo = key[:position] + ("a" if key[position] != "a" else "b") + key[position + 1 :]

    def no_lookup(*_args, **_kwargs):
        raise AssertionError("a malformed key reached the database")

    monkeypatch.setattr(apikeys_repo, "find_by_hash", no_lookup)
    for candidate in (typo, key[:-1], key.upper(), "gkp_" + "0" * 36, "Bearer " + key, ""):
        if candidate:
            assert introspect(gateway, candidate) == {"active": False}
    monkeypatch.undo()
    assert introspect(gateway, key)["active"] is True


def test_expired_and_revoked_keys_are_inactive_and_listed_as_such(portal, gateway, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    expired, revoked = new_key(admin, [game], name="old"), new_key(admin, [game], name="leaked")
    set_key(db, expired["keyId"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expect(admin.delete(f"/apikeys/{revoked['keyId']}"), 204)
    expect(admin.delete(f"/apikeys/{revoked['keyId']}"), 204)  # again: nothing changes
    assert introspect(gateway, expired["key"]) == {"active": False}
    assert introspect(gateway, revoked["key"]) == {"active": False}
    assert introspect(gateway, "gkp_" + "A" * 30 + "000000") == {"active": False}
    statuses = {item["name"]: item for item in expect(admin.get("/apikeys"), 200)["items"]}
    assert statuses["old"]["status"] == "expired"
    assert statuses["leaked"]["status"] == "revoked" and statuses["leaked"]["revokedReason"] == "revoked"
    assert [t for t, _ in outbox_events(db, revoked["keyId"])] == ["apikey.created", "apikey.revoked"]
    _, data = outbox_events(db, revoked["keyId"])[-1]
    assert data["revokedBy"] == admin.user_id and data["reason"] == "revoked"
    assert_error(admin.post(f"/apikeys/{revoked['keyId']}/roll", json={}), 409, "CONFLICT", "KEY_NOT_ACTIVE")


def test_last_use_is_written_at_most_once_a_minute(portal, gateway, db):
    admin, _developer = portal.studio()
    created = new_key(admin, [portal.game(admin)])
    introspect(gateway, created["key"], clientAddress="198.51.100.1")
    first = key_row(db, created["keyId"])
    for address in ("198.51.100.2", "198.51.100.3", None):
        introspect(gateway, created["key"], **({"clientAddress": address} if address else {}))
    row = key_row(db, created["keyId"])
    assert (row.last_used_at, row.last_used_address) == (first.last_used_at, "198.51.100.1")
    set_key(db, created["keyId"], last_used_at=first.last_used_at - timedelta(seconds=61))
    introspect(gateway, created["key"], clientAddress="2001:db8::1")
    row = key_row(db, created["keyId"])
    assert row.last_used_at > first.last_used_at and row.last_used_address == "2001:db8::1"


def test_rolling_issues_a_successor_and_the_old_key_lives_for_the_overlap(portal, gateway, db):
    admin, _developer = portal.studio()
    games = [portal.game(admin)]
    old = new_key(admin, games, scopes=["builds:read"], name="nightly")
    new = expect(admin.post(f"/apikeys/{old['keyId']}/roll", json={"overlapHours": 2}), 201)
    assert new["key"] != old["key"] and new["rolledFrom"] == old["keyId"]
    assert (new["name"], new["scopes"], new["gameIds"]) == ("nightly", ["builds:read"], old["gameIds"])
    assert introspect(gateway, old["key"])["active"] is True
    assert introspect(gateway, new["key"])["active"] is True
    listed = {item["keyId"]: item for item in expect(admin.get("/apikeys"), 200)["items"]}
    old_now = listed[old["keyId"]]
    assert old_now["rolledTo"] == new["keyId"]
    remaining = datetime.fromisoformat(old_now["expiresAt"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < remaining <= timedelta(hours=2)
    assert_error(admin.post(f"/apikeys/{old['keyId']}/roll", json={}), 409, "CONFLICT", "ALREADY_ROLLED")
    # after the overlap the old key is refused, the successor keeps working
    set_key(db, old["keyId"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert introspect(gateway, old["key"]) == {"active": False}
    assert introspect(gateway, new["key"])["active"] is True

    newest = expect(admin.post(f"/apikeys/{new['keyId']}/roll", json={"overlapHours": 0}), 201)
    assert introspect(gateway, new["key"]) == {"active": False}
    assert introspect(gateway, newest["key"])["active"] is True
    assert_error(
        admin.post(f"/apikeys/{newest['keyId']}/roll", json={"overlapHours": 169}), 422, "VALIDATION_ERROR"
    )


def test_keys_of_a_member_who_leaves_are_revoked(portal, gateway, db):
    admin, developer = portal.studio()
    game = portal.game(admin)
    second_admin = portal.member(admin, "admin")
    theirs = new_key(second_admin, [game], name="theirs")
    mine = new_key(admin, [game], name="mine")
    expect(admin.delete(f"/accounts/me/team/{second_admin.user_id}"), 204)
    assert introspect(gateway, theirs["key"]) == {"active": False}
    assert introspect(gateway, mine["key"])["active"] is True
    listed = {item["name"]: item for item in expect(admin.get("/apikeys"), 200)["items"]}
    assert listed["theirs"]["status"] == "revoked" and listed["theirs"]["revokedReason"] == "creator_left"
    _, data = outbox_events(db, theirs["keyId"])[-1]
    assert data["reason"] == "creator_left" and data["revokedBy"] == admin.user_id
    with db.transaction() as session:
        actions = session.execute(
            select(audit_log.c.action)
            .where(audit_log.c.entity_id == theirs["keyId"])
            .order_by(audit_log.c.audit_id)
        ).scalars()
        assert list(actions) == ["apikey.created", "apikey.revoked"]
    assert developer["developerId"] == listed["theirs"]["developerId"]


def test_apikey_expiring_goes_out_once_seven_days_ahead(portal, app, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    now = datetime.now(UTC)
    soon = new_key(admin, [game], name="soon", expiresAt=format_timestamp(now + timedelta(days=20)))
    later = new_key(admin, [game], name="later", expiresAt=format_timestamp(now + timedelta(days=60)))
    short = new_key(admin, [game], name="short", expiresAt=format_timestamp(now + timedelta(days=2)))
    state = app.extensions["developer_portal"]
    moment = now + timedelta(days=14)
    notify_expiring(state, now=moment)
    notify_expiring(state, now=moment)  # a second run (or a restarted worker) sends nothing again
    assert [t for t, _ in outbox_events(db, soon["keyId"])] == ["apikey.created", "apikey.expiring"]
    _, data = outbox_events(db, soon["keyId"])[-1]
    assert data == {
        "keyId": soon["keyId"],
        "developerId": soon["developerId"],
        "name": "soon",
        "prefix": soon["prefix"],
        "last4": soon["last4"],
        "createdBy": admin.user_id,
        "expiresAt": soon["expiresAt"],
    }
    assert [t for t, _ in outbox_events(db, later["keyId"])] == ["apikey.created"]
    assert [t for t, _ in outbox_events(db, short["keyId"])] == ["apikey.created"]


def test_the_plaintext_key_is_in_no_table_event_audit_entry_or_log(portal, gateway, db, caplog):
    caplog.set_level(logging.DEBUG)
    admin, developer = portal.studio()
    game = portal.game(admin)
    created = new_key(admin, [game])
    rolled = expect(admin.post(f"/apikeys/{created['keyId']}/roll", json={"overlapHours": 1}), 201)
    secrets = [created["key"], rolled["key"]]
    for key in secrets:
        introspect(gateway, key)
        introspect(gateway, key[:-1] + "x")
    expect(admin.delete(f"/apikeys/{rolled['keyId']}"), 204)
    expect(admin.delete(f"/accounts/me/team/{portal.member(admin, 'developer').user_id}"), 204)

    needles = secrets + [key[4:34] for key in secrets]  # the random part alone too
    with db.transaction() as session:
        tables = session.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"),
            {"schema": SCHEMA},
        ).scalars()
        for table in list(tables):
            # every column of every row as one text: names from information_schema, not input
            query = f'SELECT t::text FROM {SCHEMA}."{table}" t'  # noqa: S608
            dump = session.execute(text(query)).scalars().all()
            for needle in needles:
                assert not any(needle in row for row in dump), f"the key is in {table}"
        stored = (
            session.execute(
                select(api_keys.c.key_hash).where(
                    api_keys.c.developer_id == uuid.UUID(developer["developerId"])
                )
            )
            .scalars()
            .all()
        )
        assert len(stored) == 2 and all(len(digest) == 64 for digest in stored)
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert caplog.records and not any(needle in logged for needle in needles)
