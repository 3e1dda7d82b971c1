"""The audit trails: a key's state changes (``key_transitions``: who, when, from, to, why, which
operation, request id), every export of plaintext keys (``key_exports``) and every look-up of a
key by its plaintext (``key_lookups``)."""

from __future__ import annotations

import uuid

from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from key_manager.db.tables import key_exports, key_lookups, key_transitions

# Built once, values as parameters: the compiled statement is reused on every activation.
_INSERT_TRANSITION = insert(key_transitions)


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
        _INSERT_TRANSITION,
        {
            "key_id": key_id,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "operation": operation,
            "reason": reason,
            "request_id": request_id,
        },
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


def audit_export(
    session: Session,
    *,
    actor: str,
    fmt: str,
    batch_id: uuid.UUID | None = None,
    allocation_id: uuid.UUID | None = None,
    order_id: str | None = None,
    key_count: int | None = None,
    cursor: str | None = None,
    request_id: str | None = None,
) -> None:
    session.execute(
        insert(key_exports).values(
            batch_id=batch_id,
            allocation_id=allocation_id,
            order_id=order_id,
            actor=actor,
            format=fmt,
            key_count=key_count,
            cursor=cursor,
            request_id=request_id,
        )
    )


def audit_lookup(
    session: Session, *, key_id: uuid.UUID | None, actor: str, reason: str | None, request_id: str | None
) -> None:
    """A look-up of a key by its plaintext (support's provenance look-up): who, which key id
    (None: no key matched), why. Never the plaintext."""
    session.execute(
        insert(key_lookups).values(key_id=key_id, actor=actor, reason=reason, request_id=request_id)
    )
