"""Use cases of distribution's side: allocating free keys to a retailer, releasing an
allocation, a retailer's sales and returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.refusals import Refusal
from key_manager import events
from key_manager.context import KeyManager
from key_manager.db import allocations as allocations_repo
from key_manager.db import keys as keys_repo
from key_manager.db.revocations import take_retailer_turn
from key_manager.domain.states import KeyStatus, TransitionRefused, check_transition
from key_manager.usecases import refusals


@dataclass(frozen=True)
class Allocated:
    allocation: Row
    created: bool  # False: the allocation existed already (a retry)


def allocate(
    km: KeyManager,
    session: Session,
    *,
    allocation_id: uuid.UUID,
    retailer_id: uuid.UUID,
    game_id: uuid.UUID,
    key_type: str,
    quantity: int,
    actor: str,
    request_id: str | None,
) -> Allocated:
    """Allocate ``quantity`` free keys of a game and type to a retailer, all or nothing
    (INSUFFICIENT_KEY_ALLOCATION, and the caller's transaction rolls back), idempotent by
    ``allocation_id`` (a retry answers the allocation; other parameters IDEMPOTENCY_CONFLICT).
    Allocations of one game and key type take turns on an advisory lock."""
    allocated = allocations_repo.create_allocation(
        session,
        allocation_id=allocation_id,
        retailer_id=retailer_id,
        game_id=game_id,
        key_type=key_type,
        quantity=quantity,
        actor=actor,
        request_id=request_id,
    )
    if allocated is None:
        existing = allocations_repo.get_allocation(session, allocation_id)
        same = (existing.retailer_id, existing.game_id, existing.key_type, existing.quantity) == (
            retailer_id,
            game_id,
            key_type,
            quantity,
        )
        if not same:
            raise Refusal("IDEMPOTENCY_CONFLICT", "this allocationId was used with other parameters")
        return Allocated(existing, created=False)
    if allocated < quantity:
        raise Refusal(
            "INSUFFICIENT_KEY_ALLOCATION",
            f"only {allocated} free {key_type} keys of this game are available",
            {"requested": quantity, "available": allocated},
        )
    allocation = allocations_repo.get_allocation(session, allocation_id)
    km.outbox.add(
        session, events.key_allocated(allocation, allocations_repo.batch_shares(session, allocation_id))
    )
    return Allocated(allocation, created=True)


@dataclass(frozen=True)
class AllocationReleased:
    allocation: Row
    released: int
    status: KeyStatus


def release_allocation(
    km: KeyManager,
    session: Session,
    allocation_id: uuid.UUID,
    *,
    revoke: bool,
    reason: str,
    actor: str,
    request_id: str | None,
) -> AllocationReleased:
    """The allocation's unsold keys leave it: back to the free pool, or revoked (``revoke``).
    Idempotent: a repeat changes nothing (``released`` 0); one allocation.released event when
    keys changed."""
    allocation = allocations_repo.get_allocation(session, allocation_id)
    if allocation is None:
        raise Refusal("NOT_FOUND", "allocation not found")
    status = KeyStatus.REVOKED if revoke else KeyStatus.GENERATED
    take_retailer_turn(session, allocation.retailer_id, exclusive=False)
    released = allocations_repo.release_allocation(
        session,
        allocation_id,
        revoke=revoke,
        actor=actor,
        reason=f"allocation {allocation_id} released: {reason}",
        request_id=request_id,
    )
    if released:
        km.outbox.add(
            session,
            events.allocation_released(
                allocation, released=released, status=status.value, reason=reason, actor=actor
            ),
        )
    return AllocationReleased(allocation, released, status)


def retailer_keys(session: Session, retailer_id: uuid.UUID, key_ids: list[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """The keys, locked in id order; every one must exist and be the retailer's. Takes the
    retailer's turn (shared) first, so a revocation of its unsold stock waits for this sale or
    return, or this waits for it."""
    take_retailer_turn(session, retailer_id, exclusive=False)
    unique = sorted(set(key_ids))
    rows = {row.id: row for row in keys_repo.keys_for_update(session, unique)}
    missing = [str(k) for k in unique if k not in rows]
    if missing:
        raise Refusal("KEY_NOT_FOUND", "some keys do not exist", {"keyIds": missing[:50]})
    foreign = [str(k) for k, row in rows.items() if row.retailer_id != retailer_id]
    if foreign:
        raise Refusal(
            "RETAILER_NOT_AUTHORIZED",
            "some keys are not allocated to this retailer",
            {"keyIds": foreign[:50]},
        )
    return rows


def _check_all(rows: dict[uuid.UUID, Row], target: KeyStatus) -> None:
    for row in rows.values():
        try:
            check_transition(row.status, target, held_from=row.held_from_status)
        except TransitionRefused as exc:
            raise refusals.refused_transition(
                exc, {"keyId": str(row.id), "currentStatus": row.status}
            ) from exc


def sell(
    km: KeyManager,
    session: Session,
    *,
    retailer_id: uuid.UUID,
    order_id: str,
    key_ids: list[uuid.UUID],
    sold_at: datetime | None,
    actor: str,
    request_id: str | None,
) -> list[uuid.UUID]:
    """Mark a retailer's allocated keys sold, all or nothing; one key.sold event. Repeating an
    order's sale changes nothing. Returns the key ids, sorted."""
    rows = retailer_keys(session, retailer_id, key_ids)
    if all(row.status == KeyStatus.SOLD and row.order_id == order_id for row in rows.values()):
        return sorted(rows)
    _check_all(rows, KeyStatus.SOLD)
    sold_at = sold_at or datetime.now(UTC)
    ids = sorted(rows)
    keys_repo.bulk_transition(
        session,
        ids,
        rows,
        KeyStatus.SOLD,
        actor=actor,
        operation="sell",
        reason=f"order {order_id}",
        request_id=request_id,
        values={"sold_at": sold_at, "order_id": order_id},
    )
    km.outbox.add(session, events.keys_sold(retailer_id, order_id, [rows[k] for k in ids], sold_at))
    return ids


def return_keys(
    km: KeyManager,
    session: Session,
    *,
    retailer_id: uuid.UUID,
    order_id: str,
    key_ids: list[uuid.UUID],
    reason: str,
    actor: str,
    request_id: str | None,
) -> list[uuid.UUID]:
    """A retailer's return: its unactivated keys are revoked, all or nothing; one key.returned
    event. Returns the key ids, sorted."""
    rows = retailer_keys(session, retailer_id, key_ids)
    _check_all(rows, KeyStatus.REVOKED)
    ids = sorted(rows)
    keys_repo.bulk_transition(
        session,
        ids,
        rows,
        KeyStatus.REVOKED,
        actor=actor,
        operation="return",
        reason=f"returned (order {order_id}): {reason}",
        request_id=request_id,
        values={"hold_id": None, "held_from_status": None},
    )
    km.outbox.add(session, events.keys_returned(retailer_id, order_id, [rows[k] for k in ids], reason))
    return ids
