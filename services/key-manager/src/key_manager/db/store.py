"""Queries of the store's orders: a paid order's keys taken from the studio's free pool and sold
to the buyer in one statement per batch, the order row that makes the issue call idempotent, and
the free-pool counts behind ``/stock``. Nothing here commits.

Key and batch states are bound from ``domain/states.py``, never restated as literals."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from key_manager.db.allocations import advance_free_from, take_allocation_turn
from key_manager.db.tables import batches, keys, store_orders, store_quotas
from key_manager.domain.batches import key_id_range
from key_manager.domain.regions import RegionPolicy
from key_manager.domain.states import STORE_SALE, BatchStatus, KeyStatus


def insert_order(
    session: Session,
    *,
    order_id: str,
    game_id: uuid.UUID,
    key_type: str,
    quantity: int,
    buyer_id: uuid.UUID,
    region: str,
    actor: str,
) -> bool:
    """The order's row, without keys yet; False when the order id exists already. A concurrent
    duplicate waits here on the unique index until the first commits or rolls back."""
    created = session.execute(
        pg_insert(store_orders)
        .values(
            order_id=order_id,
            game_id=game_id,
            key_type=key_type,
            quantity=quantity,
            buyer_id=buyer_id,
            region=region,
            key_ids=[],
            created_by=actor,
        )
        .on_conflict_do_nothing()
        .returning(store_orders.c.order_id)
    ).first()
    return created is not None


def get_order(session: Session, order_id: str, *, for_update: bool = False) -> Row | None:
    query = select(store_orders).where(store_orders.c.order_id == order_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def set_order_keys(session: Session, order_id: str, key_ids: list[uuid.UUID]) -> Row:
    session.execute(update(store_orders).where(store_orders.c.order_id == order_id).values(key_ids=key_ids))
    return get_order(session, order_id)


def mark_refunded(session: Session, order_id: str, *, actor: str, reason: str | None) -> Row:
    """The first refund's time, actor and reason; a repeat keeps them."""
    session.execute(
        update(store_orders)
        .where(store_orders.c.order_id == order_id, store_orders.c.refunded_at.is_(None))
        .values(refunded_at=func.now(), refunded_by=actor, refund_reason=reason)
    )
    return get_order(session, order_id)


def order_keys(session: Session, key_ids: list[uuid.UUID]) -> list[Row]:
    return list(session.execute(select(keys).where(keys.c.id.in_(key_ids)).order_by(keys.c.id)))


def _sellable_batches(session: Session, game_id: uuid.UUID, key_type: str | None = None) -> list[Row]:
    """Completed, unexpired batches of the game (and key type), oldest first."""
    query = select(
        batches.c.id,
        batches.c.key_type,
        batches.c.free_from,
        batches.c.allowed_countries,
        batches.c.denied_countries,
    ).where(
        batches.c.game_id == game_id,
        batches.c.status == BatchStatus.COMPLETED.value,
        or_(batches.c.expires_at.is_(None), batches.c.expires_at > func.now()),
    )
    if key_type is not None:
        query = query.where(batches.c.key_type == key_type)
    return session.execute(query.order_by(batches.c.created_at, batches.c.id)).all()


_FREE, _STEP, _SOLD = (state.value for state in STORE_SALE)

# Free keys of one batch become the order's, sold to the buyer, with a history row for each step
# of the state machine (generated → allocated → sold, in that order: the allocated step is the
# key set aside for this order and is never seen outside the transaction).
_SELL_RANGE = text(
    """
    WITH picked AS (
        SELECT id FROM key_manager.keys
        WHERE id BETWEEN :low AND :high AND status = :free
          AND (expires_at IS NULL OR expires_at > now())
        ORDER BY id LIMIT :wanted FOR UPDATE SKIP LOCKED
    ), changed AS (
        UPDATE key_manager.keys AS k
        SET status = :sold, order_id = :order_id, sold_at = now(), status_changed_at = now(),
            allocation_id = NULL, retailer_id = NULL
        FROM picked WHERE k.id = picked.id AND k.status = :free
        RETURNING k.id
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT changed.id, step.from_status, step.to_status, :actor, :reason, 'store_issue', :request_id
        FROM changed
        CROSS JOIN (VALUES (1, CAST(:free AS varchar), CAST(:step AS varchar)),
                           (2, CAST(:step AS varchar), CAST(:sold AS varchar)))
            AS step(n, from_status, to_status)
        ORDER BY changed.id, step.n
    )
    SELECT id FROM changed ORDER BY id
    """
)


def sell_free_keys(
    session: Session,
    *,
    order_id: str,
    game_id: uuid.UUID,
    key_type: str,
    region: str,
    quantity: int,
    actor: str,
    request_id: str | None,
) -> list[uuid.UUID]:
    """Up to ``quantity`` free keys of the game and type that can be activated in ``region``,
    oldest batches first, sold to the order. Returns their ids; the caller rolls back when they
    are fewer than asked.

    Store orders take turns with each other and with retailer allocations of the same game and
    key type (the allocation advisory lock): two orders for the last keys would otherwise each
    skip the keys the other holds and both come up short, where one after the other the first
    succeeds. Keys another transaction holds (an activation) are skipped."""
    take_allocation_turn(session, game_id, key_type)
    params: dict[str, Any] = {
        "order_id": order_id,
        "actor": actor,
        "reason": f"store order {order_id}",
        "request_id": request_id,
        "free": _FREE,
        "step": _STEP,
        "sold": _SOLD,
    }
    candidates = [
        batch
        for batch in _sellable_batches(session, game_id, key_type)
        if RegionPolicy.from_columns(batch.allowed_countries, batch.denied_countries).permits(region)
    ]
    sold: list[uuid.UUID] = []
    for below_hint in (False, True):
        for batch in candidates:
            low, high = key_id_range(batch.id)
            if below_hint:
                # Keys below a hint (held by someone else when it moved, or freed again since).
                if batch.free_from is None or batch.free_from <= low:
                    continue
                high = batch.free_from
            elif batch.free_from is not None:
                low = batch.free_from
            taken = list(
                session.execute(
                    _SELL_RANGE, {**params, "low": low, "high": high, "wanted": quantity - len(sold)}
                ).scalars()
            )
            sold.extend(taken)
            if not below_hint:
                advance_free_from(session, batch.id, taken[-1] if len(sold) >= quantity and taken else high)
            if len(sold) >= quantity:
                return sold
    return sold


