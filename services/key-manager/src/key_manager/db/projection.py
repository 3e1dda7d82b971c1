"""The projection of developer.events (studios, team members, game ownership) used to decide
who may act on which game's keys. Applied by the worker's consumer, one event per transaction
together with the inbox record, so a redelivered event changes nothing twice."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamekeys_platform.events import Event
from key_manager.db.tables import games, studio_members, studios

log = logging.getLogger("key_manager.projection")

TEAM_ROLES = frozenset({"admin", "developer", "marketing", "finance"})


def apply_developer_event(session: Session, event: Event) -> None:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return  # pricing, publishing and the rest do not concern keys
    handler(session, event.data)


def _studio(session: Session, developer_id: uuid.UUID, **values) -> None:
    statement = insert(studios).values(developer_id=developer_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[studios.c.developer_id], set_={**values, "updated_at": func.now()}
        )
    )


def _member(session: Session, developer_id: uuid.UUID, user_id: str, role: str) -> None:
    if role not in TEAM_ROLES:
        raise ValueError(f"unknown team role {role!r}")
    statement = insert(studio_members).values(developer_id=developer_id, user_id=user_id, role=role)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[studio_members.c.developer_id, studio_members.c.user_id],
            set_={"role": role, "updated_at": func.now()},
        )
    )


def _registered(session: Session, data: dict) -> None:
    developer_id = uuid.UUID(data["developerId"])
    _studio(
        session,
        developer_id,
        company_name=data.get("companyName"),
        verification_status=data.get("verificationStatus") or "pending",
    )
    if data.get("adminUserId"):
        _member(session, developer_id, str(data["adminUserId"]), "admin")


def _verified(session: Session, data: dict) -> None:
    status = data["verificationStatus"]
    if status not in ("verified", "rejected", "pending"):
        raise ValueError(f"unknown verification status {status!r}")
    _studio(session, uuid.UUID(data["developerId"]), verification_status=status)


def _updated(session: Session, data: dict) -> None:
    session.execute(
        update(studios)
        .where(studios.c.developer_id == uuid.UUID(data["developerId"]))
        .values(company_name=data.get("companyName"), updated_at=func.now())
    )


def _member_set(session: Session, data: dict) -> None:
    _member(session, uuid.UUID(data["developerId"]), str(data["userId"]), data["role"])


def _member_removed(session: Session, data: dict) -> None:
    session.execute(
        delete(studio_members).where(
            studio_members.c.developer_id == uuid.UUID(data["developerId"]),
            studio_members.c.user_id == str(data["userId"]),
        )
    )


def _game(session: Session, data: dict) -> None:
    values = {
        "developer_id": uuid.UUID(data["developerId"]),
        "title": data.get("title"),
        "status": data.get("status"),
        "deleted": False,
    }
    session.execute(
        insert(games)
        .values(game_id=uuid.UUID(data["gameId"]), **values)
        .on_conflict_do_update(index_elements=[games.c.game_id], set_={**values, "updated_at": func.now()})
    )


def _game_deleted(session: Session, data: dict) -> None:
    session.execute(
        update(games)
        .where(games.c.game_id == uuid.UUID(data["gameId"]))
        .values(deleted=True, updated_at=func.now())
    )


_HANDLERS = {
    "developer.registered": _registered,
    "developer.verified": _verified,
    "developer.updated": _updated,
    "team.member_added": _member_set,
    "team.member_role_changed": _member_set,
    "team.member_removed": _member_removed,
    "game.created": _game,
    "game.updated": _game,
    "game.deleted": _game_deleted,
}

HANDLED_EVENTS = frozenset(_HANDLERS)
