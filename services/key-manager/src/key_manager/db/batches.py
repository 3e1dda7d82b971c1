"""Queries of the ``batches`` table: creation, the worker's lease, progress and completion,
cancellation, failure, revocation and expiry of a batch's keys. Nothing here commits.

Batch and key states come from ``domain/states.py``, never restated as literals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gamekeys_platform.pagination import Page, keyset_page
from key_manager.db.keys import change_batch_keys
from key_manager.db.tables import batches
from key_manager.domain.batches import BatchPlan
from key_manager.domain.states import (
    BATCH_WITH_KEYS,
    EXPIRED_BY_JOB,
    REVOCABLE,
    UNFINISHED_BATCH,
    BatchStatus,
    KeyStatus,
    sql_values,
)

BATCH_ORDER = (batches.c.created_at, batches.c.id)
BATCH_CURSOR = (datetime, uuid.UUID)

PENDING, GENERATING = BatchStatus.PENDING.value, BatchStatus.GENERATING.value


def insert_batch(session: Session, plan: BatchPlan, *, status: str, created_by: str) -> BatchPlan:
    """Insert the batch row. The 8-byte key id prefix must be unique across batches; a clash
    (2**-64 odds) picks a new batch id rather than surfacing."""
    for _attempt in range(5):
        try:
            with session.begin_nested():
                session.execute(
                    insert(batches).values(
                        id=plan.batch_id,
                        key_id_prefix=plan.key_id_prefix,
                        game_id=plan.game_id,
                        developer_id=plan.developer_id,
                        key_type=plan.key_type.value,
                        status=status,
                        synchronous=plan.synchronous,
                        total_keys=plan.quantity,
                        regional_restrictions=plan.regions.to_rules(),
                        allowed_countries=sorted(plan.regions.allowed)
                        if plan.regions.allowed is not None
                        else None,
                        denied_countries=sorted(plan.regions.denied),
                        expires_at=plan.expires_at,
                        metadata=plan.metadata,
                        created_by=created_by,
                    )
                )
            return plan
        except IntegrityError:
            plan = BatchPlan(**{**plan.__dict__, "batch_id": uuid.uuid4()})
    raise RuntimeError("could not allocate a batch id")


def get_batch(session: Session, batch_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
    query = select(batches).where(batches.c.id == batch_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def list_batches(
    session: Session,
    *,
    developer_ids: Sequence[uuid.UUID] | None,
    game_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    after: Sequence[Any] | None,
) -> Page:
    """Newest first; ``developer_ids`` None means every studio (platform staff)."""
    query = select(batches)
    if developer_ids is not None:
        query = query.where(batches.c.developer_id.in_(developer_ids))
    if game_id is not None:
        query = query.where(batches.c.game_id == game_id)
    if status is not None:
        query = query.where(batches.c.status == status)
    return keyset_page(session, query, BATCH_ORDER, after, limit, descending=True)


def claim_next_batch(session: Session, *, lease_seconds: int) -> Row | None:
    """Take the oldest pending batch (or one whose worker died: lease expired) and lease it."""
    candidate = (
        select(batches.c.id)
        .where(
            or_(
                batches.c.status == PENDING,
                and_(batches.c.status == GENERATING, batches.c.lease_until < func.now()),
            )
        )
        .order_by(batches.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return session.execute(
        update(batches)
        .where(batches.c.id == candidate)
        .values(
            status=GENERATING,
            started_at=func.now(),
            attempts=batches.c.attempts + 1,
            lease_until=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
            generated_keys=0,
        )
        .returning(*batches.c)
    ).first()


def set_progress(session: Session, batch_id: uuid.UUID, generated: int) -> bool:
    """Record progress; False when the batch is no longer generating (it was cancelled)."""
    changed = session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status == GENERATING)
        .values(generated_keys=generated)
        .returning(batches.c.id)
    ).first()
    return changed is not None


def complete_batch(session: Session, batch_id: uuid.UUID, generated: int) -> Row | None:
    """Mark a generating batch completed; None if it is no longer generating (cancelled meanwhile),
    and the caller must then roll back its keys."""
    return session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status == GENERATING)
        .values(
            status=BatchStatus.COMPLETED.value,
            generated_keys=generated,
            completed_at=func.clock_timestamp(),
            lease_until=None,
        )
        .returning(*batches.c)
    ).first()


def cancel_batch(session: Session, batch_id: uuid.UUID, *, actor: str, reason: str | None) -> Row | None:
    """Cancel a pending or generating batch; None if it is past that. A worker generating it
    sees the status at its next progress step or at completion and rolls its keys back."""
    return session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status.in_(sql_values(UNFINISHED_BATCH)))
        .values(
            status=BatchStatus.CANCELLED.value,
            cancelled_at=func.now(),
            cancelled_by=actor,
            cancel_reason=reason,
            generated_keys=0,
            lease_until=None,
        )
        .returning(*batches.c)
    ).first()


def fail_batch(session: Session, batch_id: uuid.UUID, reason: str) -> Row | None:
    return session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status.in_(sql_values(UNFINISHED_BATCH)))
        .values(
            status=BatchStatus.FAILED.value,
            failure_reason=reason[:500],
            failed_at=func.now(),
            generated_keys=0,
            lease_until=None,
        )
        .returning(*batches.c)
    ).first()


def revoke_batch(
    session: Session, batch_id: uuid.UUID, *, actor: str, reason: str, request_id: str | None
) -> int:
    """Revoke every key of the batch that is not final (activated keys stay activated). The
    batch row must be locked by the caller."""
    count = change_batch_keys(
        session,
        batch_id,
        REVOCABLE,
        KeyStatus.REVOKED,
        actor=actor,
        reason=reason,
        operation="batch_revoke",
        request_id=request_id,
    )
    session.execute(
        update(batches)
        .where(batches.c.id == batch_id)
        .values(
            status=BatchStatus.REVOKED.value,
            revoked_at=func.now(),
            revoked_by=actor,
            revoke_reason=reason,
            revoked_keys=count,
        )
    )
    return count


# --- expiry -------------------------------------------------------------------------------------


def batches_due_for_expiry(session: Session, limit: int = 100) -> list[Row]:
    return list(
        session.execute(
            select(batches)
            .where(
                batches.c.keys_expired_at.is_(None),
                batches.c.expires_at.is_not(None),
                batches.c.expires_at <= func.now(),
                batches.c.status.in_(sql_values(BATCH_WITH_KEYS)),
            )
            .order_by(batches.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def expire_batch_keys(session: Session, batch_id: uuid.UUID) -> int:
    """Expire the batch's keys that are still usable (held keys wait for their review)."""
    count = change_batch_keys(
        session,
        batch_id,
        EXPIRED_BY_JOB,
        KeyStatus.EXPIRED,
        actor="key-manager",
        reason="expiration date passed",
        operation="expire",
    )
    session.execute(update(batches).where(batches.c.id == batch_id).values(keys_expired_at=func.now()))
    return count
