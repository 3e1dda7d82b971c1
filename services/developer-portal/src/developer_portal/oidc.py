"""Verifying CI identity tokens (OIDC ID tokens of GitHub Actions, GitLab...) against the keys
their issuer publishes: the adapter behind trusted publishing.

Only issuers in ``OIDC_ISSUERS`` are trusted, each with the JWKS URL configured for it, so no
token and no studio can make the portal fetch an address of its choosing. Each issuer's key set
is fetched with PyJWT's ``PyJWKClient`` and cached five minutes (an unknown ``kid`` refetches it,
at most every 30 s). The algorithm is the one the key's type implies (RSA → RS256, P-256 →
ES256), never the one the token names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

log = logging.getLogger("developer_portal.oidc")

JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 3.0
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 16_384
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "jti"]


class InvalidIdentityToken(Exception):
    """The token is not a valid identity token of a trusted issuer (``reason`` says which check
    failed, for the logs and the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerUnavailable(Exception):
    """The issuer's keys could not be fetched: its outage, not the caller's mistake."""


class IdentityVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims, or InvalidIdentityToken / IssuerUnavailable."""
        ...


class OidcVerifier:
    def __init__(self, issuers: Mapping[str, str], audience: str) -> None:
        self.audience = audience
        self._clients = {
            issuer: jwt.PyJWKClient(jwks_url, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS)
            for issuer, jwks_url in issuers.items()
        }

    @property
    def issuers(self) -> frozenset[str]:
        return frozenset(self._clients)

    def verify(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidIdentityToken("malformed")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidIdentityToken("malformed") from None
        issuer = unverified.get("iss")
        client = self._clients.get(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise InvalidIdentityToken("untrusted_issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidIdentityToken("no_kid")
        try:
            key = client.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError:
            log.warning("JWKS of %s unavailable", issuer)
            raise IssuerUnavailable(issuer) from None
        except (jwt.PyJWTError, ValueError):
            raise InvalidIdentityToken("unknown_key") from None
        algorithm = _algorithm_for(key)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidIdentityToken("expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidIdentityToken("wrong_audience") from None
        except jwt.PyJWTError:
            raise InvalidIdentityToken("invalid") from None


def _algorithm_for(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    # an HMAC secret or another curve in a JWKS never verifies anything
    raise InvalidIdentityToken("unsupported_key")
