"""Queries of the developer portal. Functions take the caller's session and never commit:
the view's ``@transactional`` or ``@idempotent`` does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from developer_portal.db.tables import (
    audit_log,
    developers,
    game_metadata,
    game_pricing,
    games,
    team_invitations,
    team_members,
)
from gamekeys_platform.pagination import Page, keyset_page

# --- studios --------------------------------------------------------------------------------


def insert_developer(session: Session, **values: Any) -> Row:
    return session.execute(insert(developers).values(**values).returning(developers)).one()


def get_developer(session: Session, developer_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(developers).where(developers.c.developer_id == developer_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def update_developer(session: Session, developer_id: uuid.UUID, **values: Any) -> Row:
    return session.execute(
        update(developers)
        .where(developers.c.developer_id == developer_id)
        .values(**values, updated_at=func.now())
        .returning(developers)
    ).one()


def list_developers(session: Session, *, status: str | None, after: Sequence[Any] | None, limit: int) -> Page:
    query = select(developers)
    if status is not None:
        query = query.where(developers.c.verification_status == status)
    return keyset_page(
        session, query, [developers.c.created_at, developers.c.developer_id], after, limit, descending=True
    )


# --- team -----------------------------------------------------------------------------------


def membership_of(session: Session, user_id: uuid.UUID) -> Row | None:
    """The caller's studio membership (a user is in at most one studio)."""
    return session.execute(select(team_members).where(team_members.c.user_id == user_id)).first()


def get_member(session: Session, developer_id: uuid.UUID, user_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(team_members).where(
            team_members.c.developer_id == developer_id, team_members.c.user_id == user_id
        )
    ).first()


def insert_member(session: Session, **values: Any) -> Row:
    return session.execute(
        insert(team_members).values(team_member_id=uuid.uuid4(), **values).returning(team_members)
    ).one()


def update_member_role(session: Session, developer_id: uuid.UUID, user_id: uuid.UUID, role: str) -> Row:
    return session.execute(
        update(team_members)
        .where(team_members.c.developer_id == developer_id, team_members.c.user_id == user_id)
        .values(role=role, updated_at=func.now())
        .returning(team_members)
    ).one()


def delete_member(session: Session, developer_id: uuid.UUID, user_id: uuid.UUID) -> None:
    session.execute(
        delete(team_members).where(
            team_members.c.developer_id == developer_id, team_members.c.user_id == user_id
        )
    )


def count_admins(session: Session, developer_id: uuid.UUID) -> int:
    return session.execute(
        select(func.count()).where(
            team_members.c.developer_id == developer_id, team_members.c.role == "admin"
        )
    ).scalar_one()


def count_members(session: Session, developer_id: uuid.UUID) -> int:
    return session.execute(
        select(func.count()).where(team_members.c.developer_id == developer_id)
    ).scalar_one()


def member_emails(session: Session, developer_id: uuid.UUID) -> list[str]:
    return list(
        session.execute(
            select(team_members.c.email).where(
                team_members.c.developer_id == developer_id, team_members.c.email.is_not(None)
            )
        ).scalars()
    )


