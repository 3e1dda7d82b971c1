"""Auth (§3, §7): the JWT attack matrix, role/scope decorators, JWKS, service tokens, dev CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import flask_smorest
import jwt
import marshmallow as ma
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask, jsonify

from gamekeys_platform import auth as auth_module
from gamekeys_platform import cli, devkeys
from gamekeys_platform.auth import (
    JwtVerifier,
    Principal,
    current_principal,
    ensure,
    init_auth,
    init_opaque_tokens,
    invalid_token,
    optional_principal,
    require_auth,
    require_role_or_scope,
    require_roles,
    require_scopes,
)
from gamekeys_platform.errors import ApiError
from gamekeys_platform.service_tokens import ServiceTokenProvider
from gamekeys_platform.settings import ConfigError, PlatformSettings, load_settings
from gamekeys_platform.testing import free_port

ISSUER = devkeys.DEV_ISSUER
AUDIENCE = devkeys.DEV_AUDIENCE
USER_ID = str(uuid.uuid4())


# --- helpers -------------------------------------------------------------------------------


def b64url(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def valid_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": USER_ID,
        "iat": now,
        "exp": now + 600,
        "roles": ["admin"],
    }
    claims.update(overrides)
    return claims


def hand_made(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{b64url(header)}.{b64url(claims)}.{b64url(signature)}"


def new_pem_pair(key) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def assert_unauthorized(
    response, token: str | None = None, *, challenge: str = 'Bearer error="invalid_token"'
):
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "timestamp", "requestId"}
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == challenge
    text = response.get_data(as_text=True)
    if token:
        for segment in token.split("."):
            assert len(segment) < 8 or segment not in text


class JsonServer:
    """A real HTTP server on 127.0.0.1 answering with whatever ``handle`` returns."""

    def __init__(self, handle) -> None:
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = {
                    "method": self.command,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length),
                }
                server.requests.append(request)
                status, payload = handle(request)
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_pem(dev_key_dir: Path) -> str:
    return (dev_key_dir / devkeys.PRIVATE_KEY_FILE).read_text()


@pytest.fixture(scope="module")
def public_pem(dev_key_dir: Path) -> str:
    return (dev_key_dir / devkeys.PUBLIC_KEY_FILE).read_text()


@pytest.fixture(scope="module")
def verifier(public_pem: str) -> JwtVerifier:
    return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public_pem)


def principal_json(principal: Principal | None):
    if principal is None:
        return jsonify(principal=None)
    return jsonify(
        subject=principal.subject,
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
        email=principal.email,
        isService=principal.is_service,
    )


def build_app(verifier: JwtVerifier) -> Flask:
    app = Flask(__name__)
    init_auth(app, verifier)

    @app.errorhandler(ApiError)
    def render(exc: ApiError):
        return jsonify(exc.body()), exc.status, exc.headers

    @app.get("/me")
    @require_auth
    def me():
        assert current_principal() is current_principal()  # verified once, cached on g
        return principal_json(current_principal())

    @app.get("/admin")
    @require_roles("admin")
    def admin_only():
        return principal_json(current_principal())

    @app.get("/internal")
    @require_scopes("keys:activate")
    def internal():
        return principal_json(current_principal())

    @app.get("/support-or-reader")
    @require_role_or_scope(roles=("support",), scopes=("keys:read",))
    def support_or_reader():
        return principal_json(current_principal())

    @app.get("/lone-string")
    @require_role_or_scope(roles="admin")
    def lone_string():
        return principal_json(current_principal())

    @app.get("/optional")
    def optional():
        return principal_json(optional_principal())

    @app.get("/owned/<owner>")
    @require_auth
    def owned(owner: str):
        ensure(owner == current_principal().subject, "NOT_FOUND", "game not found")
        return jsonify(owner=owner)

    return app


@pytest.fixture(scope="module")
def client(verifier: JwtVerifier):
    return build_app(verifier).test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- valid tokens, roles and scopes --------------------------------------------------------


def test_valid_token_gives_the_principal(client, make_token):
    token = make_token(sub=USER_ID, roles=("developer",), email="dev@studio.example")
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {
        "subject": USER_ID,
        "roles": ["developer"],
        "scopes": [],
        "email": "dev@studio.example",
        "isService": False,
    }


def test_bearer_scheme_is_case_insensitive(client, make_token):
    response = client.get("/me", headers={"Authorization": f"bearer {make_token()}"})
    assert response.status_code == 200


def test_token_within_leeway_of_expiry_is_accepted(client, make_token):
    now = int(time.time())
    assert client.get("/me", headers=bearer(make_token(iat=now - 600, exp=now - 1))).status_code == 200


def test_token_past_the_leeway_is_unauthorized(client, make_token):
    now = int(time.time())
    token = make_token(iat=now - 600, exp=now - 15)  # the default leeway is 5 s
    assert_unauthorized(client.get("/me", headers=bearer(token)))


def test_role_required(client, make_token):
    assert client.get("/admin", headers=bearer(make_token(roles=("admin",)))).status_code == 200
    response = client.get("/admin", headers=bearer(make_token(roles=("developer", "user"))))
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "FORBIDDEN"
    assert error["details"] == {"requiredRoles": ["admin"]}


def test_scope_required_for_service_tokens(client, make_token):
    service = make_token(sub="activation-gateway", roles=(), scopes=("keys:read", "keys:activate"))
    response = client.get("/internal", headers=bearer(service))
    assert response.status_code == 200
    assert response.get_json()["isService"] is True
    assert response.get_json()["scopes"] == ["keys:activate", "keys:read"]

    other_scope = make_token(sub="analytics", roles=(), scopes=("keys:read",))
    assert client.get("/internal", headers=bearer(other_scope)).get_json()["error"]["code"] == "FORBIDDEN"
    admin_user = make_token(roles=("admin",))
    assert client.get("/internal", headers=bearer(admin_user)).status_code == 403


def test_role_or_scope(client, make_token):
    assert client.get("/support-or-reader", headers=bearer(make_token(roles=("support",)))).status_code == 200
    reader = make_token(sub="analytics", roles=(), scopes="keys:read")
    assert client.get("/support-or-reader", headers=bearer(reader)).status_code == 200
    response = client.get("/support-or-reader", headers=bearer(make_token(roles=("user",))))
    assert response.status_code == 403
    assert response.get_json()["error"]["details"] == {
        "requiredRoles": ["support"],
        "requiredScopes": ["keys:read"],
    }


def test_scope_claim_as_a_list(client, make_token):
    token = make_token(sub="key-manager", roles=(), scope=["keys:activate"])
    assert client.get("/internal", headers=bearer(token)).status_code == 200


def test_forbidden_needs_a_token_first(client):
    assert_unauthorized(client.get("/admin"), challenge="Bearer")
    assert_unauthorized(client.get("/internal"), challenge="Bearer")


def test_optional_principal(client, make_token):
    assert client.get("/optional").get_json() == {"principal": None}
    assert client.get("/optional", headers=bearer(make_token(sub=USER_ID))).get_json()["subject"] == USER_ID
    assert_unauthorized(client.get("/optional", headers=bearer("not-a-token")), "not-a-token")


def test_ensure_hides_what_the_caller_does_not_own(client, make_token):
    token = make_token(sub=USER_ID)
    assert client.get(f"/owned/{USER_ID}", headers=bearer(token)).status_code == 200
    response = client.get(f"/owned/{uuid.uuid4()}", headers=bearer(token))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


# --- the 401 matrix ------------------------------------------------------------------------


def sign(claims: dict[str, Any], key: str, algorithm: str = "RS256", **headers: Any) -> str:
    """Sign any payload, even one PyJWT's encoder would refuse (a list as iss)."""
    payload = json.dumps({name: value for name, value in claims.items() if value is not None}).encode()
    return jwt.PyJWS().encode(payload, key, algorithm=algorithm, headers=headers or None)


