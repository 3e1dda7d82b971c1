"""Queries of allocations: all-or-nothing allocation of free keys to a retailer (oldest batches
first, ``FOR UPDATE SKIP LOCKED``, one allocation of a game and key type at a time under an
advisory lock), its keys, and its release. Nothing here commits.

Key and batch states are bound from ``domain/states.py``, never restated as literals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gamekeys_platform.pagination import Page, keyset_page
from key_manager.db.keys import KEY_ORDER
from key_manager.db.tables import allocations, batches, keys
from key_manager.domain.batches import key_id_range
from key_manager.domain.states import BatchStatus, KeyStatus

FREE, ALLOCATED = KeyStatus.GENERATED.value, KeyStatus.ALLOCATED.value


def get_allocation(session: Session, allocation_id: uuid.UUID) -> Row | None:
    return session.execute(select(allocations).where(allocations.c.id == allocation_id)).first()


def batch_shares(session: Session, allocation_id: uuid.UUID) -> list[tuple[uuid.UUID, int]]:
    """How many of the allocation's keys each batch gave, oldest batch first."""
    return [
        (row.batch_id, row.quantity)
        for row in session.execute(
            select(keys.c.batch_id, func.count().label("quantity"))
            .join(batches, batches.c.id == keys.c.batch_id)
            .where(keys.c.allocation_id == allocation_id)
            .group_by(keys.c.batch_id, batches.c.created_at)
            .order_by(batches.c.created_at, keys.c.batch_id)
        )
    ]


