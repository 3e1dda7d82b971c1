"""The media repository: one conditional state change (only an ``uploading`` asset moves), keyset
pages, and the uploads never completed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from game_builds.db.tables import media
from game_builds.domain.media import MediaStatus
from gamekeys_platform.pagination import Page, keyset_page

MEDIA_ORDER = (media.c.created_at, media.c.id)
MEDIA_CURSOR = (datetime, uuid.UUID)


def add(session: Session, **values: Any) -> Row:
    return session.execute(insert(media).values(**values).returning(*media.c)).one()


def get(session: Session, media_id: uuid.UUID, game_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(media).where(media.c.id == media_id, media.c.game_id == game_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def page(
    session: Session, game_id: uuid.UUID, *, kind: str | None, status: str | None, after, limit: int
) -> Page:
    query = select(media).where(media.c.game_id == game_id)
    if kind:
        query = query.where(media.c.kind == kind)
    if status:
        query = query.where(media.c.status == status)
    return keyset_page(session, query, MEDIA_ORDER, after, limit, descending=True)


def finish(session: Session, media_id: uuid.UUID, target: MediaStatus, **values: Any) -> Row | None:
    """``uploading`` → ``target``; None if it was no longer uploading."""
    return session.execute(
        update(media)
        .where(media.c.id == media_id, media.c.status == MediaStatus.UPLOADING.value)
        .values(status=target.value, status_changed_at=func.now(), **values)
        .returning(*media.c)
    ).first()


def expired_uploads(session: Session, limit: int = 100) -> list[Row]:
    return list(
        session.execute(
            select(media)
            .where(media.c.status == MediaStatus.UPLOADING.value, media.c.upload_expires_at < func.now())
            .order_by(media.c.upload_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )
