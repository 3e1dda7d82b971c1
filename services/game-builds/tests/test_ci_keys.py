"""CI credentials against the real developer-portal: its app on a real local HTTP server with its
own fresh, migrated database; the studio, its games and keys created through its API; game-builds'
studio projection fed the developer.events the portal wrote. A key pushes builds (over HTTP and
with the CLI) within its games and scopes; a revoked key stops working within the cache window;
the portal stopped is 503."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from gb_testkit import put_parts, version_body
from sqlalchemy import select

from developer_portal.app import create_app as create_portal_app
from developer_portal.settings import Settings as PortalSettings
from game_builds.app import create_app
from game_builds.db.tables import builds, studio_projection
from game_builds.worker import BuildProcessor
from gamekeys_platform.events import Event
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.settings import load_settings
from gamekeys_platform.testing import free_port, fresh_database, serving

PORTAL_DIR = Path(__file__).resolve().parents[2] / "developer-portal"
PREFIX = "/api/v1/developer"
CACHE_SECONDS = 2.0
MIB = 1024 * 1024


@dataclass
class Portal:
    url: str
    app: object
    make_token: object

    def call(self, method: str, path: str, token: str, json=None) -> requests.Response:
        url = self.url + (path if path.startswith("/internal") else PREFIX + path)
        return requests.request(
            method, url, json=json, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def key(self, admin: str, game_ids: list[str], scopes: list[str]) -> dict:
        body = {"name": f"ci {uuid.uuid4().hex[:6]}", "scopes": scopes, "gameIds": game_ids}
        response = self.call("POST", "/apikeys", admin, body)
        assert response.status_code == 201, response.text
        return response.json()


@dataclass
class KeyedStudio:
    developer_id: str
    admin: str  # the studio admin's JWT at the portal
    games: list[str]
    write: dict  # keys as the portal created them ({"keyId", "key", ...})
    read: dict
    other_game: dict


@pytest.fixture(scope="module")
def portal(platform_env, make_token):
    with fresh_database() as url:
        upgrade_to_head(PORTAL_DIR / "alembic.ini", url)
        settings = load_settings(
            PortalSettings,
            **{
                **platform_env,
                "database_url": url,
                "payout_details_keys": Fernet.generate_key().decode(),
                "analytics_url": f"http://127.0.0.1:{free_port()}",  # not called by these tests
            },
        )
        app = create_portal_app(settings)
        try:
            with serving(app) as base:
                yield Portal(base, app, make_token)
        finally:
            app.extensions["developer_portal"].db.dispose()


def keyed_app(settings, portal_url: str):
    """game-builds pointed at ``portal_url``, trusting an introspection answer CACHE_SECONDS."""
    overrides = {
        "developer_portal_url": portal_url,
        "apikey_cache_seconds": CACHE_SECONDS,
        "apikey_inactive_cache_seconds": 0.5,
        "build_poll_seconds": 0.2,
    }
    return create_app(settings.model_copy(update=overrides))


@pytest.fixture(scope="module")
def gb_app(settings, portal):
    app = keyed_app(settings, portal.url)
    yield app
    app.extensions["game_builds"].db.dispose()


@pytest.fixture(scope="module")
def gb_url(gb_app):
    processor = BuildProcessor(gb_app.extensions["game_builds"])
    thread = threading.Thread(target=processor.run_forever, daemon=True)
    thread.start()
    with serving(gb_app) as url:
        yield url
    processor.stop()
    thread.join(10)


def feed_developer_events(portal: Portal, gb_app) -> None:
    """What game-builds' developer.events consumer would do with everything the portal wrote."""
    portal_db = portal.app.extensions["developer_portal"].db
    outbox = portal_db.tables.outbox
    with portal_db.transaction() as session:
        payloads = session.execute(select(outbox.c.payload).order_by(outbox.c.seq)).scalars().all()
    gb = gb_app.extensions["game_builds"]
    handlers = studio_projection.handlers()
    with gb.db.transaction() as session:
        for payload in payloads:
            handlers(session, Event.from_dict(payload))