def forged_tokens(private_pem: str, public_pem: str) -> dict[str, str]:
    now = int(time.time())

    def signed(**overrides: Any) -> str:
        return sign(valid_claims(**overrides), private_pem)

    header, payload, signature = signed(roles=["user"]).split(".")
    tampered_claims = json.loads(unb64url(payload)) | {"roles": ["admin"]}

    hs_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT'})}.{b64url(valid_claims())}"
    hs_signature = hmac.new(public_pem.encode(), hs_input.encode(), hashlib.sha256).digest()

    other_private, _ = new_pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_private, _ = new_pem_pair(ec.generate_private_key(ec.SECP256R1()))

    return {
        "alg none": hand_made({"alg": "none", "typ": "JWT"}, valid_claims()),
        "alg None": hand_made({"alg": "None"}, valid_claims()),
        "alg none with a signature": hand_made({"alg": "none"}, valid_claims(), b"sig"),
        "no alg": hand_made({"typ": "JWT"}, valid_claims()),
        "HS256 with the public key as secret": f"{hs_input}.{b64url(hs_signature)}",
        "expired": signed(iat=now - 7200, exp=now - 3600),
        "expired beyond leeway": signed(iat=now - 600, exp=now - 60),
        "nbf in the future": signed(nbf=now + 3600),
        "iat in the future": signed(iat=now + 3600, exp=now + 7200),
        "wrong aud": signed(aud="another-platform"),
        "aud list without ours": signed(aud=["another-platform", "gamekeys"]),
        "wrong iss": signed(iss="https://evil.example"),
        "iss prefix": signed(iss="https://auth.gamekeys"),
        "iss without scheme": signed(iss="auth.gamekeys.local"),
        "iss with a suffix": signed(iss="https://auth.gamekeys.local.evil.example"),
        "iss with a trailing slash": signed(iss=ISSUER + "/"),
        "iss as a list": signed(iss=[ISSUER]),
        "iss as a list with another": signed(iss=[ISSUER, "https://evil.example"]),
        "tampered payload": f"{header}.{b64url(tampered_claims)}.{signature}",
        "signature stripped": f"{header}.{payload}.",
        "missing sub": signed(sub=None),
        "empty sub": signed(sub=""),
        "numeric sub": signed(sub=12345),
        "missing exp": signed(exp=None),
        "missing iat": signed(iat=None),
        "missing iss": signed(iss=None),
        "missing aud": signed(aud=None),
        "roles as a string": signed(roles="admin"),
        "email not a string": signed(email=["a@b.example"]),
        "signed by another RSA key": sign(valid_claims(), other_private),
        "ES256 when the family is RS": sign(valid_claims(), ec_private, "ES256"),
        "RS512": sign(valid_claims(), private_pem, "RS512"),
        "PS256": sign(valid_claims(), private_pem, "PS256"),
    }


