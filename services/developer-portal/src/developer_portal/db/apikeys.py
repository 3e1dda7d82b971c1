"""Queries of CI API keys. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from developer_portal.db.tables import api_keys, games
from gamekeys_platform.pagination import Page, keyset_page


def studio_game_ids(session: Session, developer_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.execute(select(games.c.game_id).where(games.c.developer_id == developer_id)).scalars())


def insert_key(session: Session, **values: Any) -> Row:
    return session.execute(insert(api_keys).values(**values).returning(api_keys)).one()


def get_key(session: Session, key_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(api_keys).where(api_keys.c.key_id == key_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def find_by_hash(session: Session, key_hash: str) -> Row | None:
    return session.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()


def update_key(session: Session, key_id: uuid.UUID, **values: Any) -> Row:
    return session.execute(
        update(api_keys).where(api_keys.c.key_id == key_id).values(**values).returning(api_keys)
    ).one()


def list_keys(session: Session, developer_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int) -> Page:
    query = select(api_keys).where(api_keys.c.developer_id == developer_id)
    order = [api_keys.c.created_at, api_keys.c.key_id]
    return keyset_page(session, query, order, after, limit, descending=True)


def active_keys_created_by(
    session: Session, developer_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> list[Row]:
    """The studio's keys ``user_id`` created that still work, locked."""
    return list(
        session.execute(
            select(api_keys)
            .where(
                api_keys.c.developer_id == developer_id,
                api_keys.c.created_by == user_id,
                api_keys.c.revoked_at.is_(None),
                api_keys.c.expires_at > now,
            )
            .order_by(api_keys.c.key_id)
            .with_for_update()
        )
    )


def touch(
    session: Session, key_id: uuid.UUID, *, now: datetime, address: str | None, every: timedelta
) -> bool:
    """Record a use of the key, unless one was recorded less than ``every`` ago: a conditional
    UPDATE, so a burst of calls writes the row once whatever the concurrency."""
    stale = (api_keys.c.last_used_at.is_(None)) | (api_keys.c.last_used_at <= now - every)
    result = session.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id, stale)
        .values(last_used_at=now, last_used_address=address)
    )
    return result.rowcount == 1


def claim_expiring(session: Session, *, now: datetime, notice: timedelta, limit: int) -> list[Row]:
    """Working keys expiring within ``notice`` whose apikey.expiring has not gone out, locked; a
    key another worker holds is skipped."""
    return list(
        session.execute(
            select(api_keys)
            .where(
                api_keys.c.expiry_notified_at.is_(None),
                api_keys.c.revoked_at.is_(None),
                api_keys.c.expires_at > now,
                api_keys.c.expires_at <= now + notice,
            )
            .order_by(api_keys.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
