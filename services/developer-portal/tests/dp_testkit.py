"""Helpers of the developer portal's tests: people with tokens, studios, teams and games built
through the API itself, and assertions on §3 responses. (A module with a name of its own:
every service's tests share one interpreter, so a plain ``helpers`` would collide.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from developer_portal.db.builds_projection import apply_builds_event
from developer_portal.db.tables import audit_log
from gamekeys_platform.contracts import contract_for
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.events import Event

PREFIX = "/api/v1/developer"
VERIFY_SCOPE = "developers:verify"


def legal_details(**overrides: Any) -> dict[str, Any]:
    return {
        "legalName": "Northwind Games GmbH",
        "country": "DE",
        "registrationNumber": "HRB 12345",
        "taxId": "DE123456789",
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115"},
        "contactEmail": "legal@northwind.example",
        **overrides,
    }


@dataclass
class Actor:
    """Someone calling the API with a token of their own."""

    client: FlaskClient
    token: str
    user_id: str
    email: str | None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, json: Any = None, headers: dict | None = None, **kwargs):
        url = path if path.startswith(("/internal", "/openapi", "/healthz", "/readyz")) else PREFIX + path
        all_headers = {"Authorization": f"Bearer {self.token}", **self.extra_headers, **(headers or {})}
        return self.client.open(url, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


def expect(response, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json() if response.get_data() else None


def assert_error(response, status: int, code: str, reason: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert error["message"] and error["timestamp"].endswith("Z")
    assert error["requestId"] == response.headers["X-Request-Id"]
    if reason is not None:
        assert error["details"].get("reason") == reason, error
    return error


class Portal:
    """Builds people, studios, teams and games through the API."""

    def __init__(self, app, make_token: Callable[..., str]) -> None:
        self.app = app
        self.make_token = make_token
        self.service = Actor(
            app.test_client(),
            make_token(sub="admin-service", roles=(), scopes=(VERIFY_SCOPE,)),
            "admin-service",
            None,
        )

    def user(self, *, roles=("user",), email: str | None = "", sub: str | None = None) -> Actor:
        user_id = sub or str(uuid.uuid4())
        if email == "":
            email = f"user-{user_id[:8]}@example.com"
        token = self.make_token(sub=user_id, roles=roles, email=email)
        return Actor(self.app.test_client(), token, user_id, email)

    def register(self, actor: Actor, name: str | None = None) -> dict:
        body = {"companyName": name or f"Studio {uuid.uuid4().hex[:8]}", "legalDetails": legal_details()}
        return expect(actor.post("/accounts", json=body), 201)

    def verify(self, developer_id: str, status: str = "verified", reason: str | None = None) -> dict:
        response = self.service.post(
            f"/internal/v1/developers/{developer_id}/verification", json={"status": status, "reason": reason}
        )
        return expect(response, 200)

    def studio(self, *, verified: bool = True) -> tuple[Actor, dict]:
        admin = self.user()
        developer = self.register(admin)
        if verified:
            developer = self.verify(developer["developerId"])
        return admin, developer

    def invite(self, admin: Actor, email: str, role: str) -> dict:
        return expect(admin.post("/accounts/me/team", json={"email": email, "role": role}), 201)

    def member(self, admin: Actor, role: str) -> Actor:
        person = self.user()
        invitation = self.invite(admin, person.email, role)
        expect(person.post(f"/accounts/invitations/{invitation['invitationId']}/accept"), 200)
        return person

    def game(self, actor: Actor, title: str | None = None) -> dict:
        return expect(actor.post("/games", json={"title": title or f"Game {uuid.uuid4().hex[:8]}"}), 201)


def audit_count(db, developer_id: str) -> int:
    with db.transaction() as session:
        return session.execute(
            select(func.count()).where(audit_log.c.developer_id == uuid.UUID(developer_id))
        ).scalar_one()


def outbox_count(db) -> int:
    with db.transaction() as session:
        return session.execute(select(func.count()).select_from(db.tables.outbox)).scalar_one()


# --- publishing -----------------------------------------------------------------------------

MODERATE_SCOPE = "games:moderate"

_BUILD_EXTRA = {
    "build.upload_started": lambda: {"createdBy": "ci"},
    "build.scanned": lambda: {"scanner": "ClamAV 1.0"},
    "build.ready": lambda: {"sha256": "ab" * 32},
    "build.failed": lambda: {"failure": {"reason": "malware", "signature": "Eicar-Test-Signature"}},
    "build.rejected": lambda: {"reason": "broken installer"},
}
_BUILD_STATUS = {
    "build.upload_started": "uploading",
    "build.uploaded": "uploaded",
    "build.scanned": "processing",
    "build.ready": "ready",
    "build.failed": "failed",
    "build.rejected": "rejected",
}


def build_event(
    event_type: str,
    game: dict,
    *,
    version_id: str | None = None,
    version: str = "1.0.0",
    platform: str = "windows",
    occurred_at: datetime | None = None,
) -> Event:
    """A builds.events event as game-builds writes it (checked against its contract)."""
    version_id = version_id or str(uuid.uuid4())
    data = {
        "versionId": version_id,
        "gameId": game["gameId"],
        "developerId": game["developerId"],
        "version": version,
        "platform": platform,
        "status": _BUILD_STATUS[event_type],
        "fileSize": 1024,
        "stepSeconds": 1.5,
        "occurredAt": format_timestamp(occurred_at or datetime.now(UTC)),
        **_BUILD_EXTRA.get(event_type, dict)(),
    }
    contract_for("game-builds", event_type).load(data)  # what the producer may send
    return Event(type=event_type, source="game-builds", subject=version_id, data=data)


def project(db, *events: Event) -> None:
    """Events through the worker's handler, each in its own transaction, as the consumer does."""
    for event in events:
        with db.transaction() as session:
            apply_builds_event(session, event)


def ready_build(db, game: dict, **kwargs) -> str:
    event = build_event("build.ready", game, **kwargs)
    project(db, event)
    return event.data["versionId"]


def complete_listing(actor: Actor, game: dict, *, price: str = "19.99") -> None:
    gid = game["gameId"]
    body = {"description": "A long description.", "shortDescription": "Short.", "genres": ["indie"]}
    expect(actor.put(f"/games/{gid}/metadata", json=body), 200)
    expect(actor.put(f"/games/{gid}/pricing", json={"basePrice": {"amount": price, "currency": "USD"}}), 200)


def moderator(portal: Portal) -> Actor:
    token = portal.make_token(sub="admin-service", roles=(), scopes=(MODERATE_SCOPE,))
    return Actor(portal.app.test_client(), token, "admin-service", None)