FORGED_CASES = [
    "alg none",
    "alg None",
    "alg none with a signature",
    "no alg",
    "HS256 with the public key as secret",
    "expired",
    "expired beyond leeway",
    "nbf in the future",
    "iat in the future",
    "wrong aud",
    "aud list without ours",
    "wrong iss",
    "iss prefix",
    "iss without scheme",
    "iss with a suffix",
    "iss with a trailing slash",
    "iss as a list",
    "iss as a list with another",
    "tampered payload",
    "signature stripped",
    "missing sub",
    "empty sub",
    "numeric sub",
    "missing exp",
    "missing iat",
    "missing iss",
    "missing aud",
    "roles as a string",
    "email not a string",
    "signed by another RSA key",
    "ES256 when the family is RS",
    "RS512",
    "PS256",
]


@pytest.fixture(scope="module")
def forged(private_pem: str, public_pem: str) -> dict[str, str]:
    tokens = forged_tokens(private_pem, public_pem)
    assert list(tokens) == FORGED_CASES
    return tokens


def test_the_forgeries_differ_from_a_valid_token_only_in_their_flaw(client, private_pem):
    assert client.get("/admin", headers=bearer(sign(valid_claims(), private_pem))).status_code == 200


@pytest.mark.parametrize("case", FORGED_CASES)
def test_forged_or_invalid_tokens_are_unauthorized(client, forged, case):
    token = forged[case]
    for path in ("/me", "/admin", "/internal"):
        assert_unauthorized(client.get(path, headers=bearer(token)), token)


