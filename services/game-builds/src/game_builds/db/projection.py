"""The projection of developer.events (studios, team members, game ownership) used to decide
who may act on a game's builds: written by the worker's consumer, one event per transaction with
its inbox record; read by the access checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from game_builds.db.tables import games, studio_members, studios
from gamekeys_platform.contracts import EventHandlers, developer
from gamekeys_platform.events import Event


def _studio(session: Session, developer_id: uuid.UUID, **values) -> None:
    statement = insert(studios).values(developer_id=developer_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[studios.c.developer_id], set_={**values, "updated_at": func.now()}
        )
    )


def _member(session: Session, developer_id: uuid.UUID, user_id: str, role: str) -> None:
    statement = insert(studio_members).values(developer_id=developer_id, user_id=user_id, role=role)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[studio_members.c.developer_id, studio_members.c.user_id],
            set_={"role": role, "updated_at": func.now()},
        )
    )


def _registered(session: Session, data: developer.DeveloperRegistered, _event: Event) -> None:
    _studio(session, data.developer_id, company_name=data.company_name)
    _member(session, data.developer_id, data.admin_user_id, "admin")


def _updated(session: Session, data: developer.DeveloperUpdated, _event: Event) -> None:
    _studio(session, data.developer_id, company_name=data.company_name)


def _member_set(
    session: Session, data: developer.TeamMemberAdded | developer.TeamMemberRoleChanged, _event: Event
) -> None:
    _member(session, data.developer_id, data.user_id, data.role)


def _member_removed(session: Session, data: developer.TeamMemberRemoved, _event: Event) -> None:
    session.execute(
        delete(studio_members).where(
            studio_members.c.developer_id == data.developer_id, studio_members.c.user_id == data.user_id
        )
    )


def _game(session: Session, data: developer.GameCreated | developer.GameUpdated, _event: Event) -> None:
    values = {"developer_id": data.developer_id, "title": data.title, "deleted": False}
    session.execute(
        insert(games)
        .values(game_id=data.game_id, **values)
        .on_conflict_do_update(index_elements=[games.c.game_id], set_={**values, "updated_at": func.now()})
    )


def _game_deleted(session: Session, data: developer.GameDeleted, _event: Event) -> None:
    session.execute(
        update(games).where(games.c.game_id == data.game_id).values(deleted=True, updated_at=func.now())
    )


# Verification, pricing, metadata, invitations and publishing do not concern builds.
apply_developer_event = EventHandlers(
    {
        developer.DeveloperRegistered: _registered,
        developer.DeveloperUpdated: _updated,
        developer.TeamMemberAdded: _member_set,
        developer.TeamMemberRoleChanged: _member_set,
        developer.TeamMemberRemoved: _member_removed,
        developer.GameCreated: _game,
        developer.GameUpdated: _game,
        developer.GameDeleted: _game_deleted,
    }
)


@dataclass(frozen=True)
class GameOwner:
    game_id: uuid.UUID
    developer_id: uuid.UUID


def game_owner(session: Session, game_id: uuid.UUID) -> GameOwner | None:
    row = session.execute(
        select(games.c.game_id, games.c.developer_id).where(
            games.c.game_id == game_id, games.c.deleted.is_(False)
        )
    ).first()
    return GameOwner(row.game_id, row.developer_id) if row else None


def member_role(session: Session, developer_id: uuid.UUID, user_id: str) -> str | None:
    return session.execute(
        select(studio_members.c.role).where(
            studio_members.c.developer_id == developer_id, studio_members.c.user_id == user_id
        )
    ).scalar_one_or_none()
