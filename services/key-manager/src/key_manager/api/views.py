"""Shapes shared by the public and internal views (rows -> camelCase dicts) and small helpers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row

from gamekeys_platform.auth import current_principal
from gamekeys_platform.errors import ApiError
from gamekeys_platform.errors import format_optional_timestamp as ts
from gamekeys_platform.openapi import declare
from gamekeys_platform.pagination import Page, page_body
from key_manager.context import key_manager
from key_manager.domain import codec
from key_manager.domain.batches import progress
from key_manager.domain.states import BATCH_WITH_KEYS
from key_manager.domain.vault import KeyVault, UnreadableKey

log = logging.getLogger("key_manager.keys")


def actor() -> str:
    return current_principal().subject


def caller_rate_limit(name: str, limit: Callable[[Any], tuple[int, int]]):
    """Decorator: count the call against the caller's (token subject's) ``name`` limit before the
    body is even parsed; over it, 429 RATE_LIMITED with Retry-After and nothing else done.
    ``limit(settings)`` gives (calls, window in seconds)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            km = key_manager()
            calls, window = limit(km.settings)
            km.limiter.hit(name, current_principal().subject, calls, window).raise_if_limited()
            return view(*args, **kwargs)

        declare(wrapper, rate_limited=True)
        return wrapper

    return decorator


def batch_dict(batch: Row, key_counts: dict[str, int] | None = None) -> dict[str, Any]:
    result = {
        "batchId": batch.id,
        "gameId": batch.game_id,
        "developerId": batch.developer_id,
        "keyType": batch.key_type,
        "status": batch.status,
        "totalKeys": batch.total_keys,
        "generatedKeys": batch.generated_keys,
        "progress": 1.0
        if batch.status in BATCH_WITH_KEYS
        else progress(batch.generated_keys, batch.total_keys),
        "regionalRestrictions": batch.regional_restrictions,
        "metadata": batch.metadata,
        "createdBy": batch.created_by,
        "createdAt": ts(batch.created_at),
        "generatedAt": ts(batch.completed_at),
        "expiresAt": ts(batch.expires_at),
        "failureReason": batch.failure_reason,
        "revokedAt": ts(batch.revoked_at),
        "revokedKeys": batch.revoked_keys,
        "cancelledAt": ts(batch.cancelled_at),
        "cancelReason": batch.cancel_reason,
    }
    if key_counts is not None:
        result["keyCounts"] = key_counts
    return result


UNREADABLE_MESSAGE = (
    "the stored key cannot be decrypted (its encryption key is not configured or its ciphertext "
    "is damaged); its state is intact and it can still be revoked"
)


def plaintext(vault: KeyVault, key: Row) -> bytes:
    """The key in clear, or UnreadableKey, logged with the key's id (never its ciphertext)."""
    try:
        return vault.decrypt(key.encryption_key_id, key.id.bytes, key.ciphertext)
    except UnreadableKey as exc:
        log.error(
            "stored key cannot be decrypted",
            extra={"keyId": str(key.id), "encryptionKeyId": key.encryption_key_id, "reason": exc.reason},
        )
        raise


def unreadable_error(key_id: Any, exc: UnreadableKey) -> dict[str, Any]:
    """What is wrong with one key, in §3's terms: DATABASE_ERROR (the stored data cannot be
    read, until an operator restores its encryption key), ``details.reason`` saying why."""
    return {
        "code": "DATABASE_ERROR",
        "message": UNREADABLE_MESSAGE,
        "details": {"keyId": str(key_id), "reason": exc.reason},
    }


def key_info(vault: KeyVault, key: Row, history: list[Row] | None = None) -> dict[str, Any]:
    """KeyInfo with the key masked; an unreadable key gets ``key: null`` and ``keyError`` (so a
    broken key can still be revoked and the change answered)."""
    try:
        masked, key_error = codec.mask(plaintext(vault, key)), None
    except UnreadableKey as exc:
        masked, key_error = None, unreadable_error(key.id, exc)
    result = {
        "id": key.id,
        "key": masked,
        "keyError": key_error,
        "gameId": key.game_id,
        "developerId": key.developer_id,
        "batchId": key.batch_id,
        "keyType": key.key_type,
        "status": key.status,
        "regionalRestrictions": key.regional_restrictions,
        "createdAt": ts(key.created_at),
        "statusChangedAt": ts(key.status_changed_at),
        "expiresAt": ts(key.expires_at),
        "activatedAt": ts(key.activated_at),
        "activatedBy": key.activated_by,
        "allocationId": key.allocation_id,
        "retailerId": key.retailer_id,
        "soldAt": ts(key.sold_at),
        "metadata": key.metadata,
    }
    if history is not None:
        result["history"] = [
            {
                "from": h.from_status,
                "to": h.to_status,
                "by": h.actor,
                "at": ts(h.created_at),
                "reason": h.reason,
                "operation": h.operation,
            }
            for h in history
        ]
    return result


def normalized_or_400(text: str) -> bytes:
    try:
        return codec.normalize(text)
    except codec.InvalidKeyFormat as exc:
        raise ApiError("INVALID_KEY_FORMAT", str(exc)) from None


def revealed(vault: KeyVault, row: Row) -> tuple[str | None, dict[str, Any] | None]:
    """(the formatted key, None), or (None, the per-item error) for a key that cannot be read:
    one broken key must not take its whole page or export down with it."""
    try:
        return codec.format_key(plaintext(vault, row)), None
    except UnreadableKey as exc:
        return None, unreadable_error(row.id, exc)


def exported_key(vault: KeyVault, row: Row) -> dict[str, Any]:
    key, error = revealed(vault, row)
    return {
        "id": row.id,
        "key": key,
        "error": error,
        "status": row.status,
        "allocationId": row.allocation_id,
        "retailerId": row.retailer_id,
    }


def exported_keys_page(vault: KeyVault, page: Page) -> tuple[dict[str, Any], dict[str, str]]:
    """A page of decrypted keys, never cached."""
    body = page_body(page, lambda row: exported_key(vault, row), lambda row: (row.id,))
    return body, {"Cache-Control": "no-store"}