@pytest.mark.parametrize(
    "token",
    ["abc", "a.b.c", "..", "....", "eyJhbGciOiJSUzI1NiJ9.e30.", "Zm9v.YmFy.YmF6", "x" * 10_000, "a.b.c.d.e"],
)
def test_garbage_tokens_are_unauthorized(client, token):
    assert_unauthorized(client.get("/me", headers=bearer(token)), token)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token abc.def.ghi",
        "Bearer a b",
        "Bearerabc",
    ],
)
def test_missing_or_malformed_authorization_header(client, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/me", headers=headers)
    assert_unauthorized(response, challenge="Bearer")
    assert response.get_json()["error"]["message"] == "authentication required"


# --- verifier configuration ----------------------------------------------------------------


def test_verifier_needs_exactly_one_key_source(public_pem):
    with pytest.raises(ValueError):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError):
        JwtVerifier(
            issuer=ISSUER, audience=AUDIENCE, public_key_pem=public_pem, jwks_url="http://127.0.0.1/jwks"
        )
    with pytest.raises(ValueError):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public_pem, algorithm_family="HS")


def test_verifier_rejects_a_key_of_the_wrong_family(public_pem):
    with pytest.raises(ValueError):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public_pem, algorithm_family="ES")


def test_es_family_accepts_es256_only(private_pem):
    ec_private, ec_public = new_pem_pair(ec.generate_private_key(ec.SECP256R1()))
    es_verifier = JwtVerifier(
        issuer=ISSUER, audience=AUDIENCE, algorithm_family="ES", public_key_pem=ec_public
    )
    assert es_verifier.verify(jwt.encode(valid_claims(), ec_private, algorithm="ES256")).subject == USER_ID
    p384_private, _ = new_pem_pair(ec.generate_private_key(ec.SECP384R1()))
    for token in (
        jwt.encode(valid_claims(), private_pem, algorithm="RS256"),
        jwt.encode(valid_claims(), p384_private, algorithm="ES384"),
    ):
        with pytest.raises(ApiError) as caught:
            es_verifier.verify(token)
        assert caught.value.code == "UNAUTHORIZED"


def test_verifier_and_token_provider_from_settings(dev_key_dir, public_pem):
    settings = load_settings(
        PlatformSettings,
        service_name="key-manager",
        database_url="postgresql://127.0.0.1/unused",
        redis_url="redis://127.0.0.1:6379/0",
        kafka_bootstrap_servers="127.0.0.1:9092",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_public_key_file=dev_key_dir / devkeys.PUBLIC_KEY_FILE,
        jwt_jwks_url=None,
        service_token_url=None,
        service_token_signing_key_file=dev_key_dir / devkeys.PRIVATE_KEY_FILE,
    )
    provider = ServiceTokenProvider.from_settings(settings, scope="developers:read")
    principal = JwtVerifier.from_settings(settings).verify(provider.token())
    assert principal.subject == "key-manager"
    assert principal.scopes == {"developers:read"}


def test_leeway_comes_from_the_settings(dev_key_dir, make_token):
    def verifier_with(**leeway) -> JwtVerifier:
        settings = load_settings(
            PlatformSettings,
            service_name="key-manager",
            database_url="postgresql://127.0.0.1/unused",
            redis_url="redis://127.0.0.1:6379/0",
            kafka_bootstrap_servers="127.0.0.1:9092",
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            jwt_public_key_file=dev_key_dir / devkeys.PUBLIC_KEY_FILE,
            jwt_jwks_url=None,
            **leeway,
        )
        return JwtVerifier.from_settings(settings)

    now = int(time.time())
    late = make_token(iat=now - 600, exp=now - 15)
    assert verifier_with(jwt_leeway_seconds=20).verify(late).subject
    with pytest.raises(ApiError) as caught:
        verifier_with().verify(late)
    assert caught.value.code == "UNAUTHORIZED"
    with pytest.raises(ConfigError, match="JWT_LEEWAY_SECONDS"):
        verifier_with(jwt_leeway_seconds=3600)


# --- decorators under flask-smorest --------------------------------------------------------


