"""Queries of the ``keys`` table: reads, the checked state-machine steps (one key, a set of locked
keys, every key of a batch in some states), the conditional updates of activation, hold and
release, and the re-encryption after a key-encryption-key rotation. Nothing here commits.

State lists are bound from ``domain/states.py`` (``status = ANY(:sources)``), never restated."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, Select, func, insert, select, text, update
from sqlalchemy.orm import Session

from gamekeys_platform.pagination import Page, keyset_page
from key_manager.db.audit import record_transition
from key_manager.db.tables import batches, key_transitions, keys, studio_projection
from key_manager.domain.batches import key_id_range
from key_manager.domain.states import ACTIVATABLE, HOLDABLE, KeyStatus, check_transition, ordered, sql_values

KEY_ORDER = (keys.c.id,)
KEY_CURSOR = (uuid.UUID,)

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


def find_key(session: Session, *, lookup_hash: bytes | None, key_id: uuid.UUID | None) -> Row | None:
    if lookup_hash is not None:
        return find_key_by_hash(session, lookup_hash)
    return get_key(session, key_id)


def look_up(session: Session, *, lookup_hash: bytes | None, key_id: uuid.UUID | None) -> Row | None:
    """``find_key`` with ``publisher_suspended`` (the studio suspended by the Admin Service, as
    last projected), in one statement: the look-up is on every redemption's path."""
    suspended = (
        select(studio_projection.studios.c.suspended_at.is_not(None))
        .where(studio_projection.studios.c.developer_id == keys.c.developer_id)
        .scalar_subquery()
    )
    query = select(*_KEY_WITH_BATCH, func.coalesce(suspended, False).label("publisher_suspended"))
    query = query.select_from(keys.join(batches, batches.c.id == keys.c.batch_id))
    if lookup_hash is not None:
        return session.execute(query.where(keys.c.lookup_hash == lookup_hash)).first()
    return session.execute(query.where(keys.c.id == key_id)).first()


def key_exists(session: Session, lookup_hash: bytes) -> bool:
    return session.execute(select(func.count()).where(keys.c.lookup_hash == lookup_hash)).scalar_one() > 0


def page_batch_keys(
    session: Session, batch_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    low, high = key_id_range(batch_id)
    return keyset_page(session, select(keys).where(keys.c.id.between(low, high)), KEY_ORDER, after, limit)


def batch_key_rows(session: Session, batch_id: uuid.UUID) -> list[Row]:
    """Every key of a batch (a /generate batch: at most 1,000)."""
    low, high = key_id_range(batch_id)
    return list(session.execute(select(keys).where(keys.c.id.between(low, high))))


def batch_export_query(batch_id: uuid.UUID) -> Select:
    """What the CSV export of a batch streams, in id order (run on a connection of its own)."""
    low, high = key_id_range(batch_id)
    return (
        select(
            keys.c.id,
            keys.c.status,
            keys.c.key_type,
            keys.c.expires_at,
            keys.c.ciphertext,
            keys.c.encryption_key_id,
        )
        .where(keys.c.id.between(low, high))
        .order_by(keys.c.id)
    )


def batch_key_counts(session: Session, batch_id: uuid.UUID) -> dict[str, int]:
    low, high = key_id_range(batch_id)
    rows = session.execute(
        select(keys.c.status, func.count()).where(keys.c.id.between(low, high)).group_by(keys.c.status)
    ).all()
    return {status: count for status, count in rows}


# --- checked state-machine steps ----------------------------------------------------------------


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
    self-join), all range scans of the primary key, the states always in the same order."""
    low, high = key_id_range(batch_id)
    total = 0
    for from_status in ordered(from_statuses):
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


# --- the conditional updates of the internal API: activation, hold, release ---------------------

_STATES = {
    "activatable": sql_values(ACTIVATABLE),
    "holdable": sql_values(HOLDABLE),
    "activated": KeyStatus.ACTIVATED.value,
    "held": KeyStatus.PENDING_REVIEW.value,
}


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
    activatable now (state, expiry, region, its studio not suspended; a held key only by its
    hold). Concurrent callers
    queue on the row lock and re-check the condition, so exactly one of them changes it."""
    where, params = _key_condition(lookup_hash, key_id)
    return session.execute(
        text(
            f"""
            UPDATE key_manager.keys AS k
            SET status = :activated, activated_at = now(), status_changed_at = now(),
                activated_by = :user_id, activation_id = :activation_id, activation_region = :region,
                hold_id = NULL, held_from_status = NULL
            FROM (SELECT id, status FROM key_manager.keys WHERE {where} FOR UPDATE) AS old,
                 key_manager.batches AS b
            WHERE k.id = old.id AND b.id = k.batch_id
              AND (
                    (k.status = ANY(:activatable)
                     AND (k.expires_at IS NULL OR k.expires_at > now()))
                 OR (k.status = :held AND k.hold_id = :hold_id)
              )
              AND NOT (:region = ANY(b.denied_countries))
              AND (b.allowed_countries IS NULL OR :region = ANY(b.allowed_countries))
              AND NOT EXISTS (SELECT 1 FROM key_manager.studios AS s
                              WHERE s.developer_id = k.developer_id AND s.suspended_at IS NOT NULL)
            RETURNING k.id, k.batch_id, k.game_id, k.developer_id, k.key_type, k.retailer_id,
                      k.allocation_id, k.activated_at, old.status AS from_status
            """  # noqa: S608 - `where` is one of two fixed strings
        ),
        {
            **params,
            **_STATES,
            "user_id": user_id,
            "activation_id": activation_id,
            "region": region,
            "hold_id": hold_id,
        },
    ).first()


def hold(
    session: Session, *, lookup_hash: bytes | None, key_id: uuid.UUID | None, hold_id: str
) -> Row | None:
    where, params = _key_condition(lookup_hash, key_id)
    return session.execute(
        text(
            f"""
            UPDATE key_manager.keys
            SET status = :held, held_from_status = status, hold_id = :hold_id,
                status_changed_at = now()
            WHERE {where} AND status = ANY(:holdable)
              AND (expires_at IS NULL OR expires_at > now())
            RETURNING id, batch_id, game_id, held_from_status AS from_status
            """  # noqa: S608 - `where` is one of two fixed strings
        ),
        {**params, "held": _STATES["held"], "holdable": _STATES["holdable"], "hold_id": hold_id},
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
            WHERE {where} AND status = :held AND hold_id = :hold_id
            RETURNING id, batch_id, game_id, status AS to_status
            """  # noqa: S608 - `where` is one of two fixed strings
        ),
        {**params, "held": _STATES["held"], "hold_id": hold_id},
    ).first()


# --- retailers' keys ----------------------------------------------------------------------------


def keys_of_retailer(session: Session, retailer_id: uuid.UUID, key_ids: Iterable[uuid.UUID]) -> list:
    """Which of ``key_ids`` are (or were, once sold or returned) allocated to the retailer."""
    return list(
        session.execute(
            select(keys.c.id).where(keys.c.id.in_(list(key_ids)), keys.c.retailer_id == retailer_id)
        ).scalars()
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
