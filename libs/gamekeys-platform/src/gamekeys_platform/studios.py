"""The projection of developer.events that every service authorizing studio members keeps:
studios (with their verification status), team members with their roles, and which studio owns
which game (§7). developer-portal owns the truth; key-manager and game-builds (and any service
to come) decide from this copy who may act on a game's keys or builds.

``StudioProjection.define(metadata)`` puts its three tables in the service's schema;
``handlers()`` is the consumer's ``EventHandlers`` (one event per transaction with its inbox
record, so a redelivered event changes nothing twice); the reads answer the access checks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamekeys_platform.contracts import EventHandlers, developer
from gamekeys_platform.events import Event


@dataclass(frozen=True)
class GameOwner:
    game_id: uuid.UUID
    developer_id: uuid.UUID
    verification_status: str | None
    deleted: bool
    suspended: bool = False  # its studio is suspended by the Admin Service


@dataclass(frozen=True)
class StudioProjection:
    studios: Table
    members: Table
    games: Table

    @classmethod
    def define(cls, metadata: MetaData) -> StudioProjection:
        now = func.now()
        return cls(
            studios=Table(
                "studios",
                metadata,
                Column("developer_id", Uuid, primary_key=True),
                Column("company_name", String(200)),
                Column("verification_status", String(20), nullable=False),
                # set while the Admin Service has the studio suspended (developer.suspended)
                Column("suspended_at", DateTime(timezone=True)),
                Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
            ),
            members=Table(
                "studio_members",
                metadata,
                Column("developer_id", Uuid, nullable=False),
                Column("user_id", String(128), nullable=False),
                Column("role", String(20), nullable=False),
                Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
                PrimaryKeyConstraint("developer_id", "user_id"),
                Index("ix_studio_members_user", "user_id"),
            ),
            games=Table(
                "games",
                metadata,
                Column("game_id", Uuid, primary_key=True),
                Column("developer_id", Uuid, nullable=False),
                Column("title", String(300)),
                Column("status", String(30)),
                Column("deleted", Boolean, nullable=False, server_default=text("false")),
                Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
                Index("ix_games_developer", "developer_id"),
            ),
        )

    # --- writes, from developer.events ---------------------------------------------------------

    def handlers(self) -> EventHandlers:
        """Pricing, metadata, invitations and publishing concern no projection: the consumer
        settles them without a transaction."""
        return EventHandlers(
            {
                developer.DeveloperRegistered: self._registered,
                developer.DeveloperVerified: self._verified,
                developer.DeveloperUpdated: self._updated,
                developer.DeveloperSuspended: self._suspended,
                developer.DeveloperReinstated: self._reinstated,
                developer.TeamMemberAdded: self._member_set,
                developer.TeamMemberRoleChanged: self._member_set,
                developer.TeamMemberRemoved: self._member_removed,
                developer.GameCreated: self._game,
                developer.GameUpdated: self._game,
                developer.GameDeleted: self._game_deleted,
            }
        )

    def _studio(self, session: Session, developer_id: uuid.UUID, **values) -> None:
        statement = insert(self.studios).values(developer_id=developer_id, **values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[self.studios.c.developer_id], set_={**values, "updated_at": func.now()}
            )
        )

    def _member(self, session: Session, developer_id: uuid.UUID, user_id: str, role: str) -> None:
        members = self.members
        statement = insert(members).values(developer_id=developer_id, user_id=user_id, role=role)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[members.c.developer_id, members.c.user_id],
                set_={"role": role, "updated_at": func.now()},
            )
        )

    def _registered(self, session: Session, data: developer.DeveloperRegistered, _event: Event) -> None:
        self._studio(
            session,
            data.developer_id,
            company_name=data.company_name,
            verification_status=data.verification_status,
        )
        self._member(session, data.developer_id, data.admin_user_id, "admin")

    def _verified(self, session: Session, data: developer.DeveloperVerified, _event: Event) -> None:
        self._studio(session, data.developer_id, verification_status=data.verification_status)

    def _updated(self, session: Session, data: developer.DeveloperUpdated, _event: Event) -> None:
        session.execute(
            update(self.studios)
            .where(self.studios.c.developer_id == data.developer_id)
            .values(company_name=data.company_name, updated_at=func.now())
        )

    def _suspended(self, session: Session, data: developer.DeveloperSuspended, _event: Event) -> None:
        session.execute(
            update(self.studios)
            .where(self.studios.c.developer_id == data.developer_id)
            .values(suspended_at=data.suspended_at, updated_at=func.now())
        )

    def _reinstated(self, session: Session, data: developer.DeveloperReinstated, _event: Event) -> None:
        session.execute(
            update(self.studios)
            .where(self.studios.c.developer_id == data.developer_id)
            .values(suspended_at=None, updated_at=func.now())
        )

    def _member_set(
        self,
        session: Session,
        data: developer.TeamMemberAdded | developer.TeamMemberRoleChanged,
        _event: Event,
    ) -> None:
        self._member(session, data.developer_id, data.user_id, data.role)

    def _member_removed(self, session: Session, data: developer.TeamMemberRemoved, _event: Event) -> None:
        session.execute(
            delete(self.members).where(
                self.members.c.developer_id == data.developer_id, self.members.c.user_id == data.user_id
            )
        )

    def _game(
        self, session: Session, data: developer.GameCreated | developer.GameUpdated, _event: Event
    ) -> None:
        values = {
            "developer_id": data.developer_id,
            "title": data.title,
            "status": data.status,
            "deleted": False,
        }
        session.execute(
            insert(self.games)
            .values(game_id=data.game_id, **values)
            .on_conflict_do_update(
                index_elements=[self.games.c.game_id], set_={**values, "updated_at": func.now()}
            )
        )

    def _game_deleted(self, session: Session, data: developer.GameDeleted, _event: Event) -> None:
        session.execute(
            update(self.games)
            .where(self.games.c.game_id == data.game_id)
            .values(deleted=True, updated_at=func.now())
        )

    # --- reads, for the access checks -----------------------------------------------------------

    def game_owner(self, session: Session, game_id: uuid.UUID) -> GameOwner | None:
        """The game's studio, deleted games included (``deleted`` says so)."""
        games, studios = self.games, self.studios
        row = session.execute(
            select(
                games.c.game_id,
                games.c.developer_id,
                games.c.deleted,
                studios.c.verification_status,
                studios.c.suspended_at,
            )
            .select_from(games.outerjoin(studios, studios.c.developer_id == games.c.developer_id))
            .where(games.c.game_id == game_id)
        ).first()
        if row is None:
            return None
        return GameOwner(
            row.game_id, row.developer_id, row.verification_status, row.deleted, row.suspended_at is not None
        )

    def suspended(self, session: Session, developer_id: uuid.UUID) -> bool:
        """Whether the studio is suspended by the Admin Service (as last projected)."""
        return (
            session.execute(
                select(self.studios.c.suspended_at).where(self.studios.c.developer_id == developer_id)
            ).scalar_one_or_none()
            is not None
        )

    def member_role(self, session: Session, developer_id: uuid.UUID, user_id: str) -> str | None:
        return session.execute(
            select(self.members.c.role).where(
                self.members.c.developer_id == developer_id, self.members.c.user_id == user_id
            )
        ).scalar_one_or_none()

    def member_studios(self, session: Session, user_id: str) -> list[uuid.UUID]:
        return list(
            session.execute(
                select(self.members.c.developer_id).where(self.members.c.user_id == user_id)
            ).scalars()
        )

    def games_of_member(self, session: Session, user_id: str, roles: tuple[str, ...]) -> set[uuid.UUID]:
        """The games (not deleted) of every studio where ``user_id`` has one of the team ``roles``."""
        games, members = self.games, self.members
        return set(
            session.execute(
                select(games.c.game_id)
                .select_from(games.join(members, members.c.developer_id == games.c.developer_id))
                .where(members.c.user_id == user_id, members.c.role.in_(roles), games.c.deleted.is_(False))
            ).scalars()
        )
