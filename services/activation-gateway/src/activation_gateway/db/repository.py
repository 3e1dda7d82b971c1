"""SQL of the activation gateway: activation records, history pages, pending reviews."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from activation_gateway.db.tables import activations
from gamekeys_platform.pagination import Page, keyset_page


def add(session: Session, values: dict[str, Any]) -> Row:
    return session.execute(insert(activations).values(**values).returning(activations)).one()


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