def test_decorators_keep_the_view_metadata():
    def view():
        """Doc."""

    view._apidoc = {"response": {"code": 200}}
    for decorated in (require_auth(view), require_roles("admin")(view), require_scopes("x")(view)):
        assert decorated.__name__ == "view"
        assert decorated.__doc__ == "Doc."
        # ... plus what the spec learns from them (gamekeys_platform.openapi), the view's own untouched.
        assert decorated._apidoc == {
            "response": {"code": 200},
            "gamekeys": {"authenticated": True, "errors": {}},
        }
    assert view._apidoc == {"response": {"code": 200}}


def test_decorators_work_under_flask_smorest(verifier, make_token):
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    init_auth(app, verifier)
    app.register_error_handler(ApiError, lambda exc: (jsonify(exc.body()), exc.status, exc.headers))
    api = flask_smorest.Api(app)
    blp = flask_smorest.Blueprint("games", __name__, url_prefix="/games")

    class GameSchema(ma.Schema):
        title = ma.fields.String()

    @blp.route("/")
    @blp.response(200, GameSchema(many=True))
    @require_roles("developer")
    def list_games():
        """List games."""
        return [{"title": "Hollow"}]

    api.register_blueprint(blp)
    client = app.test_client()
    assert client.get("/games/", headers=bearer(make_token(roles=("developer",)))).get_json() == [
        {"title": "Hollow"}
    ]
    assert client.get("/games/", headers=bearer(make_token(roles=("user",)))).status_code == 403
    assert client.get("/games/").status_code == 401
    operation = api.spec.to_dict()["paths"]["/games/"]["get"]
    assert operation["summary"] == "List games."
    assert "200" in operation["responses"]


def test_lone_string_is_one_role_not_its_letters(client, make_token):
    assert client.get("/lone-string", headers=bearer(make_token(roles=("admin",)))).status_code == 200
    assert client.get("/lone-string", headers=bearer(make_token(roles=("a", "d", "m")))).status_code == 403
    with pytest.raises(ValueError):
        require_role_or_scope()


def test_principal_helpers():
    service = Principal.from_claims({"sub": "key-manager", "scope": "keys:activate keys:read"})
    assert service.is_service and service.has_scope("keys:read", "nope") and not service.has_role("admin")
    user = Principal.from_claims({"sub": USER_ID, "roles": ["user"], "scope": "openid"})
    assert not user.is_service and user.has_role("admin", "user")
    assert hash(user) == hash(Principal.from_claims({"sub": USER_ID, "roles": ["user"], "scope": "openid"}))


# --- JWKS ----------------------------------------------------------------------------------


@pytest.fixture()
def jwks(public_pem: str) -> Iterator[tuple[JsonServer, dict[str, Any]]]:
    document = {"keys": [devkeys.public_jwk(public_pem)]}
    server = JsonServer(lambda request: (200, document))
    yield server, document
    server.close()


def jwks_verifier(url: str) -> JwtVerifier:
    return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url)


def test_jwks_verifies_by_kid_and_caches_the_key_set(jwks, make_token):
    server, _ = jwks
    verifier = jwks_verifier(server.url)
    assert verifier.verify(make_token(sub=USER_ID, roles=("developer",))).roles == {"developer"}
    assert verifier.verify(make_token(sub=USER_ID)).subject == USER_ID
    assert len(server.requests) == 1


def test_jwks_unknown_or_missing_kid_is_unauthorized(jwks, private_pem):
    verifier = jwks_verifier(jwks[0].url)
    for token in (
        sign(valid_claims(), private_pem, kid="unknown"),
        sign(valid_claims(), private_pem),
        hand_made({"alg": "RS256", "kid": 7}, valid_claims(), b"signature"),
    ):
        with pytest.raises(ApiError) as caught:
            verifier.verify(token)
        assert caught.value.code == "UNAUTHORIZED"
        assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_jwks_key_of_another_type_is_refused(jwks):
    """Only RSA keys verify for the RS family: not an HMAC secret or an EC key published under a kid."""
    _, document = jwks
    secret = b"s" * 32
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private, _ = new_pem_pair(ec_key)
    document["keys"] += [
        {"kty": "oct", "kid": "shared", "k": b64url(secret), "alg": "HS256"},
        jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True) | {"kid": "ec"},
    ]
    verifier = jwks_verifier(jwks[0].url)
    for token in (
        jwt.encode(valid_claims(), secret, algorithm="HS256", headers={"kid": "shared"}),
        jwt.encode(valid_claims(), ec_private, algorithm="ES256", headers={"kid": "ec"}),
    ):
        with pytest.raises(ApiError) as caught:
            verifier.verify(token)
        assert caught.value.code == "UNAUTHORIZED"


