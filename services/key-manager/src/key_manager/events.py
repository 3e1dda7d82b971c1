"""keys.events built from key-manager's rows: each function returns the type's contract
(``gamekeys_platform.contracts.keys``). No event carries a plaintext key."""

from __future__ import annotations

import uuid

from sqlalchemy import Row

from gamekeys_platform.contracts import keys as contract


def batch_generated(batch: Row) -> contract.BatchGenerated:
    return contract.BatchGenerated(
        batch_id=batch.id,
        game_id=batch.game_id,
        developer_id=batch.developer_id,
        key_type=batch.key_type,
        quantity=batch.generated_keys,
        regional_restrictions=batch.regional_restrictions,
        expires_at=batch.expires_at,
        synchronous=batch.synchronous,
        generated_at=batch.completed_at,
        created_by=batch.created_by,
    )


def batch_failed(batch: Row) -> contract.BatchFailed:
    return contract.BatchFailed(
        batch_id=batch.id,
        game_id=batch.game_id,
        developer_id=batch.developer_id,
        key_type=batch.key_type,
        quantity=batch.total_keys,
        reason=batch.failure_reason,
    )


def batch_revoked(batch: Row, revoked: int, actor: str, reason: str) -> contract.BatchRevoked:
    return contract.BatchRevoked(
        batch_id=batch.id,
        game_id=batch.game_id,
        developer_id=batch.developer_id,
        revoked_keys=revoked,
        reason=reason,
        revoked_by=actor,
    )


def batch_cancelled(batch: Row, previous_status: str) -> contract.BatchCancelled:
    return contract.BatchCancelled(
        batch_id=batch.id,
        game_id=batch.game_id,
        developer_id=batch.developer_id,
        key_type=batch.key_type,
        quantity=batch.total_keys,
        previous_status=previous_status,
        reason=batch.cancel_reason,
        cancelled_by=batch.cancelled_by,
        cancelled_at=batch.cancelled_at,
    )


def batch_expired(batch: Row, expired: int) -> contract.BatchExpired:
    return contract.BatchExpired(
        batch_id=batch.id,
        game_id=batch.game_id,
        developer_id=batch.developer_id,
        expired_keys=expired,
        expires_at=batch.expires_at,
    )


def key_changed(
    key: Row, previous_status: str, actor: str, reason: str | None
) -> contract.KeyRevoked | contract.KeyExpired | contract.KeySold:
    """What a person's status change of one key emits: key.revoked, key.expired or key.sold."""
    if key.status == "sold":
        return contract.KeySold(
            retailer_id=key.retailer_id,
            order_id=None,
            key_ids=[key.id],
            batch_ids=[key.batch_id],
            quantity=1,
            sold_at=key.sold_at,
            sold_by=actor,
            reason=reason,
        )
    event = contract.KeyExpired if key.status == "expired" else contract.KeyRevoked
    return event(
        key_id=key.id,
        batch_id=key.batch_id,
        game_id=key.game_id,
        developer_id=key.developer_id,
        key_type=key.key_type,
        previous_status=previous_status,
        status=key.status,
        reason=reason,
        changed_by=actor,
        changed_at=key.status_changed_at,
        retailer_id=key.retailer_id,
    )


def key_activated(activated: Row, *, user_id: str, activation_id: str, region: str) -> contract.KeyActivated:
    return contract.KeyActivated(
        key_id=activated.id,
        batch_id=activated.batch_id,
        game_id=activated.game_id,
        developer_id=activated.developer_id,
        key_type=activated.key_type,
        previous_status=activated.from_status,
        user_id=user_id,
        activation_id=activation_id,
        region=region,
        retailer_id=activated.retailer_id,
        allocation_id=activated.allocation_id,
        activated_at=activated.activated_at,
    )


def key_held(held: Row, hold_id: str, reason: str | None) -> contract.KeyHeld:
    return contract.KeyHeld(
        key_id=held.id,
        batch_id=held.batch_id,
        game_id=held.game_id,
        hold_id=hold_id,
        previous_status=held.from_status,
        reason=reason,
    )


def key_released(released: Row, hold_id: str) -> contract.KeyReleased:
    return contract.KeyReleased(
        key_id=released.id,
        batch_id=released.batch_id,
        game_id=released.game_id,
        hold_id=hold_id,
        status=released.to_status,
    )


