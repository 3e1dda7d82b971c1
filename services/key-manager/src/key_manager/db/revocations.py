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
from key_manager.domain.states import KeyStatus


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


# The unsold keys of the allocations: allocated, or held for a review from allocated (a player
# redeeming a key the retailer never reported sold). They are locked in id order first, the
# order sales, returns and refunds lock keys in, so a racing sale either came first (the key is
# sold and stays) or waits and then finds the key revoked; the lock re-checks the state after a
# wait, so a key sold meanwhile is skipped. One statement for 100,000 keys, with a history row
# each.
_REVOKE_UNSOLD = text(
    """
    WITH locked AS (
        SELECT id, status FROM key_manager.keys
        WHERE allocation_id = ANY(:allocation_ids) AND allocation_id IS NOT NULL
          AND (status = :allocated OR (status = :held AND held_from_status = :allocated))
        ORDER BY id
        FOR UPDATE
    ), changed AS (
        UPDATE key_manager.keys AS k
        SET status = :revoked, status_changed_at = now(), hold_id = NULL, held_from_status = NULL
        FROM locked
        WHERE k.id = locked.id AND k.status = locked.status
        RETURNING k.id, k.allocation_id, locked.status AS from_status
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT id, from_status, :revoked, :actor, :reason, 'revoke_unsold', :request_id FROM changed
    )
    SELECT allocation_id, count(*) AS revoked FROM changed GROUP BY allocation_id
    """
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
    """Revoke every unsold key of the allocations: how many per allocation (absent: none)."""
    if not allocation_ids:
        return {}
    rows = session.execute(
        _REVOKE_UNSOLD,
        {
            "allocation_ids": list(allocation_ids),
            "allocated": KeyStatus.ALLOCATED.value,
            "held": KeyStatus.PENDING_REVIEW.value,
            "revoked": KeyStatus.REVOKED.value,
            "actor": actor,
            "reason": reason,
            "request_id": request_id,
        },
    ).all()
    return {row.allocation_id: row.revoked for row in rows}


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