def test_jwks_outage_is_service_unavailable(make_token):
    app = build_app(jwks_verifier(f"http://127.0.0.1:{free_port()}/jwks"))
    response = app.test_client().get("/me", headers=bearer(make_token()))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "Retry-After" in response.headers


@pytest.mark.parametrize(
    "answer", [(500, {"error": "boom"}), (200, b"<html>"), (200, ["not", "an", "object"])]
)
def test_broken_jwks_endpoint_is_service_unavailable(make_token, answer):
    server = JsonServer(lambda request: answer)
    try:
        with pytest.raises(ApiError) as caught:
            jwks_verifier(server.url).verify(make_token())
        assert caught.value.code == "SERVICE_UNAVAILABLE"
    finally:
        server.close()


# --- service tokens ------------------------------------------------------------------------


def test_local_service_token_is_verifiable_and_cached(private_pem, verifier):
    provider = ServiceTokenProvider.local(
        signing_key_pem=private_pem,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="activation-gateway",
        scope="keys:activate keys:read",
    )
    token = provider.token()
    assert provider.token() == token
    principal = verifier.verify(token)
    assert principal.subject == "activation-gateway"
    assert principal.scopes == {"keys:activate", "keys:read"}
    assert principal.is_service


def test_local_service_token_needs_a_usable_key():
    with pytest.raises(ValueError):
        ServiceTokenProvider.local(
            signing_key_pem="nope", issuer=ISSUER, audience=AUDIENCE, subject="s", scope="x"
        )


CLIENT_ID = "key-manager"
CLIENT_SECRET = "s3cr+et/with=odd chars"


@pytest.fixture()
def token_endpoint() -> Iterator[tuple[JsonServer, dict[str, Any]]]:
    settings: dict[str, Any] = {"expires_in": 3600}

    def handle(request: dict[str, Any]):
        scheme, _, credentials = request["headers"].get("Authorization", "").partition(" ")
        client_id, _, secret = (
            base64.b64decode(credentials).decode().partition(":") if credentials else ("", "", "")
        )
        form = parse_qs(request["body"].decode())
        if (
            request["method"] != "POST"
            or scheme != "Basic"
            or (unquote_plus(client_id), unquote_plus(secret)) != (CLIENT_ID, CLIENT_SECRET)
            or not request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
            or form != {"grant_type": ["client_credentials"], "scope": ["keys:activate"]}
        ):
            return 401, {"error": "invalid_client"}
        return 200, {
            "access_token": f"token-{len(server.requests)}",
            "token_type": "Bearer",
            "expires_in": settings["expires_in"],
        }

    server = JsonServer(handle)
    yield server, settings
    server.close()


def credentials_provider(url: str, secret: str = CLIENT_SECRET) -> ServiceTokenProvider:
    return ServiceTokenProvider.client_credentials(
        token_url=url, client_id=CLIENT_ID, client_secret=secret, scope="keys:activate"
    )