@pytest.fixture(scope="module")
def studio(portal, gb_app) -> KeyedStudio:
    admin = portal.make_token(sub=str(uuid.uuid4()), roles=("user",), email="admin@studio.example")
    registered = portal.call(
        "POST",
        "/accounts",
        admin,
        {
            "companyName": f"Studio {uuid.uuid4().hex[:8]}",
            "legalDetails": {
                "legalName": "Northwind Games GmbH",
                "country": "DE",
                "registrationNumber": "HRB 12345",
                "taxId": "DE123456789",
                "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115"},
                "contactEmail": "legal@northwind.example",
            },
        },
    )
    assert registered.status_code == 201, registered.text
    developer_id = registered.json()["developerId"]
    admin_service = portal.make_token(sub="admin-service", roles=(), scopes=("developers:verify",))
    verified = portal.call(
        "POST",
        f"/internal/v1/developers/{developer_id}/verification",
        admin_service,
        {"status": "verified", "reason": None},
    )
    assert verified.status_code == 200, verified.text
    games = []
    for title in ("Game A", "Game B"):
        created = portal.call("POST", "/games", admin, {"title": title})
        assert created.status_code == 201, created.text
        games.append(created.json()["gameId"])
    feed_developer_events(portal, gb_app)
    return KeyedStudio(
        developer_id=developer_id,
        admin=admin,
        games=games,
        write=portal.key(admin, [games[0]], ["builds:write"]),
        read=portal.key(admin, [games[0]], ["builds:read"]),
        other_game=portal.key(admin, [games[1]], ["builds:read", "builds:write"]),
    )


def bearer(key: dict | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key'] if isinstance(key, dict) else key}"}


def versions(game_id: str) -> str:
    return f"{PREFIX}/games/{game_id}/versions"


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    error = response.get_json()["error"]
    assert error["code"] == code and error["requestId"] == response.headers["X-Request-Id"]
    return error


def test_a_write_key_creates_uploads_and_completes_a_version(gb_app, studio):
    client = gb_app.test_client()
    game = studio.games[0]
    data = os.urandom(MIB + 17)
    created = client.post(versions(game), json=version_body(data, "0.1.0"), headers=bearer(studio.write))
    assert created.status_code == 201, created.get_data(as_text=True)
    version = created.get_json()
    assert version["createdBy"] == f"apikey:{studio.write['keyId']}"
    parts = put_parts(version["upload"]["parts"], data, version["upload"]["partSize"])
    path = f"{versions(game)}/{version['versionId']}"
    done = client.post(f"{path}/upload/complete", json={"parts": parts}, headers=bearer(studio.write))
    assert done.status_code == 202, done.get_data(as_text=True)
    # builds:write also reads: a CI job follows its build until it is ready.
    assert client.get(path, headers=bearer(studio.write)).status_code == 200
    edited = client.put(path, json={"changelog": "from CI"}, headers=bearer(studio.write))
    assert edited.status_code == 200 and edited.get_json()["changelog"] == "from CI"


def test_a_read_only_key_reads_but_may_not_write(gb_app, studio):
    client = gb_app.test_client()
    game = studio.games[0]
    listed = client.get(versions(game), headers=bearer(studio.read))
    assert listed.status_code == 200
    [version] = [item for item in listed.get_json()["items"] if item["version"] == "0.1.0"]
    path = f"{versions(game)}/{version['versionId']}"
    assert client.get(path, headers=bearer(studio.read)).status_code == 200

    body = version_body(b"x" * 100, "0.2.0")
    error = error_of(client.post(versions(game), json=body, headers=bearer(studio.read)), 403, "FORBIDDEN")
    assert error["details"]["requiredScopes"] == ["builds:write"]
    assert "builds:write" in error["message"]
    for method, url, json in (
        ("PUT", path, {"changelog": "no"}),
        ("DELETE", path, None),
        ("POST", f"{path}/upload/parts", {"partNumbers": [1]}),
        (
            "POST",
            f"{PREFIX}/games/{game}/media",
            {"kind": "screenshot", "contentType": "image/png", "size": 10},
        ),
    ):
        refused = client.open(url, method=method, json=json, headers=bearer(studio.read))
        assert error_of(refused, 403, "FORBIDDEN")["details"]["requiredScopes"] == ["builds:write"], url
    assert client.get(path, headers=bearer(studio.read)).get_json()["changelog"] == "from CI"


def test_a_key_of_another_game_is_a_stranger(gb_app, studio):
    client = gb_app.test_client()
    game = studio.games[0]
    body = version_body(b"x" * 100, "0.3.0")
    error_of(client.post(versions(game), json=body, headers=bearer(studio.other_game)), 404, "NOT_FOUND")
    error_of(client.get(versions(game), headers=bearer(studio.other_game)), 404, "NOT_FOUND")
    error_of(client.get(f"{PREFIX}/games/{game}/media", headers=bearer(studio.other_game)), 404, "NOT_FOUND")
    # ... whatever its scopes: a read-only key of this game asks another game's builds.
    error_of(client.get(versions(studio.games[1]), headers=bearer(studio.read)), 404, "NOT_FOUND")
    # Its own game works.
    assert client.get(versions(studio.games[1]), headers=bearer(studio.other_game)).status_code == 200


def test_credentials_that_are_not_keys_are_401_and_jwts_still_work(gb_app, studio, make_token):
    client = gb_app.test_client()
    game = studio.games[0]
    mistyped = studio.read["key"][:-1] + ("A" if studio.read["key"][-1] != "A" else "B")
    for credential in (mistyped, "gkp_short", "gkpt_" + "a" * 36):
        error_of(client.get(versions(game), headers=bearer(credential)), 401, "UNAUTHORIZED")
    # The studio's admin, as the portal registered them, with a platform JWT.
    [admin] = _members(gb_app, studio.developer_id)
    assert admin.role == "admin"
    jwt = make_token(sub=admin.user_id, roles=("developer",))
    assert client.get(versions(game), headers=bearer(jwt)).status_code == 200


def _members(gb_app, developer_id: str):
    members = studio_projection.members
    db = gb_app.extensions["game_builds"].db
    with db.transaction() as session:
        query = select(members).where(members.c.developer_id == uuid.UUID(developer_id))
        return session.execute(query).all()


def test_the_cli_pushes_with_a_key_and_the_portal_records_its_use(gb_url, portal, studio, tmp_path):
    path = tmp_path / "game.zip"
    path.write_bytes(os.urandom(6 * MIB + 5))
    environment = {
        key: value for key, value in os.environ.items() if key not in ("GAMEKEYS_TOKEN", "GAMEKEYS_API_KEY")
    }
    environment["GAMEKEYS_API_KEY"] = studio.write["key"]
    command = [sys.executable, "-m", "gamekeys_cli", "--api-url", gb_url, "push", str(path)]
    command += ["--game", studio.games[0], "--version", "1.0.0", "--platform", "linux"]
    command += ["--state-dir", str(tmp_path / "state")]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": ready")

    # With a read-only key the CLI stops at the first write with the refusal, non-zero.
    environment["GAMEKEYS_API_KEY"] = studio.read["key"]
    command[command.index("1.0.0")] = "1.0.1"
    refused = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "builds:write" in refused.stderr

    listed = portal.call("GET", "/apikeys", studio.admin).json()["items"]
    [used] = [item for item in listed if item["keyId"] == studio.write["keyId"]]
    assert used["lastUsedAt"] is not None and used["lastUsedAddress"] == "127.0.0.1"


