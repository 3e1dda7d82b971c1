"""SQL of the activation gateway: activation records, history pages, pending reviews, the
projection of blocks in force."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from activation_gateway.db.tables import activations, blocks
from gamekeys_platform.pagination import Page, keyset_page

# Built once: the values go as parameters, so each redemption's insert reuses the compiled
# statement instead of building and hashing a new one (half its CPU).
_INSERT_ACTIVATION = insert(activations).returning(activations)


def add(session: Session, values: dict[str, Any]) -> Row:
    return session.execute(_INSERT_ACTIVATION, values).one()


def get(session: Session, activation_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
    query = select(activations).where(activations.c.id == activation_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def find_pending(session: Session, *, key_id: uuid.UUID, user_id: str | None = None) -> Row | None:
    query = select(activations).where(
        activations.c.key_id == key_id, activations.c.status == "pending_review"
    )
    if user_id is not None:
        query = query.where(activations.c.user_id == user_id)
    return session.execute(query.with_for_update()).first()


def set_status(session: Session, activation_id: uuid.UUID, status: str, **values: Any) -> Row:
    completed = {"completed_at": func.now()} if status != "pending_review" else {}
    return session.execute(
        update(activations)
        .where(activations.c.id == activation_id)
        .values(status=status, updated_at=func.now(), **completed, **values)
        .returning(activations)
    ).one()


def history_page(session: Session, user_id: str, *, after: list | None, limit: int) -> Page:
    query = select(activations).where(activations.c.user_id == user_id)
    return keyset_page(
        session, query, (activations.c.created_at, activations.c.id), after, limit, descending=True
    )


def for_key(session: Session, key_id: uuid.UUID, *, limit: int = 20) -> list[Row]:
    query = (
        select(activations)
        .where(activations.c.key_id == key_id)
        .order_by(activations.c.created_at.desc(), activations.c.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).all())


def unassessed_holds(session: Session, *, older_than_seconds: int, limit: int = 50) -> list[Row]:
    """Holds made while antifraud was unavailable, oldest first, locked for this worker."""
    query = (
        select(activations)
        .where(
            activations.c.status == "pending_review",
            activations.c.case_id.is_(None),
            activations.c.review_reason == "antifraud_unavailable",
            activations.c.updated_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds),
        )
        .order_by(activations.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query).all())


def _in_force():
    return or_(blocks.c.expires_at.is_(None), blocks.c.expires_at > func.now())


def blocks_in_force(session: Session, wanted: list[tuple[str, str]]) -> list[Row]:
    """Blocks in force on any of the (entity type, value) pairs."""
    if not wanted:
        return []
    match = or_(*(and_(blocks.c.entity_type == kind, blocks.c.value == value) for kind, value in wanted))
    query = select(blocks).where(match, _in_force()).order_by(blocks.c.added_at)
    return list(session.execute(query).all())


def all_blocks_in_force(session: Session) -> list[Row]:
    query = select(blocks.c.id, blocks.c.entity_type, blocks.c.value, blocks.c.expires_at)
    return list(session.execute(query.where(_in_force())).all())


def add_block(
    session: Session,
    *,
    block_id: uuid.UUID,
    entity_type: str,
    value: str,
    reason: str | None,
    expires_at: datetime | None,
    added_at: datetime,
) -> None:
    session.execute(
        pg_insert(blocks)
        .values(
            id=block_id,
            entity_type=entity_type,
            value=value,
            reason=reason,
            expires_at=expires_at,
            added_at=added_at,
        )
        .on_conflict_do_nothing(index_elements=[blocks.c.id])
    )


def remove_block(session: Session, block_id: uuid.UUID) -> None:
    session.execute(delete(blocks).where(blocks.c.id == block_id))


def purge_expired_blocks(session: Session) -> int:
    return session.execute(delete(blocks).where(blocks.c.expires_at <= func.now())).rowcount
