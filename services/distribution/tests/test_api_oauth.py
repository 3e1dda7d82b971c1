"""POST /oauth/token (RFC 6749 §4.4) and the retailer token on /retailer/* routes."""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import quote_plus

import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from gamekeys_platform.testing import serving

API = "/api/v1/distribution"
TOKEN = f"{API}/oauth/token"
KEYS = f"{API}/retailer/keys"


def basic(client_id: str, secret: str) -> dict:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_basic_and_form_credentials(client, make_retailer, dist):
    retailer = make_retailer()
    cid, secret = retailer["apiCredentials"]["clientId"], retailer["apiCredentials"]["clientSecret"]
    by_basic = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(cid, secret))
    assert by_basic.status_code == 200, by_basic.get_json()
    body = by_basic.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == dist.settings.retailer_token_ttl_seconds
    assert by_basic.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == retailer["id"] and claims["aud"] == dist.settings.retailer_token_audience
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "RS256"
    by_form = client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": cid,
            "client_secret": secret,
            "scope": "retailer",
        },
    )
    assert by_form.status_code == 200
    keys = client.get(KEYS, headers={"Authorization": f"Bearer {by_form.get_json()['access_token']}"})
    assert keys.status_code == 200 and keys.get_json() == {"items": [], "nextCursor": None}


def test_token_request_errors(client, make_retailer):
    retailer = make_retailer()
    cid, secret = retailer["apiCredentials"]["clientId"], retailer["apiCredentials"]["clientSecret"]
    cases = [
        ({"data": {"grant_type": "password"}, "headers": basic(cid, secret)}, 400, "unsupported_grant_type"),
        (
            {"json": {"grant_type": "client_credentials"}, "headers": basic(cid, secret)},
            400,
            "invalid_request",
        ),
        (
            {
                "data": {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
                "headers": basic(cid, secret),
            },
            400,
            "invalid_request",
        ),
        ({"data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
        (
            {"data": {"grant_type": "client_credentials"}, "headers": basic(cid, secret + "x")},
            401,
            "invalid_client",
        ),
        (
            {"data": {"grant_type": "client_credentials"}, "headers": basic("rtl_unknown", secret)},
            401,
            "invalid_client",
        ),
        (
            {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic !!!"}},
            401,
            "invalid_client",
        ),
        (
            {"data": {"grant_type": "client_credentials", "scope": "admin"}, "headers": basic(cid, secret)},
            400,
            "invalid_scope",
        ),
    ]
    for kwargs, status, oauth_error in cases:
        response = client.post(TOKEN, **kwargs)
        assert response.status_code == status, (kwargs, response.get_json())
        body = response.get_json()
        # RFC 6749 §5.2's body, not §3's: OAuth client libraries parse this one.
        assert body["error"] == oauth_error and body["error_description"] and body["requestId"], body
        assert response.headers["Cache-Control"] == "no-store"
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_expired_and_platform_tokens_are_401(client, make_retailer, retailer_token, dist, make_token):
    retailer = make_retailer()
    good = retailer_token(retailer)
    assert client.get(KEYS, headers=good).status_code == 200
    now = int(time.time())
    expired = jwt.encode(
        {
            "sub": retailer["id"],
            "iss": dist.tokens.issuer,
            "aud": dist.tokens.audience,
            "iat": now - 3600,
            "exp": now - 600,
            "scope": "retailer",
            "ver": 1,
        },
        dist.tokens._private_key,
        algorithm="RS256",
    )
    forged = jwt.encode({"sub": retailer["id"], "scope": "retailer", "ver": 1}, "x" * 48, algorithm="HS256")
    platform = make_token(sub=retailer["id"], roles=("admin",))
    for header in (
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {platform}"},
        {"Authorization": "Bearer garbage"},
        {},
    ):
        response = client.get(KEYS, headers=header)
        assert response.status_code == 401, header
        assert response.get_json()["error"]["code"] == "UNAUTHORIZED"
    # A retailer token is not a platform token either.
    assert client.get(f"{API}/retailers", headers=good).status_code == 401


def test_rotation_invalidates_old_secret_and_tokens(client, make_retailer, retailer_token, admin_auth):
    retailer = make_retailer()
    old_token = retailer_token(retailer)
    rotated = client.post(f"{API}/retailers/{retailer['id']}/credentials", headers=admin_auth)
    assert rotated.status_code == 200
    new_credentials = rotated.get_json()["apiCredentials"]
    assert new_credentials["clientId"] == retailer["apiCredentials"]["clientId"]
    assert new_credentials["clientSecret"] != retailer["apiCredentials"]["clientSecret"]
    old = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(new_credentials["clientId"], retailer["apiCredentials"]["clientSecret"]),
    )
    assert old.status_code == 401
    assert client.get(KEYS, headers=old_token).status_code == 401
    new_token = retailer_token({**retailer, "apiCredentials": new_credentials})
    assert client.get(KEYS, headers=new_token).status_code == 200


def test_suspended_retailer_is_refused(client, make_retailer, retailer_token, admin_auth):
    retailer = make_retailer()
    token = retailer_token(retailer)
    client.patch(f"{API}/retailers/{retailer['id']}", json={"status": "suspended"}, headers=admin_auth)
    refused = client.get(KEYS, headers=token)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "RETAILER_NOT_AUTHORIZED"
    credentials = retailer["apiCredentials"]
    no_token = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(credentials["clientId"], credentials["clientSecret"]),
    )
    assert no_token.status_code == 400 and no_token.get_json()["error"] == "unauthorized_client"
    client.patch(f"{API}/retailers/{retailer['id']}", json={"status": "active"}, headers=admin_auth)
    assert client.get(KEYS, headers=token).status_code == 200


def test_a_standard_oauth_client_gets_a_token_and_reads_its_errors(app, make_retailer):
    """Authlib, as a retailer's integration would use it, against the app on a real server."""
    retailer = make_retailer()
    cid, secret = retailer["apiCredentials"]["clientId"], retailer["apiCredentials"]["clientSecret"]
    with serving(app) as base:
        for method in ("client_secret_basic", "client_secret_post"):
            with OAuth2Session(cid, secret, token_endpoint_auth_method=method) as session:
                token = session.fetch_token(base + TOKEN, grant_type="client_credentials")
                assert token["token_type"] == "Bearer" and token["scope"] == "retailer"
                keys = session.get(base + KEYS, timeout=10)
                assert keys.status_code == 200, keys.text
                assert keys.json() == {"items": [], "nextCursor": None}
        with OAuth2Session(cid, secret + "x") as session, pytest.raises(OAuthError) as refused:
            session.fetch_token(base + TOKEN, grant_type="client_credentials")
        assert refused.value.error == "invalid_client"
        assert refused.value.description == "client authentication failed"
        with OAuth2Session(cid, secret) as session, pytest.raises(OAuthError) as refused:
            session.fetch_token(base + TOKEN, grant_type="client_credentials", scope="admin")
        assert refused.value.error == "invalid_scope"


def test_repeated_failures_are_429_in_the_rfc_body(client, make_retailer, dist):
    retailer = make_retailer()
    cid = retailer["apiCredentials"]["clientId"]
    # An address of its own: failures also count per address, and 127.0.0.1 is every test's.
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    attempt = {
        "data": {"grant_type": "client_credentials"},
        "headers": basic(cid, "wrong"),
        "environ_base": {"REMOTE_ADDR": address},
    }
    for _ in range(dist.settings.retailer_token_failures_per_minute):
        assert client.post(TOKEN, **attempt).status_code == 401
    limited = client.post(TOKEN, **attempt)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"] == "temporarily_unavailable", limited.get_json()
