"""``POST /oauth/token``: OAuth 2.0 client credentials (RFC 6749 §4.4) for retailers.

The body is form-encoded (``grant_type=client_credentials``, optional ``scope=retailer``); the
client authenticates with HTTP Basic (id and secret form-urlencoded first, §2.3.1) or with
``client_id``/``client_secret`` in the form, never both. Errors keep the platform's §3 body,
with RFC 6749 §5.2's error code in ``details.oauthError``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote_plus

from argon2.exceptions import InvalidHashError, VerificationError
from flask import jsonify, request

from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain.retailers import RetailerStatus
from distribution.retailer_tokens import TOKEN_SCOPE
from gamekeys_platform.app import Blueprint
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import ApiError

blp = Blueprint(
    "distribution-oauth",
    __name__,
    url_prefix="/api/v1/distribution/oauth",
    description="Retailer tokens (OAuth 2.0 client credentials)",
)

FORM = "application/x-www-form-urlencoded"
_MAX_CREDENTIAL_LENGTH = 256
# A real Argon2id hash of a random secret: unknown client ids cost as much as wrong secrets.
_dummy_hash: str | None = None


def _oauth_error(
    oauth_error: str, message: str, *, status: int | None = None, basic: bool = False
) -> ApiError:
    code = {"invalid_client": "UNAUTHORIZED", "unauthorized_client": "RETAILER_NOT_AUTHORIZED"}.get(
        oauth_error, "VALIDATION_ERROR"
    )
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if oauth_error == "invalid_client":
        headers["WWW-Authenticate"] = 'Basic realm="gamekeys-retailer-api"' if basic else "Basic"
    return ApiError(
        code,
        message,
        {"oauthError": oauth_error},
        status=status or (400 if code == "VALIDATION_ERROR" else None),
        headers=headers,
    )


def _credentials() -> tuple[str, str, bool]:
    """(client id, secret, whether HTTP Basic was used)."""
    header = request.headers.get("Authorization")
    form_id, form_secret = request.form.get("client_id"), request.form.get("client_secret")
    if header is not None:
        if form_id is not None or form_secret is not None:
            raise _oauth_error("invalid_request", "authenticate with HTTP Basic or the form, not both")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise _oauth_error("invalid_client", "client authentication failed", basic=True)
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _oauth_error("invalid_client", "client authentication failed", basic=True) from None
        client_id, separator, secret = decoded.partition(":")
        if not separator:
            raise _oauth_error("invalid_client", "client authentication failed", basic=True)
        return unquote_plus(client_id), unquote_plus(secret), True
    if form_id is None or form_secret is None:
        raise _oauth_error("invalid_client", "client authentication required")
    return form_id, form_secret, False


def _verify_secret(secret_hash: str | None, secret: str) -> bool:
    global _dummy_hash
    hasher = distribution().hasher
    if secret_hash is None:
        if _dummy_hash is None:
            _dummy_hash = hasher.hash(base64.b64encode(b"\0" * 32).decode())
        secret_hash = _dummy_hash
    try:
        return hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


@blp.route("/token", methods=["POST"])
@blp.doc(
    security=[{"basicAuth": []}, {}],
    requestBody={
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string", "enum": [TOKEN_SCOPE]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                    },
                }
            }
        },
    },
    responses={"200": {"description": '{"access_token", "token_type": "Bearer", "expires_in", "scope"}'}},
)
def issue_token():
    """A short-lived bearer token for the retailer the client credentials belong to."""
    dist = distribution()
    if request.mimetype != FORM:
        raise _oauth_error("invalid_request", f"the body must be {FORM}")
    if request.form.get("grant_type") != "client_credentials":
        raise _oauth_error("unsupported_grant_type", "only grant_type=client_credentials is supported")
    scope = request.form.get("scope")
    if scope is not None and set(scope.split()) != {TOKEN_SCOPE}:
        raise _oauth_error("invalid_scope", f"the only scope is {TOKEN_SCOPE}")
    client_id, secret, basic = _credentials()
    if not client_id or len(client_id) > _MAX_CREDENTIAL_LENGTH or len(secret) > _MAX_CREDENTIAL_LENGTH:
        raise _oauth_error("invalid_client", "client authentication failed", basic=basic)

    limits = dist.settings.retailer_token_failures_per_minute
    for identity in (f"client:{client_id}", f"addr:{request.remote_addr}"):
        dist.limiter.peek("retailer-token-failures", identity, limits, 60).raise_if_limited()
    retailer = repo.get_retailer_by_client_id(request_session(), client_id)
    valid = _verify_secret(retailer.secret_hash if retailer is not None else None, secret)
    if retailer is None or not valid or not hmac.compare_digest(retailer.client_id, client_id):
        for identity in (f"client:{client_id}", f"addr:{request.remote_addr}"):
            dist.limiter.hit("retailer-token-failures", identity, limits, 60)
        raise _oauth_error("invalid_client", "client authentication failed", basic=basic)
    if retailer.status != RetailerStatus.ACTIVE:
        raise _oauth_error("unauthorized_client", f"the retailer is {retailer.status}", status=403)
    token = dist.tokens.issue(retailer.id, retailer.credentials_version, retailer.client_id)
    response = jsonify(
        access_token=token,
        token_type="Bearer",  # noqa: S106 (the token type, not a secret)
        expires_in=dist.tokens.ttl_seconds,
        scope=TOKEN_SCOPE,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