def free_key_counts(session: Session, game_id: uuid.UUID, key_type: str | None = None) -> dict[str, int]:
    """Free (``generated``, unexpired) keys of the game per key type in completed batches: the
    pool the store and retailer allocations take from. One primary-key range count a batch."""
    counts: dict[str, int] = {}
    for batch in _sellable_batches(session, game_id, key_type):
        low, high = key_id_range(batch.id)
        count = session.execute(
            select(func.count()).where(
                keys.c.id.between(low, high),
                keys.c.status == KeyStatus.GENERATED.value,
                or_(keys.c.expires_at.is_(None), keys.c.expires_at > func.now()),
            )
        ).scalar_one()
        counts[batch.key_type] = counts.get(batch.key_type, 0) + count
    return counts


# --- store quotas ---------------------------------------------------------------------------

# The store's keys of a game and type that count against a quota: every key of an order not
# refunded, and of a refunded order the keys the refund did not revoke (redeemed ones).
_SOLD_TO_STORE = text(
    """
    SELECT coalesce(sum(CASE WHEN o.refunded_at IS NULL THEN o.quantity ELSE (
        SELECT count(*) FROM key_manager.keys AS k WHERE k.id = ANY(o.key_ids) AND k.status <> :revoked
    ) END), 0)
    FROM key_manager.store_orders AS o
    WHERE o.game_id = :game_id AND o.key_type = :key_type AND cardinality(o.key_ids) > 0
    """
)


def take_turn(session: Session, game_id: uuid.UUID, key_type: str) -> None:
    """Wait for this transaction's turn on the free keys of the game and type (store orders,
    retailer allocations and quota changes take turns; held until the transaction ends)."""
    take_allocation_turn(session, game_id, key_type)


def get_quota(session: Session, game_id: uuid.UUID, key_type: str) -> Row | None:
    return session.execute(
        select(store_quotas).where(store_quotas.c.game_id == game_id, store_quotas.c.key_type == key_type)
    ).first()


def quotas_of(session: Session, game_id: uuid.UUID) -> dict[str, Row]:
    rows = session.execute(select(store_quotas).where(store_quotas.c.game_id == game_id)).all()
    return {row.key_type: row for row in rows}


def set_quota(
    session: Session, *, game_id: uuid.UUID, key_type: str, developer_id: uuid.UUID, quota: int, actor: str
) -> Row:
    """Set the cap, taking the allocation turn of the game and type first (so no order is half
    counted). A new cap starts from the store's keys sold so far; an existing one keeps its count."""
    take_allocation_turn(session, game_id, key_type)
    sold = session.execute(
        _SOLD_TO_STORE,
        {"game_id": game_id, "key_type": key_type, "revoked": KeyStatus.REVOKED.value},
    ).scalar_one()
    statement = pg_insert(store_quotas).values(
        game_id=game_id,
        key_type=key_type,
        developer_id=developer_id,
        quota=quota,
        sold=sold,
        updated_by=actor,
    )
    return session.execute(
        statement.on_conflict_do_update(
            index_elements=[store_quotas.c.game_id, store_quotas.c.key_type],
            set_={"quota": quota, "updated_by": actor, "updated_at": func.now()},
        ).returning(store_quotas)
    ).one()


def delete_quota(session: Session, game_id: uuid.UUID, key_type: str) -> bool:
    take_allocation_turn(session, game_id, key_type)
    deleted = session.execute(
        store_quotas.delete()
        .where(store_quotas.c.game_id == game_id, store_quotas.c.key_type == key_type)
        .returning(store_quotas.c.game_id)
    ).first()
    return deleted is not None


def take_quota(session: Session, game_id: uuid.UUID, key_type: str, quantity: int) -> Row | None:
    """Count ``quantity`` keys against the cap if it leaves room for them (one conditional
    UPDATE; the caller holds the allocation turn). The quota row after it, None when it had no
    room; call ``get_quota`` first to tell "no room" from "no cap"."""
    return session.execute(
        update(store_quotas)
        .where(
            store_quotas.c.game_id == game_id,
            store_quotas.c.key_type == key_type,
            store_quotas.c.sold + quantity <= store_quotas.c.quota,
        )
        .values(sold=store_quotas.c.sold + quantity)
        .returning(store_quotas)
    ).first()


def give_back_quota(session: Session, game_id: uuid.UUID, key_type: str, count: int) -> None:
    """A refund's revoked keys no longer count against the cap (if there is one)."""
    session.execute(
        update(store_quotas)
        .where(store_quotas.c.game_id == game_id, store_quotas.c.key_type == key_type)
        .values(sold=func.greatest(store_quotas.c.sold - count, 0))
    )


def quota_remaining(row: Row | None) -> int | None:
    return None if row is None else max(row.quota - row.sold, 0)
