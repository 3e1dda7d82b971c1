"""Use cases of the store (the Payment Service's calls): issue a paid order's keys to its buyer,
idempotent by order id, and refund an order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.refusals import Refusal
from key_manager import events
from key_manager.context import KeyManager
from key_manager.db import keys as keys_repo
from key_manager.db import store as store_repo
from key_manager.db.tables import studio_projection as projection
from key_manager.domain.states import REVOCABLE, KeyStatus, KeyType, TransitionRefused, check_transition
from key_manager.usecases import chargebacks, refusals


@dataclass(frozen=True)
class Issued:
    order: Row
    keys: list[Row]
    created: bool  # False: the order existed already (a retry)


def issue(
    km: KeyManager,
    session: Session,
    *,
    order_id: str,
    game_id: uuid.UUID,
    key_type: str,
    quantity: int,
    buyer_id: uuid.UUID,
    region: str,
    actor: str,
    request_id: str | None,
) -> Issued:
    """Sell ``quantity`` free keys of the game and type, activatable in ``region``, to the
    order's buyer, all or nothing (INSUFFICIENT_KEY_ALLOCATION, and the caller's transaction
    rolls back, order row included). Idempotent by ``order_id``: a retry answers the same keys;
    the same order id with other parameters is IDEMPOTENCY_CONFLICT. One key.sold event, and
    store.stock_low when this order takes the free pool below the threshold. A new order for a
    game of a suspended studio is PUBLISHER_SUSPENDED (a retry of one issued before still answers
    its keys)."""
    region = region.upper()
    created = store_repo.insert_order(
        session,
        order_id=order_id,
        game_id=game_id,
        key_type=key_type,
        quantity=quantity,
        buyer_id=buyer_id,
        region=region,
        actor=actor,
    )
    if not created:
        existing = store_repo.get_order(session, order_id)
        stored = (existing.game_id, existing.key_type, existing.quantity, existing.buyer_id, existing.region)
        if stored != (game_id, key_type, quantity, buyer_id, region):
            raise Refusal("IDEMPOTENCY_CONFLICT", "this orderId was used with other parameters")
        return Issued(existing, store_repo.order_keys(session, existing.key_ids), created=False)
    owner = projection.game_owner(session, game_id)
    if owner is not None and owner.suspended:
        raise Refusal(
            "PUBLISHER_SUSPENDED",
            "the game's publisher is suspended by the platform: the store cannot sell its keys now",
            {"gameId": str(game_id), "developerId": str(owner.developer_id)},
        )
    # Orders of a game and key type take turns (also with retailer allocations and quota changes).
    store_repo.take_turn(session, game_id, key_type)
    quota = store_repo.get_quota(session, game_id, key_type)
    if quota is not None and store_repo.take_quota(session, game_id, key_type, quantity) is None:
        remaining = store_repo.quota_remaining(quota)
        raise Refusal(
            "INSUFFICIENT_KEY_ALLOCATION",
            f"the studio's store quota leaves {remaining} {key_type} keys of this game to sell",
            {
                "requested": quantity,
                "available": remaining,
                "region": region,
                "reason": "STORE_QUOTA",
                "quota": quota.quota,
            },
        )
    sold = store_repo.sell_free_keys(
        session,
        order_id=order_id,
        game_id=game_id,
        key_type=key_type,
        region=region,
        quantity=quantity,
        actor=actor,
        request_id=request_id,
    )
    if len(sold) < quantity:
        raise Refusal(
            "INSUFFICIENT_KEY_ALLOCATION",
            f"only {len(sold)} free {key_type} keys of this game can be sold for {region}",
            {"requested": quantity, "available": len(sold), "region": region, "reason": "NO_FREE_KEYS"},
        )
    order = store_repo.set_order_keys(session, order_id, sold)
    rows = store_repo.order_keys(session, sold)
    km.outbox.add(session, events.store_keys_sold(order, rows))
    threshold = km.settings.key_store_low_stock_threshold
    left = store_repo.free_key_counts(session, game_id, key_type).get(key_type, 0)
    if quota is not None:
        left = min(left, store_repo.quota_remaining(store_repo.get_quota(session, game_id, key_type)))
    if left < threshold <= left + quantity:
        km.outbox.add(session, events.store_stock_low(game_id, key_type, left, threshold))
    return Issued(order, rows, created=True)


@dataclass(frozen=True)
class Refunded:
    order: Row
    keys: list[Row]
    revoked_now: list[uuid.UUID]


def refund(
    km: KeyManager,
    session: Session,
    order_id: str,
    *,
    reason: str | None,
    actor: str,
    request_id: str | None,
) -> Refunded:
    """Revoke the order's keys that were not redeemed; redeemed (activated) ones stay and are
    reported. The order's keys are locked in id order first, so a redemption of one of them
    either committed before (the key is reported redeemed) or waits and then finds it revoked:
    never both. Idempotent: a repeat revokes nothing and answers the same; one
    store.order_refunded event, on the first refund, and a key.disputed per redeemed key (its
    activation becomes disputed, as after a chargeback)."""
    order = store_repo.get_order(session, order_id, for_update=True)
    if order is None:
        raise Refusal("NOT_FOUND", "store order not found")
    rows = {row.id: row for row in keys_repo.keys_for_update(session, order.key_ids)}
    revocable = sorted(key_id for key_id, row in rows.items() if KeyStatus(row.status) in REVOCABLE)
    for key_id in revocable:
        row = rows[key_id]
        try:
            check_transition(row.status, KeyStatus.REVOKED, held_from=row.held_from_status)
        except TransitionRefused as exc:
            raise refusals.refused_transition(
                exc, {"keyId": str(key_id), "currentStatus": row.status}
            ) from exc
    if revocable:
        keys_repo.bulk_transition(
            session,
            revocable,
            rows,
            KeyStatus.REVOKED,
            actor=actor,
            operation="store_refund",
            reason=f"store order {order_id} refunded" + (f": {reason}" if reason else ""),
            request_id=request_id,
            values={"hold_id": None, "held_from_status": None},
        )
    if revocable:
        store_repo.give_back_quota(session, order.game_id, order.key_type, len(revocable))
    first = order.refunded_at is None
    order = store_repo.mark_refunded(session, order_id, actor=actor, reason=reason)
    keys_now = store_repo.order_keys(session, order.key_ids)
    if first:
        redeemed = [row for row in keys_now if row.status == KeyStatus.ACTIVATED]
        km.outbox.add(
            session,
            events.store_order_refunded(
                order, revoked=revocable, redeemed=[row.id for row in redeemed], actor=actor
            ),
        )
        # Redeemed keys of a refunded order: their activations are disputed, as after a chargeback.
        chargebacks.dispute(
            km,
            session,
            redeemed,
            source="store_refund",
            reference=order_id,
            retailer_id=None,
            order_id=order_id,
            reason=reason or "store order refunded",
            actor=actor,
        )
    return Refunded(order, keys_now, revocable)


def set_quota(
    km: KeyManager,
    session: Session,
    *,
    game_id: uuid.UUID,
    developer_id: uuid.UUID,
    key_type: str,
    quota: int,
    actor: str,
) -> Row:
    """The studio's cap on the game's keys of ``key_type`` the store may sell in all (the keys
    it sold already count; a cap below them stops further sales). store.quota_updated; the same
    quota again (a retry) changes nothing and emits nothing."""
    existing = store_repo.get_quota(session, game_id, key_type)
    if existing is not None and existing.quota == quota:
        return existing
    row = store_repo.set_quota(
        session, game_id=game_id, key_type=key_type, developer_id=developer_id, quota=quota, actor=actor
    )
    km.outbox.add(
        session, events.store_quota_updated(game_id, developer_id, key_type, quota, row.sold, actor)
    )
    return row


def remove_quota(
    km: KeyManager,
    session: Session,
    *,
    game_id: uuid.UUID,
    developer_id: uuid.UUID,
    key_type: str,
    actor: str,
) -> None:
    """No cap any more: the store may sell every free key of the type. Removing no cap changes
    nothing (and emits nothing)."""
    if store_repo.delete_quota(session, game_id, key_type):
        km.outbox.add(session, events.store_quota_updated(game_id, developer_id, key_type, None, 0, actor))


def stock(session: Session, game_id: uuid.UUID) -> list[dict]:
    """Per key type: the free keys, the quota when the studio set one, and what the store can
    sell (the free keys, within the quota's room)."""
    counts = store_repo.free_key_counts(session, game_id)
    quotas = store_repo.quotas_of(session, game_id)
    items = []
    for key_type in KeyType:
        free = counts.get(key_type.value, 0)
        quota = quotas.get(key_type.value)
        remaining = store_repo.quota_remaining(quota)
        items.append(
            {
                "keyType": key_type.value,
                "available": free if remaining is None else min(free, remaining),
                "free": free,
                "quota": None
                if quota is None
                else {"quota": quota.quota, "sold": quota.sold, "remaining": remaining},
            }
        )
    return items