def page_allocation_keys(
    session: Session, allocation_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    return keyset_page(
        session, select(keys).where(keys.c.allocation_id == allocation_id), KEY_ORDER, after, limit
    )


def create_allocation(
    session: Session,
    *,
    allocation_id: uuid.UUID,
    retailer_id: uuid.UUID,
    game_id: uuid.UUID,
    key_type: str,
    quantity: int,
    actor: str,
    request_id: str | None,
) -> int | None:
    """All-or-nothing: allocate ``quantity`` free keys of the game and type, oldest batches
    first, skipping rows other transactions hold (``FOR UPDATE SKIP LOCKED``: a key being
    activated or sold meanwhile). Returns how many keys were found; the caller rolls back when it
    is fewer than asked. None when the allocation id exists already (idempotent retry).

    Allocations of one game and key type take turns (a transaction-scoped advisory lock): two at
    once would each skip the keys the other holds, and for the last keys of a game both could
    come up short and fail where one after the other the first would have succeeded."""
    created = session.execute(
        pg_insert(allocations)
        .values(
            id=allocation_id,
            retailer_id=retailer_id,
            game_id=game_id,
            key_type=key_type,
            quantity=quantity,
            created_by=actor,
        )
        .on_conflict_do_nothing()
        .returning(allocations.c.id)
    ).first()
    if created is None:
        return None
    take_allocation_turn(session, game_id, key_type)
    candidates = session.execute(
        select(batches.c.id, batches.c.free_from)
        .where(
            batches.c.game_id == game_id,
            batches.c.key_type == key_type,
            batches.c.status == BatchStatus.COMPLETED.value,
            or_(batches.c.expires_at.is_(None), batches.c.expires_at > func.now()),
        )
        .order_by(batches.c.created_at, batches.c.id)
    ).all()
    params = {
        "allocation_id": allocation_id,
        "retailer_id": retailer_id,
        "actor": actor,
        "reason": f"allocation {allocation_id}",
        "request_id": request_id,
        "free": FREE,
        "allocated": ALLOCATED,
    }
    allocated = 0
    # Each batch is scanned from its hint up, and the hint moves past what this allocation took
    # (to the end of the batch when it ran dry), so exhausted batches and allocated keys are not
    # scanned again by the next allocation.
    for batch in candidates:
        low, high = key_id_range(batch.id)
        start = batch.free_from or low
        taken, last = _allocate_range(session, start, high, quantity - allocated, params)
        allocated += taken
        advance_free_from(session, batch.id, last if allocated >= quantity else high)
        if allocated >= quantity:
            return allocated
    # Short: keys below a hint (skipped while another transaction held them, or freed again
    # since the hint moved) are still free keys, so look there before answering short.
    for batch in candidates:
        low, _high = key_id_range(batch.id)
        if batch.free_from is None or batch.free_from <= low:
            continue
        taken, _last = _allocate_range(session, low, batch.free_from, quantity - allocated, params)
        allocated += taken
        if allocated >= quantity:
            break
    return allocated


def allocation_turn(game_id: uuid.UUID, key_type: str) -> str:
    """The name of the advisory lock allocations of one game and key type take turns on."""
    return f"allocation|{game_id}|{key_type}"


_ALLOCATION_TURN = text("SELECT pg_advisory_xact_lock(hashtextextended(:turn, 0))")


def take_allocation_turn(session: Session, game_id: uuid.UUID, key_type: str) -> None:
    """Wait for this transaction's turn to take free keys of the game and type (held until it ends)."""
    session.execute(_ALLOCATION_TURN, {"turn": allocation_turn(game_id, key_type)})


_ALLOCATE_RANGE = text(
    """
    WITH picked AS (
        SELECT id FROM key_manager.keys
        WHERE id BETWEEN :low AND :high AND status = :free
        ORDER BY id LIMIT :wanted FOR UPDATE SKIP LOCKED
    ), changed AS (
        UPDATE key_manager.keys AS k
        SET status = :allocated, allocation_id = :allocation_id, retailer_id = :retailer_id,
            status_changed_at = now()
        FROM picked WHERE k.id = picked.id AND k.status = :free
        RETURNING k.id
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT id, :free, :allocated, :actor, :reason, 'allocate', :request_id FROM changed
    )
    SELECT count(*), (SELECT id FROM changed ORDER BY id DESC LIMIT 1) FROM changed
    """
)


def _allocate_range(
    session: Session, low: uuid.UUID, high: uuid.UUID, wanted: int, params: dict[str, Any]
) -> tuple[int, uuid.UUID | None]:
    """Allocate up to ``wanted`` free keys with ids in [low, high], lowest first: (how many,
    the highest id taken)."""
    count, last = session.execute(
        _ALLOCATE_RANGE, {**params, "low": low, "high": high, "wanted": wanted}
    ).one()
    return count, last


_ADVANCE_FREE_FROM = text(
    """
    UPDATE key_manager.batches SET free_from = :free_from
    WHERE id = (SELECT id FROM key_manager.batches WHERE id = :batch_id FOR UPDATE SKIP LOCKED)
        AND (free_from IS NULL OR free_from < :free_from)
    """
)


def advance_free_from(session: Session, batch_id: uuid.UUID, free_from: uuid.UUID | None) -> None:
    """Move the batch's allocation hint up to ``free_from``. Only a hint: when another
    transaction holds the batch row it is left as it is rather than waited for, so
    allocations never wait on each other (or deadlock with a release) here."""
    if free_from is not None:
        session.execute(_ADVANCE_FREE_FROM, {"batch_id": batch_id, "free_from": free_from})


_RELEASE_ALLOCATION = text(
    """
    WITH changed AS (
        UPDATE key_manager.keys
        SET status = :target, status_changed_at = now(),
            allocation_id = CASE WHEN :revoke THEN allocation_id END,
            retailer_id = CASE WHEN :revoke THEN retailer_id END
        WHERE allocation_id = :allocation_id AND status = :allocated
        RETURNING id
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT id, :allocated, :target, :actor, :reason, 'release_allocation', :request_id
        FROM changed
    )
    SELECT count(*) FROM changed
    """
)


def release_allocation(
    session: Session,
    allocation_id: uuid.UUID,
    *,
    revoke: bool,
    actor: str,
    reason: str,
    request_id: str | None,
) -> int:
    """The allocation's unsold (``allocated``) keys leave it in one statement: back to the free
    pool (``generated``, no retailer), or ``revoked`` when the retailer may have seen them.
    Returns how many changed; a second call changes none."""
    target = KeyStatus.REVOKED.value if revoke else FREE
    if not revoke:
        _rewind_free_from(session, allocation_id)
    return session.execute(
        _RELEASE_ALLOCATION,
        {
            "target": target,
            "revoke": revoke,
            "allocation_id": allocation_id,
            "allocated": ALLOCATED,
            "actor": actor,
            "reason": reason,
            "request_id": request_id,
        },
    ).scalar_one()


def _rewind_free_from(session: Session, allocation_id: uuid.UUID) -> None:
    """Keys going back to the free pool may lie below their batch's allocation hint: reset the
    hint of their batches so the next allocation scans those batches from the start. The batch
    rows are locked in id order before any key (as batch revocation does), so this cannot
    deadlock with it; allocations never wait for a batch row."""
    batch_ids = list(
        session.execute(
            select(keys.c.batch_id)
            .where(keys.c.allocation_id == allocation_id, keys.c.status == ALLOCATED)
            .distinct()
        ).scalars()
    )
    if not batch_ids:
        return
    session.execute(
        select(batches.c.id).where(batches.c.id.in_(batch_ids)).order_by(batches.c.id).with_for_update()
    ).all()
    session.execute(update(batches).where(batches.c.id.in_(batch_ids)).values(free_from=None))