def test_client_credentials_token_is_fetched_once_and_cached(token_endpoint):
    server, _ = token_endpoint
    provider = credentials_provider(server.url)
    tokens = []
    threads = [threading.Thread(target=lambda: tokens.append(provider.token())) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tokens == ["token-1"] * 10
    assert len(server.requests) == 1


def test_client_credentials_token_is_renewed_before_expiry(token_endpoint):
    server, settings = token_endpoint
    settings["expires_in"] = 1  # renewed halfway through such a short lifetime
    provider = credentials_provider(server.url)
    assert provider.token() == "token-1"
    time.sleep(0.6)
    assert provider.token() == "token-2"
    provider.invalidate()
    assert provider.token() == "token-3"


def test_client_credentials_failures_are_service_unavailable(token_endpoint):
    for url, secret in (
        (token_endpoint[0].url, "wrong"),
        (f"http://127.0.0.1:{free_port()}/token", CLIENT_SECRET),
    ):
        with pytest.raises(ApiError) as caught:
            credentials_provider(url, secret).token()
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert CLIENT_SECRET not in caught.value.message


# --- dev keys and the CLI ------------------------------------------------------------------


def test_dev_key_pair_is_created_once_with_a_private_mode(tmp_path, monkeypatch):
    monkeypatch.delenv(devkeys.KEYS_DIR_ENV, raising=False)
    (tmp_path / "libs" / "gamekeys-platform").mkdir(parents=True)  # a checkout's root
    monkeypatch.chdir(tmp_path / "libs")
    pair = devkeys.ensure_key_pair()
    assert pair.private_key_file == tmp_path / ".local/dev-keys/jwt-private.pem"
    assert stat.S_IMODE(pair.private_key_file.stat().st_mode) == 0o600
    first = pair.private_key_file.read_bytes(), pair.public_key_file.read_bytes()
    assert devkeys.ensure_key_pair() == pair
    assert (pair.private_key_file.read_bytes(), pair.public_key_file.read_bytes()) == first
    pair.public_key_file.unlink()
    devkeys.ensure_key_pair()
    assert pair.public_key_file.read_bytes() == first[1]


def run_cli(argv: list[str], capsys) -> str:
    assert cli.main(argv) == 0
    return capsys.readouterr().out


@pytest.fixture()
def cli_keys(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "keys"
    monkeypatch.setenv(devkeys.KEYS_DIR_ENV, str(directory))
    monkeypatch.delenv("JWT_ISSUER", raising=False)
    monkeypatch.delenv("JWT_AUDIENCE", raising=False)
    return directory


def cli_verifier(directory: Path, issuer: str = ISSUER) -> JwtVerifier:
    public = (directory / devkeys.PUBLIC_KEY_FILE).read_text()
    return JwtVerifier(issuer=issuer, audience=AUDIENCE, public_key_pem=public)


def test_cli_token_for_a_user(cli_keys, capsys):
    user_id = uuid.uuid4()
    output = run_cli(
        ["token", "--sub", str(user_id).upper(), "--roles", "developer,admin", "--email", "a@b.example"],
        capsys,
    )
    assert output.count("\n") == 1
    principal = cli_verifier(cli_keys).verify(output.strip())
    assert principal.subject == str(user_id)
    assert principal.roles == {"developer", "admin"}
    assert principal.email == "a@b.example"
    assert principal.claims["exp"] - principal.claims["iat"] == 3600


def test_cli_token_for_a_service(cli_keys, capsys, monkeypatch):
    monkeypatch.setenv("JWT_ISSUER", "https://auth.example")
    output = run_cli(
        ["token", "--sub", "key-manager", "--scope", "keys:activate keys:read", "--ttl", "60"], capsys
    )
    principal = cli_verifier(cli_keys, issuer="https://auth.example").verify(output.strip())
    assert principal.subject == "key-manager"
    assert principal.scopes == {"keys:activate", "keys:read"}
    assert principal.is_service


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--sub", "not-a-uuid", "--roles", "user"], "--sub must be a UUID"),
        (["token", "--sub", str(uuid.uuid4()), "--roles", "developer,owner"], "unknown role(s) owner"),
        (["token", "--sub", str(uuid.uuid4()), "--ttl", "0"], "positive"),
        (["token"], "--sub"),
        ([], "COMMAND"),
    ],
)
def test_cli_rejects_bad_arguments(cli_keys, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
    assert not cli_keys.exists()


def test_cli_dev_keys_prints_the_pair(cli_keys, capsys):
    first = run_cli(["dev-keys"], capsys)
    assert first.splitlines() == [str(cli_keys / "jwt-private.pem"), str(cli_keys / "jwt-public.pem")]
    key = (cli_keys / "jwt-private.pem").read_bytes()
    assert run_cli(["dev-keys"], capsys) == first
    assert (cli_keys / "jwt-private.pem").read_bytes() == key


# --- verified tokens remembered until expiry ------------------------------------------------


def test_a_verified_token_is_remembered_not_verified_again(verifier, make_token, monkeypatch):
    token = make_token(sub=USER_ID, roles=("developer",))
    first = verifier.verify(token)
    decoded = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(1) or pytest.fail("decoded again"))
    assert verifier.verify(token) is first
    assert decoded == []