def list_members(
    session: Session, developer_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    query = select(team_members).where(team_members.c.developer_id == developer_id)
    return keyset_page(
        session, query, [team_members.c.added_at, team_members.c.user_id], after, limit, descending=False
    )


# --- invitations ----------------------------------------------------------------------------


def insert_invitation(session: Session, **values: Any) -> Row:
    return session.execute(insert(team_invitations).values(**values).returning(team_invitations)).one()


def get_invitation(session: Session, invitation_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(team_invitations).where(team_invitations.c.invitation_id == invitation_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def pending_invitation_emails(session: Session, developer_id: uuid.UUID, now: datetime) -> list[str]:
    return list(
        session.execute(
            select(team_invitations.c.email).where(
                team_invitations.c.developer_id == developer_id,
                team_invitations.c.status == "pending",
                team_invitations.c.expires_at > now,
            )
        ).scalars()
    )


def close_invitation(
    session: Session, invitation_id: uuid.UUID, status: str, responded_by: uuid.UUID | None
) -> Row:
    return session.execute(
        update(team_invitations)
        .where(team_invitations.c.invitation_id == invitation_id)
        .values(status=status, responded_at=func.now(), responded_by=responded_by)
        .returning(team_invitations)
    ).one()


def expire_stale_invitations(session: Session, developer_id: uuid.UUID | None = None) -> int:
    """Mark pending invitations past their expiry as expired (frees the address for a new one)."""
    query = update(team_invitations).where(
        team_invitations.c.status == "pending", team_invitations.c.expires_at <= func.now()
    )
    if developer_id is not None:
        query = query.where(team_invitations.c.developer_id == developer_id)
    return session.execute(query.values(status="expired")).rowcount


def list_invitations(
    session: Session,
    *,
    developer_id: uuid.UUID | None = None,
    email: str | None = None,
    statuses: Sequence[str] = ("pending",),
    after: Sequence[Any] | None,
    limit: int,
) -> Page:
    query = select(team_invitations, developers.c.company_name).join(
        developers, developers.c.developer_id == team_invitations.c.developer_id
    )
    if developer_id is not None:
        query = query.where(team_invitations.c.developer_id == developer_id)
    if email is not None:
        query = query.where(team_invitations.c.email == email, team_invitations.c.expires_at > func.now())
    query = query.where(team_invitations.c.status.in_(list(statuses)))
    order = [team_invitations.c.created_at, team_invitations.c.invitation_id]
    return keyset_page(session, query, order, after, limit, descending=True)


# --- games ----------------------------------------------------------------------------------


def insert_game(session: Session, **values: Any) -> Row:
    return session.execute(insert(games).values(**values).returning(games)).one()


def get_game(session: Session, game_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(games).where(games.c.game_id == game_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def title_taken(
    session: Session, developer_id: uuid.UUID, title_key: str, *, except_game: uuid.UUID | None = None
) -> bool:
    query = select(games.c.game_id).where(
        games.c.developer_id == developer_id, games.c.title_key == title_key
    )
    if except_game is not None:
        query = query.where(games.c.game_id != except_game)
    return session.execute(query.limit(1)).first() is not None


def update_game(session: Session, game_id: uuid.UUID, **values: Any) -> Row:
    return session.execute(
        update(games)
        .where(games.c.game_id == game_id)
        .values(**values, updated_at=func.now(), listing_updated_at=func.now())
        .returning(games)
    ).one()


def delete_game(session: Session, game_id: uuid.UUID) -> None:
    session.execute(delete(games).where(games.c.game_id == game_id))


def list_games(
    session: Session,
    *,
    developer_id: uuid.UUID | None,
    status: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Page:
    query = select(games)
    if developer_id is not None:
        query = query.where(games.c.developer_id == developer_id)
    if status is not None:
        query = query.where(games.c.status == status)
    return keyset_page(session, query, [games.c.created_at, games.c.game_id], after, limit, descending=True)


# --- metadata and pricing -------------------------------------------------------------------


def get_metadata(session: Session, game_id: uuid.UUID) -> Row | None:
    return session.execute(select(game_metadata).where(game_metadata.c.game_id == game_id)).first()


def upsert_metadata(session: Session, game_id: uuid.UUID, values: dict[str, Any]) -> Row:
    statement = pg_insert(game_metadata).values(game_id=game_id, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[game_metadata.c.game_id], set_={**values, "updated_at": func.now()}
    )
    return session.execute(statement.returning(game_metadata)).one()


def get_pricing(session: Session, game_id: uuid.UUID) -> Row | None:
    return session.execute(select(game_pricing).where(game_pricing.c.game_id == game_id)).first()


def upsert_pricing(session: Session, game_id: uuid.UUID, values: dict[str, Any]) -> Row:
    statement = pg_insert(game_pricing).values(game_id=game_id, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[game_pricing.c.game_id], set_={**values, "updated_at": func.now()}
    )
    return session.execute(statement.returning(game_pricing)).one()


# --- audit ----------------------------------------------------------------------------------


def insert_audit(session: Session, **values: Any) -> None:
    session.execute(insert(audit_log).values(**values))


def list_audit(session: Session, developer_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int) -> Page:
    query = select(audit_log).where(audit_log.c.developer_id == developer_id)
    return keyset_page(session, query, [audit_log.c.audit_id], after, limit, descending=True)


def now(session: Session) -> datetime:
    """The database's clock: one clock for expiry checks and the rows they compare with."""
    return session.execute(select(func.now())).scalar_one()
