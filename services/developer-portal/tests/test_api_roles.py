"""The role matrix (§7) on every endpoint: the four studio roles of studio A, the admin of
studio B (a stranger to A: 404 for everything of A), a platform admin (reads any studio,
403 on writes), platform support and a user without a studio (404), a service token without
a user role (403) and no token (401)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from dp_testkit import Actor, assert_error, expect

PERSONAS = ("admin", "developer", "marketing", "finance", "outsider", "platform_admin", "support", "nostudio")


def row(*statuses: int | None) -> dict[str, int | None]:
    assert len(statuses) == len(PERSONAS)
    return dict(zip(PERSONAS, statuses, strict=True))


@dataclass
class World:
    portal: Any
    actors: dict[str, Actor]
    developer_id: str
    game_id: str

    @property
    def admin(self) -> Actor:
        return self.actors["admin"]

    def fresh_member(self) -> str:
        return self.portal.member(self.admin, "developer").user_id

    def fresh_invitation(self) -> str:
        return self.portal.invite(self.admin, f"inv-{uuid.uuid4().hex[:8]}@example.com", "finance")[
            "invitationId"
        ]

    def fresh_game(self) -> str:
        return self.portal.game(self.admin)["gameId"]


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


# name: (request builder (world) -> (method, path, body), expected status per persona)
CASES: dict[str, tuple[Any, dict[str, int]]] = {
    "GET /accounts/me": (
        lambda w: ("GET", "/accounts/me", None),
        row(200, 200, 200, 200, 200, 404, 404, 404),
    ),
    "PUT /accounts/me": (
        lambda w: ("PUT", "/accounts/me", {"companyName": unique("Studio")}),
        row(200, 403, 403, 403, 200, 404, 404, 404),
    ),
    "GET /accounts": (lambda w: ("GET", "/accounts", None), row(403, 403, 403, 403, 403, 200, 403, 403)),
    "GET /accounts/{id}": (
        lambda w: ("GET", f"/accounts/{w.developer_id}", None),
        row(200, 200, 200, 200, 404, 200, 404, 404),
    ),
    "GET /accounts/me/team": (
        lambda w: ("GET", "/accounts/me/team", None),
        row(200, 200, 200, 200, 200, 404, 404, 404),
    ),
    "GET /accounts/{id}/team": (
        lambda w: ("GET", f"/accounts/{w.developer_id}/team", None),
        row(200, 200, 200, 200, 404, 200, 404, 404),
    ),
    "POST /accounts/me/team": (
        lambda w: (
            "POST",
            "/accounts/me/team",
            {"email": f"{uuid.uuid4().hex[:8]}@example.com", "role": "developer"},
        ),
        row(201, 403, 403, 403, 201, 404, 404, 404),
    ),
    "GET /accounts/me/team/invitations": (
        lambda w: ("GET", "/accounts/me/team/invitations", None),
        row(200, 403, 403, 403, 200, 404, 404, 404),
    ),
    "DELETE /accounts/me/team/invitations/{id}": (
        lambda w: ("DELETE", f"/accounts/me/team/invitations/{w.fresh_invitation()}", None),
        row(204, 403, 403, 403, 404, 404, 404, 404),
    ),
    "PUT /accounts/me/team/{userId}": (
        lambda w: ("PUT", f"/accounts/me/team/{w.fresh_member()}", {"role": "marketing"}),
        row(200, 403, 403, 403, 404, 404, 404, 404),
    ),
    "DELETE /accounts/me/team/{userId}": (
        lambda w: ("DELETE", f"/accounts/me/team/{w.fresh_member()}", None),
        row(204, 403, 403, 403, 404, 404, 404, 404),
    ),
    "GET /accounts/me/audit-log": (
        lambda w: ("GET", "/accounts/me/audit-log", None),
        row(200, 403, 403, 403, 200, 404, 404, 404),
    ),
    "GET /accounts/{id}/audit-log": (
        lambda w: ("GET", f"/accounts/{w.developer_id}/audit-log", None),
        row(200, 403, 403, 403, 404, 200, 404, 404),
    ),
    "GET /accounts/invitations": (
        lambda w: ("GET", "/accounts/invitations", None),
        row(200, 200, 200, 200, 200, 200, 200, 200),
    ),
    "POST /games": (
        lambda w: ("POST", "/games", {"title": unique("Game")}),
        row(201, 201, 403, 403, 201, 404, 404, 404),
    ),
    "GET /games": (lambda w: ("GET", "/games", None), row(200, 200, 200, 200, 200, 200, 404, 404)),
    "GET /games?developerId=": (
        lambda w: ("GET", f"/games?developerId={w.developer_id}", None),
        row(200, 200, 200, 200, 404, 200, 404, 404),
    ),
    "GET /games/{id}": (
        lambda w: ("GET", f"/games/{w.game_id}", None),
        row(200, 200, 200, 200, 404, 200, 404, 404),
    ),
    "PUT /games/{id}": (
        lambda w: ("PUT", f"/games/{w.game_id}", {"title": unique("Renamed")}),
        row(200, 200, 403, 403, 404, 403, 404, 404),
    ),
    "DELETE /games/{id}": (
        lambda w: ("DELETE", f"/games/{w.fresh_game()}", None),
        row(204, 204, 403, 403, 404, 403, 404, 404),
    ),
    "GET /games/{id}/metadata": (
        lambda w: ("GET", f"/games/{w.game_id}/metadata", None),
        row(200, 200, 200, 200, 404, 200, 404, 404),
    ),
    "PUT /games/{id}/metadata": (
        lambda w: ("PUT", f"/games/{w.game_id}/metadata", {"description": unique("About")}),
        row(200, 200, 200, 403, 404, 403, 404, 404),
    ),
    "GET /games/{id}/pricing": (
        lambda w: ("GET", f"/games/{w.game_id}/pricing", None),
        row(200, 200, 200, 200, 404, 200, 404, 404),
    ),
    "PUT /games/{id}/pricing": (
        lambda w: (
            "PUT",
            f"/games/{w.game_id}/pricing",
            {"basePrice": {"amount": f"{uuid.uuid4().int % 5000}.99", "currency": "EUR"}},
        ),
        row(200, 200, 403, 200, 404, 403, 404, 404),
    ),
    "GET /apikeys": (lambda w: ("GET", "/apikeys", None), row(200, 200, 403, 403, 200, 404, 404, 404)),
    "GET /apikeys?developerId=": (
        lambda w: ("GET", f"/apikeys?developerId={w.developer_id}", None),
        row(200, 200, 403, 403, 404, 200, 404, 404),
    ),
    "POST /apikeys": (
        lambda w: ("POST", "/apikeys", {"name": "CI", "scopes": ["builds:write"], "gameIds": [w.game_id]}),
        row(201, 403, 403, 403, None, 404, 404, 404),
    ),
    "GET /trusted-publishers": (
        lambda w: ("GET", "/trusted-publishers", None),
        row(200, 200, 403, 403, 200, 404, 404, 404),
    ),
    "POST /internal/v1/apikeys/introspect": (
        lambda w: ("POST", "/internal/v1/apikeys/introspect", {"key": "gkp_x"}),
        row(403, 403, 403, 403, 403, 403, 403, 403),
    ),
    "POST /internal/v1/developers/{id}/verification": (
        lambda w: ("POST", f"/internal/v1/developers/{w.developer_id}/verification", {"status": "verified"}),
        row(403, 403, 403, 403, 403, 403, 403, 403),
    ),
}


@pytest.fixture(scope="module")
def world(portal) -> World:
    admin, developer = portal.studio()
    actors = {"admin": admin}
    for role in ("developer", "marketing", "finance"):
        actors[role] = portal.member(admin, role)
    actors["outsider"], _other = portal.studio()
    actors["platform_admin"] = portal.user(roles=("admin",))
    actors["support"] = portal.user(roles=("support",))
    actors["nostudio"] = portal.user(roles=("user", "developer"))
    game = portal.game(admin)
    return World(portal, actors, developer["developerId"], game["gameId"])


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", list(CASES))
def test_role_matrix(world, case, persona):
    build, expected = CASES[case]
    method, path, body = build(world)
    response = world.actors[persona].request(method, path, json=body)
    status = expected[persona]
    if status is None:  # another studio's game in the body: refused as a body error, not by role
        assert_error(response, 422, "VALIDATION_ERROR", "UNKNOWN_GAME")
    elif status < 400:
        expect(response, status)
    else:
        assert_error(response, status, {403: "FORBIDDEN", 404: "NOT_FOUND"}[status])


@pytest.mark.parametrize("case", list(CASES))
def test_without_a_token_every_endpoint_is_401(world, anonymous, case):
    method, path, body = CASES[case][0](world)
    url = path if path.startswith("/internal") else "/api/v1/developer" + path
    assert_error(anonymous.open(url, method=method, json=body), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("case", [name for name in CASES if "/internal/" not in name])
def test_a_service_token_is_refused_on_public_endpoints(world, anonymous, make_token, case):
    method, path, body = CASES[case][0](world)
    token = make_token(sub="some-service", roles=(), scopes=("developers:verify", "keys:activate"))
    response = anonymous.open(
        "/api/v1/developer" + path, method=method, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(response, 403, "FORBIDDEN")


def test_forged_and_expired_tokens_are_401(world, anonymous, make_token):
    good = world.admin.token
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = make_token(sub=world.admin.user_id, roles=("user",), exp=1)
    for token in (forged, expired, "not-a-jwt"):
        response = anonymous.get(
            "/api/v1/developer/accounts/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert_error(response, 401, "UNAUTHORIZED")