def test_a_remembered_token_is_refused_once_it_expires(public_pem, make_token):
    strict = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public_pem, leeway_seconds=0)
    token = make_token(sub=USER_ID, exp=int(time.time()) + 1)
    assert strict.verify(token).subject == USER_ID
    time.sleep(2.1)
    with pytest.raises(ApiError) as refused:
        strict.verify(token)
    assert refused.value.code == "UNAUTHORIZED"


def test_the_remembered_tokens_stay_bounded_and_the_oldest_make_room(verifier, make_token, monkeypatch):
    monkeypatch.setattr(auth_module, "_VERIFIED_CACHE_SIZE", 100)
    tokens = [make_token(sub=f"user-{n}") for n in range(150)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._verified) == 100
    assert list(verifier._verified) == tokens[50:]  # the newest kept, not all dropped at once


# --- opaque tokens (a service's own, e.g. game-builds' CI keys) ----------------------------


class FakeKeys:
    """An opaque-token verifier: ``key_good`` is a key with scope ``keys:read``, other ``key_``
    tokens are not valid, ``key_down`` is a voucher that cannot be reached."""

    prefixes = ("key_",)

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def verify(self, token: str, *, client_address: str | None) -> Principal:
        self.calls.append((token, client_address))
        if token == "key_down":
            raise ApiError("SERVICE_UNAVAILABLE", "the key service is unavailable")
        if token != "key_good":
            raise invalid_token()
        return Principal(subject="apikey:1", scopes=frozenset({"keys:read"}), token_type="api_key")


@pytest.fixture()
def keyed(verifier: JwtVerifier):
    keys = FakeKeys()
    app = build_app(verifier)
    init_opaque_tokens(app, keys)
    return app.test_client(), keys


def test_an_opaque_token_goes_to_its_verifier_with_the_client_address(keyed):
    client, keys = keyed
    response = client.get("/me", headers=bearer("key_good"), environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 200
    assert response.get_json()["subject"] == "apikey:1"
    assert response.get_json()["isService"] is False  # a key is not a service, whatever its scopes
    assert keys.calls == [("key_good", "192.0.2.7")]


def test_opaque_token_errors_are_the_verifiers(keyed):
    client, _ = keyed
    refused = client.get("/me", headers=bearer("key_revoked"))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "UNAUTHORIZED"
    down = client.get("/me", headers=bearer("key_down"))
    assert down.status_code == 503 and down.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    too_long = client.get("/me", headers=bearer("key_" + "x" * 9000))
    assert too_long.status_code == 401


def test_with_opaque_tokens_jwts_still_verify_as_before(keyed, make_token):
    client, keys = keyed
    token = make_token(sub=USER_ID, roles=("developer",))
    assert client.get("/me", headers=bearer(token)).get_json()["subject"] == USER_ID
    assert client.get("/me", headers=bearer("gkp_unknown_prefix")).status_code == 401
    assert keys.calls == []


def test_an_opaque_principal_passes_scope_checks_by_its_own_scopes(keyed):
    client, _ = keyed
    assert client.get("/support-or-reader", headers=bearer("key_good")).status_code == 200
    assert client.get("/admin", headers=bearer("key_good")).status_code == 403


def test_without_an_opaque_verifier_such_tokens_are_just_bad_jwts(client):
    assert client.get("/me", headers=bearer("key_good")).status_code == 401


@pytest.mark.parametrize("prefixes", [(), ("",), ("eyJ",)])
def test_opaque_prefixes_must_not_catch_jwts(verifier, prefixes):
    keys = FakeKeys()
    keys.prefixes = prefixes
    with pytest.raises(ValueError):
        init_opaque_tokens(build_app(verifier), keys)
