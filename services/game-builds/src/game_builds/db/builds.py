"""The builds repository: conditional state changes (``status = ANY(:sources)`` from the
domain's transition table), the worker's leased claim, keyset pages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from game_builds.db.tables import builds
from game_builds.domain.states import BuildStatus, sources_of, sql_values
from gamekeys_platform.pagination import Page, keyset_page

BUILD_ORDER = (builds.c.created_at, builds.c.id)
BUILD_CURSOR = (datetime, uuid.UUID)


def add(session: Session, **values: Any) -> Row:
    return session.execute(insert(builds).values(**values).returning(*builds.c)).one()


def get(session: Session, build_id: uuid.UUID, game_id: uuid.UUID) -> Row | None:
    return session.execute(select(builds).where(builds.c.id == build_id, builds.c.game_id == game_id)).first()


def version_taken(session: Session, game_id: uuid.UUID, platform: str, version: str) -> bool:
    return (
        session.execute(
            select(builds.c.id).where(
                builds.c.game_id == game_id, builds.c.platform == platform, builds.c.version == version
            )
        ).first()
        is not None
    )


def page(
    session: Session, game_id: uuid.UUID, *, status: str | None, platform: str | None, after, limit: int
) -> Page:
    query = select(builds).where(builds.c.game_id == game_id)
    if status:
        query = query.where(builds.c.status == status)
    if platform:
        query = query.where(builds.c.platform == platform)
    return keyset_page(session, query, BUILD_ORDER, after, limit, descending=True)


def set_changelog(session: Session, build_id: uuid.UUID, changelog: str) -> Row | None:
    return session.execute(
        update(builds).where(builds.c.id == build_id).values(changelog=changelog).returning(*builds.c)
    ).first()


def move(session: Session, build_id: uuid.UUID, target: BuildStatus, **values: Any) -> Row | None:
    """``target`` if the build is in a state the machine allows it from; None otherwise."""
    return session.execute(
        update(builds)
        .where(builds.c.id == build_id, builds.c.status == func.any(sql_values(sources_of(target))))
        .values(status=target.value, status_changed_at=func.now(), **values)
        .returning(*builds.c)
    ).first()


def claim_next(session: Session, *, lease_seconds: int) -> Row | None:
    """The oldest uploaded build, or a processing one whose lease ran out (its worker died, or it
    waits out a backoff), leased to this worker."""
    candidate = (
        select(builds.c.id)
        .where(
            or_(
                builds.c.status == BuildStatus.UPLOADED.value,
                and_(builds.c.status == BuildStatus.PROCESSING.value, builds.c.lease_until < func.now()),
            )
        )
        .order_by(builds.c.status_changed_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return session.execute(
        update(builds)
        .where(builds.c.id == candidate)
        .values(
            status=BuildStatus.PROCESSING.value,
            attempts=builds.c.attempts + 1,
            bytes_verified=0,
            lease_until=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
        )
        .returning(*builds.c)
    ).first()


def still_processing(session: Session, build_id: uuid.UUID, attempts: int) -> Row | None:
    """The build, locked, if it is still the one this worker claimed (same attempt)."""
    return session.execute(
        select(builds)
        .where(
            builds.c.id == build_id,
            builds.c.status == BuildStatus.PROCESSING.value,
            builds.c.attempts == attempts,
        )
        .with_for_update()
    ).first()


def set_progress(session: Session, build_id: uuid.UUID, attempts: int, verified: int) -> None:
    session.execute(
        update(builds)
        .where(builds.c.id == build_id, builds.c.attempts == attempts)
        .values(bytes_verified=verified)
    )


def retry_later(session: Session, build_id: uuid.UUID, attempts: int, *, seconds: float, error: str) -> None:
    session.execute(
        update(builds)
        .where(
            builds.c.id == build_id,
            builds.c.attempts == attempts,
            builds.c.status == BuildStatus.PROCESSING.value,
        )
        .values(
            lease_until=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds), last_error=error[:500]
        )
    )


def expired_uploads(session: Session, limit: int = 100) -> list[Row]:
    return list(
        session.execute(
            select(builds)
            .where(builds.c.status == BuildStatus.UPLOADING.value, builds.c.upload_expires_at < func.now())
            .order_by(builds.c.upload_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )


def remove(session: Session, build_id: uuid.UUID) -> None:
    session.execute(delete(builds).where(builds.c.id == build_id))
