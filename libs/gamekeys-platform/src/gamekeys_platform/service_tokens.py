"""This service's own bearer token, for its calls to other services' internal endpoints (§3).

In a deployment the token comes from the platform Auth service (OAuth 2.0 client credentials);
in local development the service mints it with the dev key, so no Auth service is needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import requests

from gamekeys_platform import devkeys
from gamekeys_platform.errors import service_unavailable

if TYPE_CHECKING:
    from gamekeys_platform.settings import PlatformSettings

log = logging.getLogger("gamekeys.service_tokens")

REFRESH_MARGIN_SECONDS = 60
DEFAULT_EXPIRES_IN_SECONDS = 300  # when the token endpoint does not say; RFC 6749 makes it optional

# Returns (token, lifetime in seconds).
TokenSource = Callable[[], tuple[str, float]]


class ServiceTokenProvider:
    """Hands out a cached token and gets a new one 60 s before it expires (halfway through, for
    lifetimes under two minutes). Thread-safe: one fetch at a time, concurrent callers reuse it.
    Any failure to get a token is ApiError SERVICE_UNAVAILABLE."""

    def __init__(self, source: TokenSource) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    @classmethod
    def client_credentials(
        cls,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        timeout_seconds: float = 5.0,
    ) -> ServiceTokenProvider:
        """Tokens from an OAuth 2.0 token endpoint (RFC 6749 §4.4), credentials in HTTP Basic."""

        def fetch() -> tuple[str, float]:
            return _request_token(token_url, client_id, client_secret, scope, timeout_seconds)

        return cls(fetch)

    @classmethod
    def local(
        cls,
        *,
        signing_key_pem: str,
        issuer: str,
        audience: str,
        subject: str,
        scope: str,
        ttl_seconds: int = 3600,
    ) -> ServiceTokenProvider:
        """Tokens minted with the dev private key; ``subject`` is the service's name."""
        devkeys.load_signing_key(signing_key_pem)  # a bad key file fails at start-up, not on first call

        def mint() -> tuple[str, float]:
            token = devkeys.mint_token(
                signing_key_pem,
                sub=subject,
                scopes=scope,
                issuer=issuer,
                audience=audience,
                ttl_seconds=ttl_seconds,
            )
            return token, ttl_seconds

        return cls(mint)

    @classmethod
    def from_settings(cls, settings: PlatformSettings, *, scope: str) -> ServiceTokenProvider:
        """Client credentials when SERVICE_TOKEN_URL is set, else local minting with
        SERVICE_TOKEN_SIGNING_KEY_FILE (refused in production: services never hold the issuer's key)."""
        from gamekeys_platform.settings import ConfigError

        if settings.service_token_url:
            if not (settings.service_client_id and settings.service_client_secret):
                raise ConfigError("SERVICE_TOKEN_URL needs SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET")
            return cls.client_credentials(
                token_url=settings.service_token_url,
                client_id=settings.service_client_id,
                client_secret=settings.service_client_secret,
                scope=scope,
            )
        if settings.service_token_signing_key_file is None:
            raise ConfigError("set SERVICE_TOKEN_URL (client credentials) or SERVICE_TOKEN_SIGNING_KEY_FILE")
        if settings.environment == "production":
            raise ConfigError("SERVICE_TOKEN_SIGNING_KEY_FILE is for development; use SERVICE_TOKEN_URL")
        return cls.local(
            signing_key_pem=settings.service_token_signing_key_file.read_text(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            subject=settings.service_name,
            scope=scope,
        )

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                started = time.monotonic()
                token, lifetime = self._fetch()
                self._token = token
                self._refresh_at = started + max(lifetime - REFRESH_MARGIN_SECONDS, lifetime / 2)
            return self._token

    def invalidate(self) -> None:
        """Drop the cached token, e.g. after a callee answered 401 to it."""
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        try:
            return self._source()
        except Exception as exc:  # whatever broke, callers get one answer: retry later
            log.warning("could not obtain a service token: %s: %s", type(exc).__name__, exc)
            raise service_unavailable("could not obtain a service token, retry later") from None


def _request_token(
    token_url: str, client_id: str, client_secret: str, scope: str | None, timeout_seconds: float
) -> tuple[str, float]:
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before they go into HTTP Basic.
    response = requests.post(
        token_url,
        data=form,
        auth=(quote_plus(client_id), quote_plus(client_secret)),
        headers={"Accept": "application/json"},
        timeout=timeout_seconds,
        allow_redirects=False,
    )
    if response.status_code != 200:
        raise RuntimeError(f"token endpoint answered {response.status_code}")
    return _parse_token_response(response.json())


def _parse_token_response(payload: Any) -> tuple[str, float]:
    if not isinstance(payload, dict):
        raise ValueError("token response is not a JSON object")
    token = payload.get("access_token")
    token_type = payload.get("token_type", "Bearer")
    expires_in = payload.get("expires_in", DEFAULT_EXPIRES_IN_SECONDS)
    if not isinstance(token, str) or not token:
        raise ValueError("token response has no access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ValueError("token response is not a bearer token")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise ValueError("token response has an invalid expires_in")
    return token, float(expires_in)
