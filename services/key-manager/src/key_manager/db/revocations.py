"""Queries of a leak response: a retailer's unsold keys revoked in one set-based statement, the
per-allocation counts of what was left, and the revocation's record (idempotent by request id).
Nothing here commits.

Key states are bound from ``domain/states.py``, never restated as literals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from key_manager.db.tables import allocations, stock_revocations
from key_manager.domain.states import KeyStatus, check_transition


def allocations_of_retailer(
    session: Session,
    retailer_id: uuid.UUID,
    *,
    game_ids: Sequence[uuid.UUID] | None,
    allocation_id: uuid.UUID | None,
) -> list[Row]:
    """The retailer's allocations, narrowed to some games and/or one allocation, in id order."""
    query = select(allocations).where(allocations.c.retailer_id == retailer_id)
    if game_ids is not None:
        query = query.where(allocations.c.game_id.in_(list(game_ids)))
    if allocation_id is not None:
        query = query.where(allocations.c.id == allocation_id)
    return list(session.execute(query.order_by(allocations.c.id)))


_RETAILER_TURN = {
    True: text("SELECT pg_advisory_xact_lock(hashtextextended(:turn, 0))"),
    False: text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:turn, 0))"),
}


def take_retailer_turn(session: Session, retailer_id: uuid.UUID, *, exclusive: bool) -> None:
    """Wait for this transaction's turn on the retailer's stock (held until it ends): sales,
    returns and releases share it; a revocation of its unsold keys takes it alone. So a
    revocation never meets a key a sale has locked (no deadlock whatever order each locks keys
    in): a sale in flight finishes first and its keys are sold and left, a sale after the
    revocation finds its keys revoked."""
    session.execute(_RETAILER_TURN[exclusive], {"turn": f"retailer-stock|{retailer_id}"})


# The unsold keys of the allocations: allocated, or held for a review from allocated (a player
# redeeming a key the retailer never reported sold); one set-based statement per source state
# (so each history row knows its "from"), through the by-allocation index, a history row each.
_REVOKE_UNSOLD = text(
    """
    WITH changed AS (
        UPDATE key_manager.keys
        SET status = :revoked, status_changed_at = now(), hold_id = NULL, held_from_status = NULL
        WHERE allocation_id = ANY(:allocation_ids) AND allocation_id IS NOT NULL
          AND status = :from_status
          AND (CAST(:held_from AS varchar) IS NULL OR held_from_status = :held_from)
        RETURNING id, allocation_id
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT id, :from_status, :revoked, :actor, :reason, 'revoke_unsold', :request_id FROM changed
    )
    SELECT allocation_id, count(*) AS revoked FROM changed GROUP BY allocation_id
    """
)

# (state, state it was held from): allocated keys, then keys held for review from allocated.
UNSOLD = (
    (KeyStatus.ALLOCATED, None),
    (KeyStatus.PENDING_REVIEW, KeyStatus.ALLOCATED),
)

_STATUS_COUNTS = text(
    """
    SELECT allocation_id, status, count(*) AS n FROM key_manager.keys
    WHERE allocation_id = ANY(:allocation_ids) AND allocation_id IS NOT NULL
    GROUP BY allocation_id, status
    """
)


def revoke_unsold(
    session: Session,
    allocation_ids: Sequence[uuid.UUID],
    *,
    actor: str,
    reason: str,
    request_id: str,
) -> dict[uuid.UUID, int]:
    """Revoke every unsold key of the allocations: how many per allocation (absent: none). The
    caller holds the retailer's turn alone (``take_retailer_turn(exclusive=True)``)."""
    revoked: dict[uuid.UUID, int] = {}
    if not allocation_ids:
        return revoked
    for from_status, held_from in UNSOLD:
        check_transition(from_status, KeyStatus.REVOKED, held_from=held_from)
        rows = session.execute(
            _REVOKE_UNSOLD,
            {
                "allocation_ids": list(allocation_ids),
                "from_status": from_status.value,
                "held_from": held_from.value if held_from else None,
                "revoked": KeyStatus.REVOKED.value,
                "actor": actor,
                "reason": reason,
                "request_id": request_id,
            },
        ).all()
        for row in rows:
            revoked[row.allocation_id] = revoked.get(row.allocation_id, 0) + row.revoked
    return revoked


def status_counts(session: Session, allocation_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Keys per state of each allocation (keys released to the free pool no longer count)."""
    counts: dict[uuid.UUID, dict[str, int]] = {}
    if not allocation_ids:
        return counts
    for row in session.execute(_STATUS_COUNTS, {"allocation_ids": list(allocation_ids)}):
        counts.setdefault(row.allocation_id, {})[row.status] = row.n
    return counts


def claim_revocation(
    session: Session,
    *,
    request_id: str,
    retailer_id: uuid.UUID,
    game_ids: Sequence[uuid.UUID] | None,
    allocation_id: uuid.UUID | None,
    reason: str,
    actor: str,
) -> bool:
    """Record the revocation's request id; False when it exists (a retry, or a duplicate that
    waited for the first to commit)."""
    created = session.execute(
        pg_insert(stock_revocations)
        .values(
            request_id=request_id,
            retailer_id=retailer_id,
            game_ids=sorted(game_ids) if game_ids is not None else None,
            allocation_id=allocation_id,
            reason=reason,
            revoked_keys=0,
            report={},
            created_by=actor,
        )
        .on_conflict_do_nothing()
        .returning(stock_revocations.c.request_id)
    ).first()
    return created is not None


def get_revocation(session: Session, request_id: str) -> Row | None:
    return session.execute(
        select(stock_revocations).where(stock_revocations.c.request_id == request_id)
    ).first()


def store_report(session: Session, request_id: str, *, revoked_keys: int, report: dict[str, Any]) -> Row:
    return session.execute(
        stock_revocations.update()
        .where(stock_revocations.c.request_id == request_id)
        .values(revoked_keys=revoked_keys, report=report)
        .returning(*stock_revocations.c)
    ).one()
