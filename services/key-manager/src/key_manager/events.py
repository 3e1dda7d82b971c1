"""The ``data`` of every keys.events type (docs/events.md). No event carries a plaintext key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from gamekeys_platform.errors import format_timestamp


def ts(moment) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def _batch(batch: Row) -> dict[str, Any]:
    return {"batchId": str(batch.id), "gameId": str(batch.game_id), "developerId": str(batch.developer_id)}


def batch_generated(batch: Row) -> dict[str, Any]:
    return {
        **_batch(batch),
        "keyType": batch.key_type,
        "quantity": batch.generated_keys,
        "regionalRestrictions": batch.regional_restrictions,
        "expiresAt": ts(batch.expires_at),
        "synchronous": batch.synchronous,
        "generatedAt": ts(batch.completed_at),
        "createdBy": batch.created_by,
    }


def batch_failed(batch: Row) -> dict[str, Any]:
    return {
        **_batch(batch),
        "keyType": batch.key_type,
        "quantity": batch.total_keys,
        "reason": batch.failure_reason,
    }


def batch_revoked(batch: Row, revoked: int, actor: str, reason: str) -> dict[str, Any]:
    return {**_batch(batch), "revokedKeys": revoked, "reason": reason, "revokedBy": actor}


def batch_cancelled(batch: Row, previous_status: str) -> dict[str, Any]:
    return {
        **_batch(batch),
        "keyType": batch.key_type,
        "quantity": batch.total_keys,
        "previousStatus": previous_status,
        "reason": batch.cancel_reason,
        "cancelledBy": batch.cancelled_by,
        "cancelledAt": ts(batch.cancelled_at),
    }


def batch_expired(batch: Row, expired: int) -> dict[str, Any]:
    return {**_batch(batch), "expiredKeys": expired, "expiresAt": ts(batch.expires_at)}


def _key(key: Row) -> dict[str, Any]:
    return {
        "keyId": str(key.id),
        "batchId": str(key.batch_id),
        "gameId": str(key.game_id),
        "developerId": str(key.developer_id),
        "keyType": key.key_type,
    }


def key_changed(key: Row, previous_status: str, actor: str, reason: str | None) -> dict[str, Any]:
    """key.revoked, key.expired, key.sold (single key, by a person)."""
    return {
        **_key(key),
        "previousStatus": previous_status,
        "status": key.status,
        "reason": reason,
        "changedBy": actor,
        "changedAt": ts(key.status_changed_at),
        "retailerId": str(key.retailer_id) if key.retailer_id else None,
    }


def key_activated(activated: Row, *, user_id: str, activation_id: str, region: str) -> dict[str, Any]:
    return {
        **_key(activated),
        "previousStatus": activated.from_status,
        "userId": user_id,
        "activationId": activation_id,
        "region": region,
        "retailerId": str(activated.retailer_id) if activated.retailer_id else None,
        "allocationId": str(activated.allocation_id) if activated.allocation_id else None,
        "activatedAt": ts(activated.activated_at),
    }


def key_held(
    key_id, batch_id, game_id, hold_id: str, previous_status: str, reason: str | None
) -> dict[str, Any]:
    return {
        "keyId": str(key_id),
        "batchId": str(batch_id),
        "gameId": str(game_id),
        "holdId": hold_id,
        "previousStatus": previous_status,
        "reason": reason,
    }


def key_released(key_id, batch_id, game_id, hold_id: str, status: str) -> dict[str, Any]:
    return {
        "keyId": str(key_id),
        "batchId": str(batch_id),
        "gameId": str(game_id),
        "holdId": hold_id,
        "status": status,
    }


def key_allocated(allocation: Row) -> dict[str, Any]:
    return {
        "allocationId": str(allocation.id),
        "retailerId": str(allocation.retailer_id),
        "gameId": str(allocation.game_id),
        "keyType": allocation.key_type,
        "quantity": allocation.quantity,
        "allocatedAt": ts(allocation.created_at),
    }


def allocation_released(
    allocation: Row, *, released: int, status: str, reason: str, actor: str
) -> dict[str, Any]:
    return {
        "allocationId": str(allocation.id),
        "retailerId": str(allocation.retailer_id),
        "gameId": str(allocation.game_id),
        "keyType": allocation.key_type,
        "released": released,
        "status": status,
        "reason": reason,
        "releasedBy": actor,
    }


def keys_sold(retailer_id, order_id: str, key_ids: list, sold_at) -> dict[str, Any]:
    return {
        "retailerId": str(retailer_id),
        "orderId": order_id,
        "keyIds": [str(k) for k in key_ids],
        "quantity": len(key_ids),
        "soldAt": ts(sold_at),
    }


def keys_returned(retailer_id, order_id: str, key_ids: list, reason: str) -> dict[str, Any]:
    return {
        "retailerId": str(retailer_id),
        "orderId": order_id,
        "keyIds": [str(k) for k in key_ids],
        "quantity": len(key_ids),
        "status": "revoked",
        "reason": reason,
    }
