"""key-manager's internal API, through the lib's ServiceClient (timeouts, retries only where
repeating is safe, circuit breaker, request id and our service token).

Scopes: ``keys:allocate`` (allocate, list an allocation's keys, release one, revoke a retailer's
unsold keys), ``keys:sell``
(sales, returns, which keys are a retailer's).
An unreachable key-manager is 503 SERVICE_UNAVAILABLE, a failing one 502 (``ApiError``s: the
call failed); its 4xx answers are key-manager refusing, raised as ``Refusal``s in the §3 terms a
caller of distribution should see, so a use case can tell "refused, nothing reserved" from
"failed, maybe reserved".

``KeyManager`` is what the use cases need of it: the context holds a ``KeyManagerClient``, and a
unit test a plain fake object with the same methods.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from gamekeys_platform.errors import ApiError, format_timestamp
from gamekeys_platform.http_client import ServiceClient, ServiceResponse
from gamekeys_platform.refusals import Refusal
from gamekeys_platform.service_tokens import ServiceTokenProvider

SCOPES = "keys:allocate keys:sell"
INTERNAL = "/internal/v1/keys"
# key-manager's answers we pass on as they are (the §3 code is the same for our caller).
_PASSED_ON = {
    "INSUFFICIENT_KEY_ALLOCATION",
    "KEY_ALREADY_ACTIVATED",
    "KEY_REVOKED",
    "KEY_EXPIRED",
    "CONFLICT",
}


class KeyManager(Protocol):
    """key-manager's internal API as distribution uses it. Refusals are ``Refusal``s (nothing
    happened there); a failed call (unreachable, 5xx) is an ``ApiError`` with a 5xx status."""

    def allocate(
        self,
        *,
        allocation_id: uuid.UUID,
        retailer_id: uuid.UUID,
        game_id: uuid.UUID,
        key_type: str,
        quantity: int,
    ) -> dict: ...

    def allocation_keys(self, allocation_id: uuid.UUID, *, limit: int, cursor: str | None) -> dict: ...

    def keys_of_retailer(self, retailer_id: uuid.UUID, key_ids: list[uuid.UUID]) -> set[uuid.UUID]: ...

    def release_allocation(self, allocation_id: uuid.UUID, *, reason: str, revoke: bool) -> dict | None: ...

    def revoke_unsold(
        self,
        *,
        request_id: str,
        retailer_id: uuid.UUID,
        reason: str,
        game_ids: list[uuid.UUID] | None,
        allocation_id: uuid.UUID | None,
    ) -> dict: ...

    def sell(
        self, *, retailer_id: uuid.UUID, order_id: str, key_ids: list[uuid.UUID], sold_at: datetime
    ) -> dict: ...

    def return_keys(
        self,
        *,
        retailer_id: uuid.UUID,
        order_id: str,
        key_ids: list[uuid.UUID],
        reason: str,
        return_id: uuid.UUID,
    ) -> dict: ...

    def charge_back(
        self,
        *,
        chargeback_id: uuid.UUID,
        retailer_id: uuid.UUID,
        order_id: str,
        key_ids: list[uuid.UUID],
        reason: str,
    ) -> dict: ...


class KeyManagerClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings) -> KeyManagerClient:
        tokens = ServiceTokenProvider.from_settings(settings, scope=SCOPES)
        timeout = settings.key_manager_timeout_seconds
        return cls(
            ServiceClient(
                settings.key_manager_url,
                service_name="key-manager",
                token_provider=tokens,
                connect_timeout=min(1.0, timeout),
                read_timeout=timeout,
            )
        )

    def allocate(
        self,
        *,
        allocation_id: uuid.UUID,
        retailer_id: uuid.UUID,
        game_id: uuid.UUID,
        key_type: str,
        quantity: int,
    ) -> dict:
        """All or nothing; idempotent by allocationId, so the client may retry it."""
        response = self.client.post(
            f"{INTERNAL}/allocations",
            json={
                "allocationId": str(allocation_id),
                "retailerId": str(retailer_id),
                "gameId": str(game_id),
                "keyType": key_type,
                "quantity": quantity,
            },
            idempotency_key=f"allocation:{allocation_id}",
        )
        return self._ok(response)

    def allocation_keys(self, allocation_id: uuid.UUID, *, limit: int, cursor: str | None) -> dict:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._ok(self.client.get(f"{INTERNAL}/allocations/{allocation_id}/keys", params=params))

    def keys_of_retailer(self, retailer_id: uuid.UUID, key_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``key_ids`` key-manager has allocated to the retailer (≤ 1,000 ids)."""
        response = self.client.post(  # a read: POST only for the size of the id list
            f"{INTERNAL}/retailer-keys",
            json={"retailerId": str(retailer_id), "keyIds": [str(k) for k in key_ids]},
            retry_safe=True,
        )
        return {uuid.UUID(k) for k in self._ok(response)["keyIds"]}

    def release_allocation(self, allocation_id: uuid.UUID, *, reason: str, revoke: bool) -> dict | None:
        """The allocation's unsold keys back to the free pool (or revoked); idempotent. None when
        key-manager never created that allocation."""
        response = self.client.post(
            f"{INTERNAL}/allocations/{allocation_id}/release",
            json={"reason": reason, "revoke": revoke},
            # Safe to repeat (a second release changes nothing): the key lets the client retry.
            idempotency_key=f"release:{allocation_id}:{'revoke' if revoke else 'pool'}",
        )
        if response.status_code == 404:
            return None
        return self._ok(response)

    def revoke_unsold(
        self,
        *,
        request_id: str,
        retailer_id: uuid.UUID,
        reason: str,
        game_ids: list[uuid.UUID] | None,
        allocation_id: uuid.UUID | None,
    ) -> dict:
        """Every unsold key of the retailer's allocations (narrowed to games and/or one
        allocation) revoked in one operation: key-manager's report. Idempotent by
        ``request_id`` (a retry answers the first report), so the client may retry it."""
        response = self.client.post(
            f"{INTERNAL}/retailers/{retailer_id}/revoke-unsold",
            json={
                "requestId": request_id,
                "reason": reason,
                "gameIds": [str(g) for g in game_ids] if game_ids is not None else None,
                "allocationId": str(allocation_id) if allocation_id is not None else None,
            },
            retry_safe=True,
        )
        if response.status_code == 404:
            raise Refusal("NOT_FOUND", "allocation not found")
        return self._ok(response)

    def sell(
        self, *, retailer_id: uuid.UUID, order_id: str, key_ids: list[uuid.UUID], sold_at: datetime
    ) -> dict:
        response = self.client.post(
            f"{INTERNAL}/sales",
            json={
                "retailerId": str(retailer_id),
                "orderId": order_id,
                "keyIds": [str(k) for k in key_ids],
                "soldAt": format_timestamp(sold_at),
            },
            # key-manager scopes idempotency keys by caller (us): make them unique per retailer.
            idempotency_key=f"sale:{retailer_id}:{uuid.uuid5(uuid.NAMESPACE_URL, order_id)}",
        )
        return self._ok(response)

    def return_keys(
        self,
        *,
        retailer_id: uuid.UUID,
        order_id: str,
        key_ids: list[uuid.UUID],
        reason: str,
        return_id: uuid.UUID,
    ) -> dict:
        response = self.client.post(
            f"{INTERNAL}/returns",
            json={
                "retailerId": str(retailer_id),
                "orderId": order_id,
                "keyIds": [str(k) for k in key_ids],
                "reason": reason,
            },
            idempotency_key=f"return:{return_id}",
        )
        return self._ok(response)

    def charge_back(
        self,
        *,
        chargeback_id: uuid.UUID,
        retailer_id: uuid.UUID,
        order_id: str,
        key_ids: list[uuid.UUID],
        reason: str,
    ) -> dict:
        """Unredeemed keys revoked, activated ones disputed: ``revokedKeyIds``,
        ``disputedKeyIds``. Idempotent by the chargeback id (the Idempotency-Key), so retried."""
        response = self.client.post(
            f"{INTERNAL}/chargebacks",
            json={
                "chargebackId": str(chargeback_id),
                "retailerId": str(retailer_id),
                "orderId": order_id,
                "keyIds": [str(k) for k in key_ids],
                "reason": reason,
            },
            idempotency_key=f"chargeback:{chargeback_id}",
        )
        return self._ok(response)

    @staticmethod
    def _ok(response: ServiceResponse) -> dict:
        if response.status_code < 300:
            return response.json()
        try:
            error = response.json()["error"]
            code, message, details = error["code"], error["message"], error.get("details") or {}
        except (ValueError, KeyError, TypeError):
            code, message, details = "", "", {}
        if code in _PASSED_ON:
            raise Refusal(code, message, details)
        if code in ("KEY_NOT_FOUND", "RETAILER_NOT_AUTHORIZED", "NOT_FOUND"):
            # Keys that do not exist and keys of another retailer look the same to a retailer.
            raise Refusal("KEY_NOT_FOUND", "some keys are not this retailer's", _key_ids(details))
        raise ApiError(
            "EXTERNAL_SERVICE_ERROR",
            f"key-manager refused the call with status {response.status_code}",
            {"service": "key-manager", "status": response.status_code},
        )


def _key_ids(details: dict) -> dict:
    ids = details.get("keyIds")
    return {"keyIds": ids} if isinstance(ids, list) else {}
