"""The retailer API's bearer tokens: RS256 JWTs this service signs for one retailer (OAuth 2.0
client credentials, RFC 6749 §4.4) and verifies on /retailer/* routes.

The token names the retailer (``sub``) and the credentials version it was issued under
(``ver``): rotating the credentials makes every earlier token invalid at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gamekeys_platform.auth import invalid_token

log = logging.getLogger("distribution.tokens")

ALGORITHM = "RS256"
TOKEN_SCOPE = "retailer"  # noqa: S105 (a scope name)
_MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class RetailerClaims:
    retailer_id: uuid.UUID
    credentials_version: int
    claims: dict


class RetailerTokens:
    def __init__(self, private_key_pem: str, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        key = load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ValueError("the retailer token signing key must be an RSA private key of 2048 bits or more")
        self._private_key = key
        self._public_key = key.public_key()
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_settings(cls, settings) -> RetailerTokens:
        return cls(
            settings.retailer_token_signing_key_file.read_text(),
            issuer=settings.retailer_token_issuer,
            audience=settings.retailer_token_audience,
            ttl_seconds=settings.retailer_token_ttl_seconds,
        )

    def issue(self, retailer_id: uuid.UUID, credentials_version: int, client_id: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(retailer_id),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
            "scope": TOKEN_SCOPE,
            "ver": credentials_version,
        }
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM)

    def verify(self, token: str) -> RetailerClaims:
        """The retailer a token proves, or ApiError 401 (bad signature, issuer, audience, expiry)."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise invalid_token()
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=5,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
            version = claims.get("ver")
            if (
                claims.get("scope") != TOKEN_SCOPE
                or isinstance(version, bool)
                or not isinstance(version, int)
            ):
                raise ValueError("not a retailer token")
            return RetailerClaims(uuid.UUID(claims["sub"]), version, claims)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            log.info("retailer token rejected: %s", type(exc).__name__)
            raise invalid_token() from None
