"""Queries of the publishing workflow: the builds projection, submissions, releases. Functions
take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from developer_portal.db.tables import builds, developers, games, submissions
from developer_portal.domain.publishing import SubmissionStatus
from gamekeys_platform.pagination import Page, keyset_page

# --- builds ---------------------------------------------------------------------------------


def game_builds(session: Session, game_id: uuid.UUID) -> list[Row]:
    return list(
        session.execute(
            select(builds).where(builds.c.game_id == game_id).order_by(builds.c.occurred_at.desc())
        )
    )


def get_build(session: Session, version_id: uuid.UUID) -> Row | None:
    return session.execute(select(builds).where(builds.c.version_id == version_id)).first()


# --- submissions ----------------------------------------------------------------------------


def insert_submission(session: Session, **values: Any) -> Row:
    return session.execute(insert(submissions).values(**values).returning(submissions)).one()


def get_submission(session: Session, submission_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(submissions).where(submissions.c.submission_id == submission_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def open_submission(session: Session, game_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(submissions).where(
            submissions.c.game_id == game_id, submissions.c.status == SubmissionStatus.PENDING_REVIEW
        )
    ).first()


def latest_submission(session: Session, game_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(submissions)
        .where(submissions.c.game_id == game_id)
        .order_by(submissions.c.submitted_at.desc(), submissions.c.submission_id.desc())
        .limit(1)
    ).first()


def latest_approved(session: Session, game_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(submissions)
        .where(submissions.c.game_id == game_id, submissions.c.status == SubmissionStatus.APPROVED)
        .order_by(submissions.c.decided_at.desc())
        .limit(1)
    ).first()


def decide_submission(session: Session, submission_id: uuid.UUID, **values: Any) -> Row:
    return session.execute(
        update(submissions)
        .where(submissions.c.submission_id == submission_id)
        .values(**values, decided_at=func.now())
        .returning(submissions)
    ).one()


def list_submissions(
    session: Session, game_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    query = select(submissions).where(submissions.c.game_id == game_id)
    order = [submissions.c.submitted_at, submissions.c.submission_id]
    return keyset_page(session, query, order, after, limit, descending=True)


# --- releases -------------------------------------------------------------------------------


def claim_due_releases(session: Session, *, now: datetime, statuses: Sequence[str], limit: int) -> list[Row]:
    """Games whose scheduled release is due, locked; a game another worker holds is skipped, and
    so are the games of a suspended studio (their release waits for its reinstatement)."""
    suspended = select(developers.c.developer_id).where(developers.c.suspended_at.is_not(None))
    return list(
        session.execute(
            select(games)
            .where(
                games.c.release_at <= now,
                games.c.status == func.any(list(statuses)),
                games.c.developer_id.not_in(suspended),
            )
            .order_by(games.c.release_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