def key_allocated(allocation: Row, batches: list[tuple[uuid.UUID, int]]) -> contract.KeyAllocated:
    """``batches``: (batch id, keys it gave), oldest batch first."""
    return contract.KeyAllocated(
        allocation_id=allocation.id,
        retailer_id=allocation.retailer_id,
        game_id=allocation.game_id,
        key_type=allocation.key_type,
        quantity=allocation.quantity,
        allocated_at=allocation.created_at,
        batches=[contract.BatchShare(batch_id=batch_id, quantity=quantity) for batch_id, quantity in batches],
    )


def allocation_released(
    allocation: Row, *, released: int, status: str, reason: str, actor: str, request_id: str | None = None
) -> contract.AllocationReleased:
    return contract.AllocationReleased(
        allocation_id=allocation.id,
        retailer_id=allocation.retailer_id,
        game_id=allocation.game_id,
        key_type=allocation.key_type,
        released=released,
        status=status,
        reason=reason,
        released_by=actor,
        request_id=request_id,
    )


def keys_sold(retailer_id, order_id: str, keys: list[Row], sold_at) -> contract.KeySold:
    return contract.KeySold(
        retailer_id=retailer_id,
        order_id=order_id,
        key_ids=[key.id for key in keys],
        batch_ids=[key.batch_id for key in keys],
        quantity=len(keys),
        sold_at=sold_at,
    )


def keys_returned(retailer_id, order_id: str, keys: list[Row], reason: str) -> contract.KeyReturned:
    return contract.KeyReturned(
        retailer_id=retailer_id,
        order_id=order_id,
        key_ids=[key.id for key in keys],
        batch_ids=[key.batch_id for key in keys],
        quantity=len(keys),
        status="revoked",
        reason=reason,
    )


def store_keys_sold(order: Row, keys: list[Row]) -> contract.KeySold:
    return contract.KeySold(
        retailer_id=None,
        order_id=order.order_id,
        buyer_id=str(order.buyer_id),
        key_ids=[key.id for key in keys],
        batch_ids=[key.batch_id for key in keys],
        quantity=len(keys),
        sold_at=keys[0].sold_at,
    )


def store_order_refunded(
    order: Row, *, revoked: list, redeemed: list, actor: str
) -> contract.StoreOrderRefunded:
    return contract.StoreOrderRefunded(
        order_id=order.order_id,
        game_id=order.game_id,
        key_type=order.key_type,
        buyer_id=str(order.buyer_id),
        key_ids=revoked,
        redeemed_key_ids=redeemed,
        reason=order.refund_reason,
        refunded_by=actor,
        refunded_at=order.refunded_at,
    )


def store_stock_low(game_id, key_type: str, available: int, threshold: int) -> contract.StoreStockLow:
    return contract.StoreStockLow(
        game_id=game_id, key_type=key_type, available=available, threshold=threshold
    )


def store_quota_updated(game_id, developer_id, key_type: str, quota: int | None, sold: int, actor: str):
    return contract.StoreQuotaUpdated(
        game_id=game_id,
        developer_id=developer_id,
        key_type=key_type,
        quota=quota,
        sold=sold,
        updated_by=actor,
    )


def keys_charged_back(
    *, chargeback_id, retailer_id, order_id: str, revoked: list, disputed: list, reason: str, actor: str
) -> contract.KeysChargedBack:
    return contract.KeysChargedBack(
        chargeback_id=chargeback_id,
        retailer_id=retailer_id,
        order_id=order_id,
        revoked_key_ids=revoked,
        disputed_key_ids=disputed,
        reason=reason,
        charged_back_by=actor,
    )


def key_disputed(key: Row, dispute: Row) -> contract.KeyDisputed:
    return contract.KeyDisputed(
        key_id=key.id,
        batch_id=key.batch_id,
        game_id=key.game_id,
        developer_id=key.developer_id,
        activation_id=dispute.activation_id,
        user_id=dispute.activated_by,
        source=dispute.source,
        reference=dispute.reference,
        retailer_id=dispute.retailer_id,
        order_id=dispute.order_id,
        reason=dispute.reason,
        activated_at=key.activated_at,
        disputed_at=dispute.created_at,
    )