def test_a_revoked_key_stops_working_within_the_cache_window(gb_app, portal, studio):
    client = gb_app.test_client()
    key = portal.key(studio.admin, [studio.games[0]], ["builds:read"])
    assert client.get(versions(studio.games[0]), headers=bearer(key)).status_code == 200  # now cached
    revoked = portal.call("DELETE", f"/apikeys/{key['keyId']}", studio.admin)
    assert revoked.status_code == 204
    revoked_at = time.monotonic()
    while client.get(versions(studio.games[0]), headers=bearer(key)).status_code == 200:
        assert time.monotonic() - revoked_at <= CACHE_SECONDS + 1, "still accepted after the cache window"
        time.sleep(0.1)
    error_of(client.get(versions(studio.games[0]), headers=bearer(key)), 401, "UNAUTHORIZED")


def test_an_unreachable_portal_is_503_never_500(settings, portal, studio, make_token):
    key = portal.key(studio.admin, [studio.games[0]], ["builds:read"])
    with serving(portal.app) as doomed_url:
        app = keyed_app(settings, doomed_url)
    # The server is shut down: nothing answers at doomed_url any more.
    try:
        client = app.test_client()
        for _ in range(2):
            response = client.get(versions(studio.games[0]), headers=bearer(key))
            error = error_of(response, 503, "SERVICE_UNAVAILABLE")
            assert error["details"]["service"] == "developer-portal"
            assert response.headers["Retry-After"]
        # JWT callers do not depend on developer-portal.
        assert (
            client.get(
                versions(studio.games[0]), headers=bearer(make_token(roles=("developer",)))
            ).status_code
            == 404
        )
    finally:
        app.extensions["game_builds"].db.dispose()


def test_no_key_reaches_game_builds_tables_or_events(gb_app, studio):
    gb = gb_app.extensions["game_builds"]
    tables = (builds, gb.db.tables.outbox, gb.db.tables.idempotency_keys)
    with gb.db.transaction() as session:
        dumped = " ".join(str(row) for table in tables for row in session.execute(select(table)).all())
    assert f"apikey:{studio.write['keyId']}" in dumped  # the creator is the key's id...
    for key in (studio.write, studio.read, studio.other_game):
        assert key["key"] not in dumped  # ...never the key
