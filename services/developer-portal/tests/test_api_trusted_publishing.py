"""Trusted publishing over HTTP, with an OIDC issuer the test runs itself (its own key pair, its
JWKS on a real local HTTP server): trusting a CI identity, exchanging its identity token for an
upload token limited to the publisher's games and scopes, the token introspected like an API
key, and every way an identity token is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dp_testkit import UNREACHABLE_ISSUER, Actor, assert_error, expect
from oidc_issuer import AUDIENCE

INTROSPECT = "/internal/v1/apikeys/introspect"
REPOSITORY = "northwind/space-game"


@pytest.fixture(scope="module")
def gateway(portal):
    token = portal.make_token(sub="game-builds", roles=(), scopes=("apikeys:introspect",))
    return Actor(portal.app.test_client(), token, "game-builds", None)


def exchange(anonymous, token, **body):
    return anonymous.post("/api/v1/developer/oidc/token", json={"token": token, **body})


def trust(admin, issuer, games, **body):
    payload = {
        "issuer": issuer.url,
        "claims": {"repository": REPOSITORY, "ref": "refs/heads/main"},
        "scopes": ["builds:write"],
        "gameIds": [g["gameId"] for g in games],
        **body,
    }
    return expect(admin.post("/trusted-publishers", json=payload), 201)


def unique_repository() -> str:
    return f"northwind/game-{uuid.uuid4().hex[:8]}"


def test_a_trusted_ci_identity_gets_a_short_lived_upload_token(portal, oidc_issuer, anonymous, gateway):
    admin, developer = portal.studio()
    games = [portal.game(admin), portal.game(admin)]
    repository = unique_repository()
    publisher = trust(admin, oidc_issuer, games[:1], claims={"repository": repository})
    assert publisher["claims"] == {"repository": repository} and publisher["createdBy"] == admin.user_id
    listed = expect(portal.member(admin, "developer").get("/trusted-publishers"), 200)["items"]
    assert listed == [publisher]

    answer = expect(exchange(anonymous, oidc_issuer.token(repository=repository)), 201)
    token = answer["token"]
    assert token.startswith("gkpt_") and answer["tokenType"] == "Bearer"
    assert 0 < answer["expiresIn"] <= 900
    assert datetime.fromisoformat(answer["expiresAt"]) <= datetime.now(UTC) + timedelta(minutes=15)
    assert (answer["publisherId"], answer["gameIds"], answer["scopes"]) == (
        publisher["publisherId"],
        [games[0]["gameId"]],
        ["builds:write"],
    )
    assert expect(gateway.post(INTROSPECT, json={"key": token}), 200) == {
        "active": True,
        "tokenType": "upload_token",
        "publisherId": publisher["publisherId"],
        "developerId": developer["developerId"],
        "gameIds": [games[0]["gameId"]],
        "scopes": ["builds:write"],
        "expiresAt": answer["expiresAt"],
    }
    log = expect(admin.get("/accounts/me/audit-log"), 200)["items"]
    issued = next(item for item in log if item["action"] == "upload_token.issued")
    assert issued["actorType"] == "service" and issued["actorId"].startswith(f"oidc:{oidc_issuer.url}#")
    assert token not in str(log)

    # Deleting the publisher ends its tokens at once.
    expect(admin.delete(f"/trusted-publishers/{publisher['publisherId']}"), 204)
    assert expect(gateway.post(INTROSPECT, json={"key": token}), 200) == {"active": False}
    assert expect(admin.get("/trusted-publishers"), 200)["items"] == []
    assert_error(exchange(anonymous, oidc_issuer.token(repository=repository)), 403, "FORBIDDEN")


def test_an_identity_token_is_exchanged_once_and_the_jwks_is_cached(portal, oidc_issuer, anonymous):
    admin, _developer = portal.studio()
    repository = unique_repository()
    trust(admin, oidc_issuer, [portal.game(admin)], claims={"repository": repository})
    identity = oidc_issuer.token(repository=repository)
    expect(exchange(anonymous, identity), 201)
    assert_error(exchange(anonymous, identity), 401, "UNAUTHORIZED", "TOKEN_REUSED")
    fetches = oidc_issuer.jwks_fetches
    for _ in range(3):
        expect(exchange(anonymous, oidc_issuer.token(repository=repository)), 201)
    assert fetches >= 1 and oidc_issuer.jwks_fetches == fetches  # served from the cache


def test_identity_tokens_are_checked_for_signature_issuer_audience_expiry_and_claims(
    portal, oidc_issuer, anonymous
):
    admin, _developer = portal.studio()
    repository = unique_repository()
    trust(
        admin, oidc_issuer, [portal.game(admin)], claims={"repository": repository, "ref": "refs/heads/main"}
    )
    cases = {
        "WRONG_AUDIENCE": oidc_issuer.token(repository=repository, aud="someone-else"),
        "EXPIRED": oidc_issuer.token(repository=repository, ttl=-120),
        "INVALID": oidc_issuer.token(repository=repository, key=oidc_issuer.stranger_key()),
        "UNKNOWN_KEY": oidc_issuer.token(repository=repository, kid="rotated-away"),
        "UNTRUSTED_ISSUER": oidc_issuer.token(repository=repository, iss="https://evil.example"),
        "MALFORMED": "not.a.jwt",
    }
    for reason, token in cases.items():
        assert_error(exchange(anonymous, token), 401, "UNAUTHORIZED", reason)
    no_jti = oidc_issuer.token(repository=repository, jti=None)
    assert_error(exchange(anonymous, no_jti), 401, "UNAUTHORIZED")
    # a valid token of another branch or repository is not the identity trusted
    for claims in ({"ref": "refs/heads/feature"}, {"repository": "northwind/other"}):
        token = oidc_issuer.token(**{"repository": repository, **claims})
        assert_error(exchange(anonymous, token), 403, "FORBIDDEN", "NO_TRUSTED_PUBLISHER")
    assert portal.app.extensions["developer_portal"].settings.oidc_audience == AUDIENCE


def test_an_unreachable_issuer_is_a_502_not_a_401(anonymous, oidc_issuer):
    token = oidc_issuer.token(iss=UNREACHABLE_ISSUER)
    assert_error(exchange(anonymous, token), 502, "EXTERNAL_SERVICE_ERROR")


def test_several_matching_publishers_need_a_choice(portal, oidc_issuer, anonymous):
    repository = unique_repository()
    first_admin, _first = portal.studio()
    second_admin, _second = portal.studio()
    first = trust(first_admin, oidc_issuer, [portal.game(first_admin)], claims={"repository": repository})
    second = trust(second_admin, oidc_issuer, [portal.game(second_admin)], claims={"repository": repository})
    error = assert_error(
        exchange(anonymous, oidc_issuer.token(repository=repository)), 409, "CONFLICT", "AMBIGUOUS_PUBLISHER"
    )
    assert set(error["details"]["publisherIds"]) == {first["publisherId"], second["publisherId"]}
    chosen = expect(
        exchange(anonymous, oidc_issuer.token(repository=repository), publisherId=second["publisherId"]), 201
    )
    assert chosen["developerId"] == second["developerId"]


def test_managing_trusted_publishers_is_for_studio_admins(portal, oidc_issuer, nothing_written):
    admin, developer = portal.studio()
    game = portal.game(admin)
    publisher = trust(admin, oidc_issuer, [game])
    body = {"issuer": oidc_issuer.url, "subject": "repo:a/b:ref:refs/heads/main", "scopes": ["builds:read"]}
    body["gameIds"] = [game["gameId"]]
    for role in ("developer", "marketing", "finance"):
        member = portal.member(admin, role)
        assert_error(member.post("/trusted-publishers", json=body), 403, "FORBIDDEN")
        assert_error(member.delete(f"/trusted-publishers/{publisher['publisherId']}"), 403, "FORBIDDEN")
        assert member.get("/trusted-publishers").status_code == (200 if role == "developer" else 403)
    other_admin, _other = portal.studio()
    assert_error(other_admin.delete(f"/trusted-publishers/{publisher['publisherId']}"), 404, "NOT_FOUND")
    platform_admin = portal.user(roles=("admin",))
    listed = expect(platform_admin.get(f"/trusted-publishers?developerId={developer['developerId']}"), 200)
    assert [item["publisherId"] for item in listed["items"]] == [publisher["publisherId"]]

    theirs = portal.game(other_admin)
    with nothing_written(developer["developerId"]):
        for change, reason in (
            ({"issuer": "https://issuer.example"}, "UNKNOWN_ISSUER"),
            ({"gameIds": [theirs["gameId"]]}, "UNKNOWN_GAME"),
        ):
            assert_error(
                admin.post("/trusted-publishers", json={**body, **change}), 422, "VALIDATION_ERROR", reason
            )
        for change in (
            {"subject": None},  # no condition at all
            {"subject": None, "claims": {"workflow_ref": "x"}},  # every repository's workflow
            {"claims": {"aud": "x"}},
            {"scopes": ["builds:delete"]},
            {"gameIds": []},
        ):
            assert_error(admin.post("/trusted-publishers", json={**body, **change}), 422, "VALIDATION_ERROR")
