"""CI credentials of developer-portal, checked through its introspection (like RFC 7662): per-game
API keys (``Bearer gkp_…``) and trusted publishing's upload tokens (``Bearer gkpt_…``).

The lib's auth hands us every bearer token with one of those prefixes (``init_opaque_tokens``);
anything else stays a platform JWT. We ask ``POST /internal/v1/apikeys/introspect`` with our
service token (scope ``apikeys:introspect``) and the client's address, and remember the answer by
the token's SHA-256 (never the token itself) for ``APIKEY_CACHE_SECONDS`` at most (≤ 30: a revoked
key stops working here within that long), never past the credential's expiry; an inactive answer
for ``APIKEY_INACTIVE_CACHE_SECONDS``, so a CI job retrying a dead key does not make a call per
request. developer-portal unreachable or slow is 503 SERVICE_UNAVAILABLE, failing or answering
nonsense 502 EXTERNAL_SERVICE_ERROR; nothing is cached then.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gamekeys_platform.auth import Principal, invalid_token
from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient, ServiceResponse
from gamekeys_platform.service_tokens import ServiceTokenProvider

log = logging.getLogger("game_builds.introspection")

PREFIXES = ("gkp_", "gkpt_")
INTROSPECT_PATH = "/internal/v1/apikeys/introspect"
SCOPE = "apikeys:introspect"
SERVICE = "developer-portal"
# tokenType -> (the field naming the credential, the subject prefix builds record as their creator)
TOKEN_TYPES = {"api_key": ("keyId", "apikey"), "upload_token": ("publisherId", "trusted-publisher")}
MAX_CACHED = 10_000


@dataclass(frozen=True)
class _Cached:
    principal: Principal | None  # None: inactive
    until: float


class KeyIntrospection:
    """The lib's ``OpaqueTokenVerifier`` for developer-portal's CI credentials."""

    prefixes = PREFIXES

    def __init__(
        self,
        client: ServiceClient,
        *,
        cache_seconds: float,
        inactive_cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cache_seconds = cache_seconds
        self.inactive_cache_seconds = inactive_cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    @classmethod
    def from_settings(cls, settings) -> KeyIntrospection:
        timeout = settings.developer_portal_timeout_seconds
        client = ServiceClient(
            settings.developer_portal_url,
            service_name=SERVICE,
            token_provider=ServiceTokenProvider.from_settings(settings, scope=SCOPE),
            connect_timeout=min(1.0, timeout),
            read_timeout=timeout,
            retries=1,
        )
        return cls(
            client,
            cache_seconds=settings.apikey_cache_seconds,
            inactive_cache_seconds=settings.apikey_inactive_cache_seconds,
        )

    def verify(self, token: str, *, client_address: str | None) -> Principal:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is None or now >= cached.until:
            answer = self._introspect(token, client_address)
            principal, lifetime = _principal(answer, self.cache_seconds, self.inactive_cache_seconds)
            cached = _Cached(principal, now + lifetime)
            self._remember(digest, cached, now)
        if cached.principal is None:
            raise invalid_token()
        return cached.principal

    def _remember(self, digest: str, entry: _Cached, now: float) -> None:
        if entry.until <= now:
            return
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache = {key: kept for key, kept in self._cache.items() if kept.until > now}
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()  # many live credentials at once: start over, stay bounded
            self._cache[digest] = entry

    def _introspect(self, token: str, client_address: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"key": token}
        if client_address:
            body["clientAddress"] = client_address
        # A read (POST keeps the key out of URLs and logs; the lastUsedAt it records is the same
        # on a repeat), so retried like a GET.
        response = self.client.post(INTROSPECT_PATH, json=body, retry_safe=True)
        if response.status_code == 401 and self.client.token_provider is not None:
            # Our service token was refused (expired early, issuer rotated): one more try with a new one.
            self.client.token_provider.invalidate()
            response = self.client.post(INTROSPECT_PATH, json=body, retry_safe=True)
        if response.status_code != 200:
            log.error("developer-portal refused introspection with %s", response.status_code)
            raise _external(response)
        try:
            answer = response.json()
        except ValueError:
            raise _external(response) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise _external(response)
        return answer


def _principal(
    answer: dict[str, Any], cache_seconds: float, inactive_seconds: float
) -> tuple[Principal | None, float]:
    """The caller an introspection answer describes (None: inactive), and how long to trust it."""
    if not answer["active"]:
        return None, inactive_seconds
    try:
        token_type = answer["tokenType"]
        id_field, subject_prefix = TOKEN_TYPES[token_type]
        credential_id = uuid.UUID(answer[id_field])
        developer_id = uuid.UUID(answer["developerId"])
        game_ids = frozenset(uuid.UUID(game_id) for game_id in answer["gameIds"])
        scopes = answer["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
            raise ValueError("scopes")
        expires_at = datetime.fromisoformat(answer["expiresAt"])
    except (KeyError, TypeError, ValueError, AttributeError):
        log.error("developer-portal answered introspection in an unexpected shape")
        raise ApiError(
            "EXTERNAL_SERVICE_ERROR", f"{SERVICE} answered in an unexpected shape", {"service": SERVICE}
        ) from None
    principal = Principal(
        subject=f"{subject_prefix}:{credential_id}",
        scopes=frozenset(scopes),
        claims={
            "tokenType": token_type,
            "credentialId": credential_id,
            "developerId": developer_id,
            "gameIds": game_ids,
            "expiresAt": answer["expiresAt"],
        },
        token_type=token_type,
    )
    remaining = (expires_at - datetime.now(UTC)).total_seconds()
    return principal, max(0.0, min(cache_seconds, remaining))


def _external(response: ServiceResponse) -> ApiError:
    return ApiError(
        "EXTERNAL_SERVICE_ERROR",
        f"{SERVICE} gave no usable introspection answer (status {response.status_code})",
        {"service": SERVICE, "status": response.status_code},
    )
