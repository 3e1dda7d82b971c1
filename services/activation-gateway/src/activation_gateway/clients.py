"""The services a redemption calls, through the lib's ServiceClient (timeouts, retries only
where repeating is safe, circuit breaker, request id and our service token).

key-manager (scopes ``keys:read keys:hold keys:activate``): an unreachable key-manager is
503 SERVICE_UNAVAILABLE, a failing one 502; its §3 refusals come back as ``KeyManagerRefusal``,
a plain ``Refusal`` the use cases act on (and the app answers as its code's error if one
reaches it); a refusal of our own call (401, 422, ...) is a ``Refusal`` EXTERNAL_SERVICE_ERROR.
antifraud (scope ``fraud:analyze``): any failure is "unavailable" (None), and the redemption
applies its documented policy instead of failing.
The platform User Service (scope ``users:read``, only when ``USER_SERVICE_URL`` is set): the
account's status and creation time; any failure is "unavailable" (None), and the redemption
goes on (README: the fallback and why).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from prometheus_client import Counter

from activation_gateway.domain.redemption import Account, parse_account_created_at
from gamekeys_platform.errors import STATUS_BY_CODE, ApiError
from gamekeys_platform.http_client import ServiceClient, ServiceResponse
from gamekeys_platform.refusals import Refusal
from gamekeys_platform.service_tokens import ServiceTokenProvider

log = logging.getLogger("activation_gateway.clients")

SCOPES = "keys:read keys:hold keys:activate fraud:analyze"
USER_SERVICE_SCOPE = "users:read"

USER_SERVICE_UNAVAILABLE = Counter(
    "activation_user_service_unavailable_total", "Redemptions that went on without the User Service"
)
INTERNAL = "/internal/v1/keys"


class KeyManagerRefusal(Refusal):
    """A 4xx answer of key-manager, in §3 terms (KEY_NOT_FOUND, KEY_ALREADY_ACTIVATED, ...): the
    redemption's refusal, key-manager's code, message and details passed on."""


def _refusal(response: ServiceResponse, service: str) -> Refusal:
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "", "", {}
    if code in STATUS_BY_CODE and response.status_code in (403, 404, 409, 410):
        return KeyManagerRefusal(code, message, details)
    # Our own request was refused (401, 422, ...): a bug or misconfiguration, not the player's fault.
    log.error("%s refused our call with %s %s", service, response.status_code, code)
    return Refusal(
        "EXTERNAL_SERVICE_ERROR",
        f"{service} refused the call with status {response.status_code}",
        {"service": service, "status": response.status_code},
    )


class KeyManagerClient:
    def __init__(self, client: ServiceClient, public: ServiceClient) -> None:
        self.client = client
        self.public = public  # no service token: the caller's own token is forwarded

    @classmethod
    def from_settings(cls, settings, tokens: ServiceTokenProvider) -> KeyManagerClient:
        timeout = settings.key_manager_timeout_seconds
        options = {"connect_timeout": min(1.0, timeout), "read_timeout": timeout, "pool_maxsize": 50}
        return cls(
            ServiceClient(
                settings.key_manager_url, service_name="key-manager", token_provider=tokens, **options
            ),
            ServiceClient(settings.key_manager_url, service_name="key-manager", **options),
        )

    def _post(self, path: str, body: dict, *, retry_safe: bool = False) -> dict:
        response = self.client.post(f"{INTERNAL}/{path}", json=body, retry_safe=retry_safe)
        if response.status_code < 300:
            return response.json()
        raise _refusal(response, "key-manager")

    def lookup(self, *, key: str | None = None, key_id: str | None = None) -> dict:
        # A read (POST only to keep the key out of URLs and logs): retried like a GET, so a
        # pooled connection the callee closed meanwhile costs a retry, not the player a 503.
        body = {"key": key} if key is not None else {"keyId": str(key_id)}
        return self._post("lookup", body, retry_safe=True)

    def hold(self, key_id: str, hold_id: str, reason: str) -> dict:
        return self._post("hold", {"keyId": str(key_id), "holdId": hold_id, "reason": reason})

    def release(self, key_id: str, hold_id: str, reason: str) -> dict:
        return self._post("release", {"keyId": str(key_id), "holdId": hold_id, "reason": reason})

    def activate(
        self, key_id: str, *, user_id: str, activation_id: str, user_region: str, hold_id: str | None = None
    ) -> dict:
        body = {
            "keyId": str(key_id),
            "userId": user_id,
            "activationId": activation_id,
            "userRegion": user_region,
        }
        if hold_id is not None:
            body["holdId"] = hold_id
        # Safe to retry: key-manager answers a repeated activationId with the same result, so no
        # Idempotency-Key (whose bookkeeping was a quarter of key-manager's CPU per redemption).
        return self._post("activate", body, retry_safe=True)

    def key_info_as(self, key_id: str, authorization: str) -> dict | None:
        """key-manager's public KeyInfo with the caller's own token (studio ownership is checked
        there); None when the caller may not see the key."""
        response = self.public.get(f"/api/v1/keys/{key_id}", headers={"Authorization": authorization})
        if response.status_code == 200:
            return response.json()
        if response.status_code in (401, 403, 404):
            return None
        raise _refusal(response, "key-manager")


def _quick_client(url: str, name: str, tokens: ServiceTokenProvider, timeout: float) -> ServiceClient:
    """A call on the redemption path that has a fallback: a short timeout, no retry, and a
    circuit breaker so an outage costs nothing per request once it is noticed."""
    return ServiceClient(
        url,
        service_name=name,
        token_provider=tokens,
        connect_timeout=min(0.5, timeout),
        read_timeout=timeout,
        retries=0,
        failure_threshold=5,
        reset_timeout=10.0,
        pool_maxsize=50,
    )


class AntifraudClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings, tokens: ServiceTokenProvider) -> AntifraudClient:
        return cls(
            _quick_client(settings.antifraud_url, "antifraud", tokens, settings.antifraud_timeout_seconds)
        )

    def analyze(self, body: dict[str, Any], *, idempotency_key: str | None) -> dict | None:
        """The FraudScore, or None when antifraud cannot answer (down, slow, failing, refusing).
        ``idempotency_key`` when the same analysis may be asked again (a retried redemption): the
        repeat gets the first score instead of counting the attempt twice."""
        try:
            response = self.client.post(
                "/api/v1/antifraud/analyze", json=body, idempotency_key=idempotency_key
            )
        except ApiError as exc:
            log.warning("antifraud unavailable: %s", exc.code)
            return None
        if response.status_code != 200:
            log.error("antifraud refused analyze with status %s", response.status_code)
            return None
        return response.json()


class UserServiceClient:
    """``GET {USER_SERVICE_URL}/internal/v1/users/{userId}`` → ``{"userId", "status", "createdAt"}``
    (404: no such account), with a short timeout, no retry and a circuit breaker."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings, tokens: ServiceTokenProvider) -> UserServiceClient | None:
        if not settings.user_service_url:
            return None
        return cls(
            _quick_client(
                settings.user_service_url, "user-service", tokens, settings.user_service_timeout_seconds
            )
        )

    def account(self, user_id: str) -> Account | None:
        """The account, or None when the User Service cannot answer (down, slow, failing, refusing)."""
        try:
            response = self.client.get(f"/internal/v1/users/{quote(user_id, safe='')}")
        except ApiError as exc:
            log.warning("user service unavailable: %s", exc.code)
            USER_SERVICE_UNAVAILABLE.inc()
            return None
        if response.status_code == 404:
            return Account(found=False)
        try:
            body = response.json() if response.status_code == 200 else None
            status = body["status"] if isinstance(body, dict) else None
        except (ValueError, KeyError):
            status = None
        if not isinstance(status, str):
            log.error("user service answered status %s without an account status", response.status_code)
            USER_SERVICE_UNAVAILABLE.inc()
            return None
        return Account(True, status.lower(), parse_account_created_at(body.get("createdAt")))
