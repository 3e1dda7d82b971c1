"""Every query of the key manager. Views and the worker call these inside their transaction;
nothing here commits except the worker helpers that say so."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gamekeys_platform.pagination import Page, keyset_page
from key_manager.db.tables import (
    allocations,
    batches,
    games,
    key_exports,
    key_transitions,
    keys,
    studio_members,
    studios,
)
from key_manager.domain.batches import BatchPlan, key_id_range
from key_manager.domain.states import KeyStatus, check_transition

BATCH_ORDER = (batches.c.created_at, batches.c.id)
BATCH_CURSOR = (datetime, uuid.UUID)
KEY_ORDER = (keys.c.id,)
KEY_CURSOR = (uuid.UUID,)

# --- projection reads -------------------------------------------------------------------------


@dataclass(frozen=True)
class GameOwner:
    game_id: uuid.UUID
    developer_id: uuid.UUID
    verification_status: str | None
    deleted: bool


def game_owner(session: Session, game_id: uuid.UUID) -> GameOwner | None:
    row = session.execute(
        select(games.c.game_id, games.c.developer_id, games.c.deleted, studios.c.verification_status)
        .select_from(games.outerjoin(studios, studios.c.developer_id == games.c.developer_id))
        .where(games.c.game_id == game_id)
    ).first()
    if row is None:
        return None
    return GameOwner(row.game_id, row.developer_id, row.verification_status, row.deleted)


def member_role(session: Session, developer_id: uuid.UUID, user_id: str) -> str | None:
    return session.execute(
        select(studio_members.c.role).where(
            studio_members.c.developer_id == developer_id, studio_members.c.user_id == user_id
        )
    ).scalar_one_or_none()


def member_studios(session: Session, user_id: str) -> list[uuid.UUID]:
    return list(
        session.execute(
            select(studio_members.c.developer_id).where(studio_members.c.user_id == user_id)
        ).scalars()
    )


# --- batches ----------------------------------------------------------------------------------


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
                batches.c.status == "pending",
                and_(batches.c.status == "generating", batches.c.lease_until < func.now()),
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
            status="generating",
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
        .where(batches.c.id == batch_id, batches.c.status == "generating")
        .values(generated_keys=generated)
        .returning(batches.c.id)
    ).first()
    return changed is not None


def complete_batch(session: Session, batch_id: uuid.UUID, generated: int) -> Row | None:
    """Mark a generating batch completed; None if it is no longer generating (cancelled meanwhile),
    and the caller must then roll back its keys."""
    return session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status == "generating")
        .values(
            status="completed",
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
        .where(batches.c.id == batch_id, batches.c.status.in_(("pending", "generating")))
        .values(
            status="cancelled",
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
        .where(batches.c.id == batch_id, batches.c.status.in_(("pending", "generating")))
        .values(
            status="failed",
            failure_reason=reason[:500],
            failed_at=func.now(),
            generated_keys=0,
            lease_until=None,
        )
        .returning(*batches.c)
    ).first()


_BULK_CHANGE = text(
    """
    WITH changed AS (
        UPDATE key_manager.keys
        SET status = :to_status, status_changed_at = now(), hold_id = NULL, held_from_status = NULL
        WHERE id BETWEEN :low AND :high AND status = :from_status
        RETURNING id
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT id, :from_status, :to_status, :actor, :reason, :operation, :request_id FROM changed
    )
    SELECT count(*) FROM changed
    """
)


def change_batch_keys(
    session: Session,
    batch_id: uuid.UUID,
    from_statuses: Iterable[KeyStatus],
    to_status: KeyStatus,
    *,
    actor: str,
    reason: str | None,
    operation: str,
    request_id: str | None = None,
) -> int:
    """Move every key of the batch in one of ``from_statuses`` to ``to_status``, with a history
    row per key: one UPDATE per source state (so each history row knows its "from" without a
    self-join), all range scans of the primary key."""
    low, high = key_id_range(batch_id)
    total = 0
    for from_status in from_statuses:
        check_transition(from_status, to_status)
        total += session.execute(
            _BULK_CHANGE,
            {
                "low": low,
                "high": high,
                "from_status": from_status.value,
                "to_status": to_status.value,
                "actor": actor,
                "reason": reason,
                "operation": operation,
                "request_id": request_id,
            },
        ).scalar_one()
    return total


def revoke_batch(
    session: Session, batch_id: uuid.UUID, *, actor: str, reason: str, request_id: str | None
) -> int:
    """Revoke every key of the batch that is not final (activated keys stay activated). The
    batch row must be locked by the caller."""
    revocable = (KeyStatus.GENERATED, KeyStatus.ALLOCATED, KeyStatus.SOLD, KeyStatus.PENDING_REVIEW)
    count = change_batch_keys(
        session,
        batch_id,
        revocable,
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
            status="revoked",
            revoked_at=func.now(),
            revoked_by=actor,
            revoke_reason=reason,
            revoked_keys=count,
        )
    )
    return count


def batch_key_counts(session: Session, batch_id: uuid.UUID) -> dict[str, int]:
    low, high = key_id_range(batch_id)
    rows = session.execute(
        select(keys.c.status, func.count()).where(keys.c.id.between(low, high)).group_by(keys.c.status)
    ).all()
    return {status: count for status, count in rows}


# --- keys -------------------------------------------------------------------------------------

_KEY_WITH_BATCH = (
    *keys.c,
    batches.c.regional_restrictions,
    batches.c.allowed_countries,
    batches.c.denied_countries,
    batches.c.metadata,
)


def _key_query():
    return select(*_KEY_WITH_BATCH).select_from(keys.join(batches, batches.c.id == keys.c.batch_id))


def get_key(session: Session, key_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
    query = _key_query().where(keys.c.id == key_id)
    if for_update:
        query = query.with_for_update(of=keys)
    return session.execute(query).first()


def find_key_by_hash(session: Session, lookup_hash: bytes) -> Row | None:
    return session.execute(_key_query().where(keys.c.lookup_hash == lookup_hash)).first()


def key_exists(session: Session, lookup_hash: bytes) -> bool:
    return session.execute(select(func.count()).where(keys.c.lookup_hash == lookup_hash)).scalar_one() > 0


def page_batch_keys(
    session: Session, batch_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    low, high = key_id_range(batch_id)
    return keyset_page(session, select(keys).where(keys.c.id.between(low, high)), KEY_ORDER, after, limit)


def page_allocation_keys(
    session: Session, allocation_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    return keyset_page(
        session, select(keys).where(keys.c.allocation_id == allocation_id), KEY_ORDER, after, limit
    )


def record_transition(
    session: Session,
    key_id: uuid.UUID,
    from_status: str,
    to_status: str,
    *,
    actor: str,
    operation: str,
    reason: str | None = None,
    request_id: str | None = None,
) -> None:
    session.execute(
        insert(key_transitions).values(
            key_id=key_id,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            operation=operation,
            reason=reason,
            request_id=request_id,
        )
    )


def key_history(session: Session, key_id: uuid.UUID, limit: int = 100) -> list[Row]:
    return list(
        session.execute(
            select(key_transitions)
            .where(key_transitions.c.key_id == key_id)
            .order_by(key_transitions.c.id)
            .limit(limit)
        )
    )


def change_key_status(
    session: Session,
    key_row: Row,
    target: KeyStatus,
    *,
    actor: str,
    operation: str,
    reason: str | None,
    request_id: str | None,
    values: dict[str, Any] | None = None,
) -> Row:
    """A checked state-machine step on a key locked by the caller (``get_key(for_update=True)``);
    raises ``TransitionRefused``."""
    check_transition(key_row.status, target, held_from=key_row.held_from_status)
    extra = dict(values or {})
    if key_row.status == KeyStatus.PENDING_REVIEW:
        extra.update(hold_id=None, held_from_status=None)
    session.execute(
        update(keys)
        .where(keys.c.id == key_row.id)
        .values(status=target.value, status_changed_at=func.now(), **extra)
    )
    record_transition(
        session,
        key_row.id,
        key_row.status,
        target.value,
        actor=actor,
        operation=operation,
        reason=reason,
        request_id=request_id,
    )
    return get_key(session, key_row.id)


# --- internal operations: activation, hold, release -----------------------------------------


def _key_condition(lookup_hash: bytes | None, key_id: uuid.UUID | None) -> tuple[str, dict[str, Any]]:
    if lookup_hash is not None:
        return "lookup_hash = :lookup_hash", {"lookup_hash": lookup_hash}
    return "id = :key_id", {"key_id": key_id}


def activate(
    session: Session,
    *,
    lookup_hash: bytes | None,
    key_id: uuid.UUID | None,
    user_id: str,
    activation_id: str,
    region: str,
    hold_id: str | None,
) -> Row | None:
    """Activate exactly once: one conditional UPDATE that only matches a key that is
    activatable now (state, expiry, region; a held key only by its hold). Concurrent callers
    queue on the row lock and re-check the condition, so exactly one of them changes it."""
    where, params = _key_condition(lookup_hash, key_id)
    return session.execute(
        text(
            f"""
            UPDATE key_manager.keys AS k
            SET status = 'activated', activated_at = now(), status_changed_at = now(),
                activated_by = :user_id, activation_id = :activation_id, activation_region = :region,
                hold_id = NULL, held_from_status = NULL
            FROM (SELECT id, status FROM key_manager.keys WHERE {where} FOR UPDATE) AS old,
                 key_manager.batches AS b
            WHERE k.id = old.id AND b.id = k.batch_id
              AND (
                    (k.status IN ('generated', 'allocated', 'sold')
                     AND (k.expires_at IS NULL OR k.expires_at > now()))
                 OR (k.status = 'pending_review' AND k.hold_id = :hold_id)
              )
              AND NOT (:region = ANY(b.denied_countries))
              AND (b.allowed_countries IS NULL OR :region = ANY(b.allowed_countries))
            RETURNING k.id, k.batch_id, k.game_id, k.developer_id, k.key_type, k.retailer_id,
                      k.allocation_id, k.activated_at, old.status AS from_status
            """  # noqa: S608 - `where` is one of two fixed strings
        ),
        {**params, "user_id": user_id, "activation_id": activation_id, "region": region, "hold_id": hold_id},
    ).first()


def hold(
    session: Session, *, lookup_hash: bytes | None, key_id: uuid.UUID | None, hold_id: str
) -> Row | None:
    where, params = _key_condition(lookup_hash, key_id)
    return session.execute(
        text(
            f"""
            UPDATE key_manager.keys
            SET status = 'pending_review', held_from_status = status, hold_id = :hold_id,
                status_changed_at = now()
            WHERE {where} AND status IN ('generated', 'allocated', 'sold')
              AND (expires_at IS NULL OR expires_at > now())
            RETURNING id, batch_id, game_id, held_from_status AS from_status
            """  # noqa: S608 - `where` is one of two fixed strings
        ),
        {**params, "hold_id": hold_id},
    ).first()


def release(
    session: Session, *, lookup_hash: bytes | None, key_id: uuid.UUID | None, hold_id: str
) -> Row | None:
    where, params = _key_condition(lookup_hash, key_id)
    return session.execute(
        text(
            f"""
            UPDATE key_manager.keys
            SET status = held_from_status, held_from_status = NULL, hold_id = NULL, status_changed_at = now()
            WHERE {where} AND status = 'pending_review' AND hold_id = :hold_id
            RETURNING id, batch_id, game_id, status AS to_status
            """  # noqa: S608 - `where` is one of two fixed strings
        ),
        {**params, "hold_id": hold_id},
    ).first()


def find_key(session: Session, *, lookup_hash: bytes | None, key_id: uuid.UUID | None) -> Row | None:
    if lookup_hash is not None:
        return find_key_by_hash(session, lookup_hash)
    return get_key(session, key_id)


# --- allocations, sales, returns ---------------------------------------------------------------


def get_allocation(session: Session, allocation_id: uuid.UUID) -> Row | None:
    return session.execute(select(allocations).where(allocations.c.id == allocation_id)).first()


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
    session.execute(_ALLOCATION_TURN, {"turn": f"allocation|{game_id}|{key_type}"})
    candidates = session.execute(
        select(batches.c.id, batches.c.free_from)
        .where(
            batches.c.game_id == game_id,
            batches.c.key_type == key_type,
            batches.c.status == "completed",
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
        _advance_free_from(session, batch.id, last if allocated >= quantity else high)
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


_ALLOCATION_TURN = text("SELECT pg_advisory_xact_lock(hashtextextended(:turn, 0))")
_ALLOCATE_RANGE = text(
    """
    WITH picked AS (
        SELECT id FROM key_manager.keys
        WHERE id BETWEEN :low AND :high AND status = 'generated'
        ORDER BY id LIMIT :wanted FOR UPDATE SKIP LOCKED
    ), changed AS (
        UPDATE key_manager.keys AS k
        SET status = 'allocated', allocation_id = :allocation_id, retailer_id = :retailer_id,
            status_changed_at = now()
        FROM picked WHERE k.id = picked.id AND k.status = 'generated'
        RETURNING k.id
    ), history AS (
        INSERT INTO key_manager.key_transitions
            (key_id, from_status, to_status, actor, reason, operation, request_id)
        SELECT id, 'generated', 'allocated', :actor, :reason, 'allocate', :request_id FROM changed
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


def _advance_free_from(session: Session, batch_id: uuid.UUID, free_from: uuid.UUID | None) -> None:
    """Move the batch's allocation hint up to ``free_from``. Only a hint: when another
    transaction holds the batch row it is left as it is rather than waited for, so
    allocations never wait on each other (or deadlock with a release) here."""
    if free_from is not None:
        session.execute(_ADVANCE_FREE_FROM, {"batch_id": batch_id, "free_from": free_from})


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
    target = "revoked" if revoke else "generated"
    if not revoke:
        _rewind_free_from(session, allocation_id)
    return session.execute(
        text(
            """
            WITH changed AS (
                UPDATE key_manager.keys
                SET status = :target, status_changed_at = now(),
                    allocation_id = CASE WHEN :revoke THEN allocation_id END,
                    retailer_id = CASE WHEN :revoke THEN retailer_id END
                WHERE allocation_id = :allocation_id AND status = 'allocated'
                RETURNING id
            ), history AS (
                INSERT INTO key_manager.key_transitions
                    (key_id, from_status, to_status, actor, reason, operation, request_id)
                SELECT id, 'allocated', :target, :actor, :reason, 'release_allocation', :request_id
                FROM changed
            )
            SELECT count(*) FROM changed
            """
        ),
        {
            "target": target,
            "revoke": revoke,
            "allocation_id": allocation_id,
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
            .where(keys.c.allocation_id == allocation_id, keys.c.status == "allocated")
            .distinct()
        ).scalars()
    )
    if not batch_ids:
        return
    session.execute(
        select(batches.c.id).where(batches.c.id.in_(batch_ids)).order_by(batches.c.id).with_for_update()
    ).all()
    session.execute(update(batches).where(batches.c.id.in_(batch_ids)).values(free_from=None))


def keys_of_retailer(session: Session, retailer_id: uuid.UUID, key_ids: Iterable[uuid.UUID]) -> list:
    """Which of ``key_ids`` are (or were, once sold or returned) allocated to the retailer."""
    return list(
        session.execute(
            select(keys.c.id).where(keys.c.id.in_(list(key_ids)), keys.c.retailer_id == retailer_id)
        ).scalars()
    )


def keys_for_update(session: Session, key_ids: Iterable[uuid.UUID]) -> list[Row]:
    return list(
        session.execute(
            select(keys).where(keys.c.id.in_(list(key_ids))).order_by(keys.c.id).with_for_update()
        )
    )


def bulk_transition(
    session: Session,
    key_ids: list[uuid.UUID],
    rows_by_id: dict[uuid.UUID, Row],
    target: KeyStatus,
    *,
    actor: str,
    operation: str,
    reason: str | None,
    request_id: str | None,
    values: dict[str, Any] | None = None,
) -> None:
    """Apply one already-checked transition to locked keys, with a history row each."""
    session.execute(
        update(keys)
        .where(keys.c.id.in_(key_ids))
        .values(status=target.value, status_changed_at=func.now(), **(values or {}))
    )
    session.execute(
        insert(key_transitions),
        [
            {
                "key_id": key_id,
                "from_status": rows_by_id[key_id].status,
                "to_status": target.value,
                "actor": actor,
                "operation": operation,
                "reason": reason,
                "request_id": request_id,
            }
            for key_id in key_ids
        ],
    )


# --- expiry -----------------------------------------------------------------------------------


def batches_due_for_expiry(session: Session, limit: int = 100) -> list[Row]:
    return list(
        session.execute(
            select(batches)
            .where(
                batches.c.keys_expired_at.is_(None),
                batches.c.expires_at.is_not(None),
                batches.c.expires_at <= func.now(),
                batches.c.status.in_(("completed", "revoked")),
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
        (KeyStatus.GENERATED, KeyStatus.ALLOCATED, KeyStatus.SOLD),
        KeyStatus.EXPIRED,
        actor="key-manager",
        reason="expiration date passed",
        operation="expire",
    )
    session.execute(update(batches).where(batches.c.id == batch_id).values(keys_expired_at=func.now()))
    return count


# --- export audit -----------------------------------------------------------------------------


def audit_export(
    session: Session,
    *,
    actor: str,
    fmt: str,
    batch_id: uuid.UUID | None = None,
    allocation_id: uuid.UUID | None = None,
    key_count: int | None = None,
    cursor: str | None = None,
    request_id: str | None = None,
) -> None:
    session.execute(
        insert(key_exports).values(
            batch_id=batch_id,
            allocation_id=allocation_id,
            actor=actor,
            format=fmt,
            key_count=key_count,
            cursor=cursor,
            request_id=request_id,
        )
    )


# --- re-encryption after a key-encryption-key rotation ------------------------------------------


def keys_under_old_encryption(
    session: Session, active_key_id: str, *, after: uuid.UUID | None, limit: int
) -> list[Row]:
    """The next ``limit`` keys (by id, after ``after``) not encrypted with the active key, locked."""
    query = (
        select(keys.c.id, keys.c.encryption_key_id, keys.c.ciphertext)
        .where(keys.c.encryption_key_id != active_key_id)
        .order_by(keys.c.id)
        .limit(limit)
        .with_for_update()
    )
    if after is not None:
        query = query.where(keys.c.id > after)
    return list(session.execute(query))


_SET_CIPHERTEXTS = text(
    """
    UPDATE key_manager.keys AS k
    SET ciphertext = v.ciphertext, encryption_key_id = :encryption_key_id
    FROM unnest(CAST(:ids AS uuid[]), CAST(:ciphertexts AS bytea[])) AS v(id, ciphertext)
    WHERE k.id = v.id
    """
)


def set_ciphertexts(
    session: Session, key_ids: Sequence[uuid.UUID], ciphertexts: Sequence[bytes], encryption_key_id: str
) -> None:
    session.execute(
        _SET_CIPHERTEXTS,
        {"ids": list(key_ids), "ciphertexts": list(ciphertexts), "encryption_key_id": encryption_key_id},
    )


def keys_by_encryption_key(session: Session) -> dict[str, int]:
    rows = session.execute(select(keys.c.encryption_key_id, func.count()).group_by(keys.c.encryption_key_id))
    return {key_id: count for key_id, count in rows}
