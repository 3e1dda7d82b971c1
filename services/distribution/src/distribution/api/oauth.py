"""``POST /oauth/token``: OAuth 2.0 client credentials (RFC 6749 §4.4) for retailers.

The body is form-encoded (``grant_type=client_credentials``, optional ``scope=retailer``); the
client authenticates with HTTP Basic (id and secret form-urlencoded first, §2.3.1) or with
``client_id``/``client_secret`` in the form, never both. Errors follow RFC 6749 §5.2, not §3:
OAuth client libraries parse ``{"error", "error_description"}`` here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from urllib.parse import unquote_plus

from argon2.exceptions import InvalidHashError, VerificationError
from flask import jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain.retailers import RetailerStatus
from distribution.retailer_tokens import TOKEN_SCOPE
from gamekeys_platform.app import Blueprint
from gamekeys_platform.db import request_session
from gamekeys_platform.request_context import current_request_id

blp = Blueprint(
    "distribution-oauth",
    __name__,
    url_prefix="/api/v1/distribution/oauth",
    description="Retailer tokens (OAuth 2.0 client credentials)",
)

FORM = "application/x-www-form-urlencoded"
TOKEN_URL = f"{blp.url_prefix}/token"
_MAX_CREDENTIAL_LENGTH = 256
# A real Argon2id hash of a random secret: unknown client ids cost as much as wrong secrets.
_dummy_hash: str | None = None


# RFC 6749 §5.2's error body, this endpoint's instead of §3's.
OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "requestId": {"type": "string", "nullable": True},
    },
}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer: 401 with ``WWW-Authenticate`` when client authentication
    failed, 400 for the other codes (429 with Retry-After for too many failures)."""

    def __init__(
        self, error: str, description: str, *, basic: bool = False, status: int | None = None, headers=None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status or (401 if error == "invalid_client" else 400)
        self.headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
        if error == "invalid_client":
            self.headers["WWW-Authenticate"] = 'Basic realm="gamekeys-retailer-api"' if basic else "Basic"


@blp.errorhandler(OAuthError)
def _render_oauth_error(exc: OAuthError):
    response = jsonify(error=exc.error, error_description=exc.description, requestId=current_request_id())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


@blp.errorhandler(RequestEntityTooLarge)
def _body_too_large(exc: RequestEntityTooLarge):
    return _render_oauth_error(OAuthError("invalid_request", "the request body is too large", status=413))


def _credentials() -> tuple[str, str, bool]:
    """(client id, secret, whether HTTP Basic was used)."""
    header = request.headers.get("Authorization")
    form_id, form_secret = request.form.get("client_id"), request.form.get("client_secret")
    if header is not None:
        if form_id is not None or form_secret is not None:
            raise OAuthError("invalid_request", "authenticate with HTTP Basic or the form, not both")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise OAuthError("invalid_client", "client authentication failed", basic=True)
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "client authentication failed", basic=True) from None
        client_id, separator, secret = decoded.partition(":")
        if not separator:
            raise OAuthError("invalid_client", "client authentication failed", basic=True)
        return unquote_plus(client_id), unquote_plus(secret), True
    if form_id is None or form_secret is None:
        raise OAuthError("invalid_client", "client authentication required")
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
    responses={
        "200": {"description": '{"access_token", "token_type": "Bearer", "expires_in", "scope"}'},
        **{
            str(status): {"description": why, "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}}}
            for status, why in {
                400: "invalid_request, unsupported_grant_type, invalid_scope, unauthorized_client",
                401: "invalid_client (with WWW-Authenticate)",
                413: "invalid_request: the body is over the size limit",
                429: "temporarily_unavailable: too many failed client authentications (Retry-After)",
            }.items()
        },
    },
)
def issue_token():
    """A short-lived bearer token for the retailer the client credentials belong to."""
    dist = distribution()
    if request.mimetype != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    if request.form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
    scope = request.form.get("scope")
    if scope is not None and set(scope.split()) != {TOKEN_SCOPE}:
        raise OAuthError("invalid_scope", f"the only scope is {TOKEN_SCOPE}")
    client_id, secret, basic = _credentials()
    if not client_id or len(client_id) > _MAX_CREDENTIAL_LENGTH or len(secret) > _MAX_CREDENTIAL_LENGTH:
        raise OAuthError("invalid_client", "client authentication failed", basic=basic)

    limits = dist.settings.retailer_token_failures_per_minute
    for identity in (f"client:{client_id}", f"addr:{request.remote_addr}"):
        limited = dist.limiter.peek("retailer-token-failures", identity, limits, 60)
        if not limited.allowed:
            seconds = max(1, math.ceil(limited.retry_after))
            raise OAuthError(
                "temporarily_unavailable",
                f"too many failed client authentications, retry in {seconds} s",
                status=429,
                headers={"Retry-After": str(seconds)},
            )
    retailer = repo.get_retailer_by_client_id(request_session(), client_id)
    valid = _verify_secret(retailer.secret_hash if retailer is not None else None, secret)
    if retailer is None or not valid or not hmac.compare_digest(retailer.client_id, client_id):
        for identity in (f"client:{client_id}", f"addr:{request.remote_addr}"):
            dist.limiter.hit("retailer-token-failures", identity, limits, 60)
        raise OAuthError("invalid_client", "client authentication failed", basic=basic)
    if retailer.status != RetailerStatus.ACTIVE:
        raise OAuthError("unauthorized_client", f"the retailer is {retailer.status}")
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
