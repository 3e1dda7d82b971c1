"""game-builds' tables (schema ``game_builds``), SQLAlchemy Core: the builds, and the projection
of developer.events (studios, members, games) that decides who may touch them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from game_builds.domain.media import MediaKind, MediaStatus
from game_builds.domain.states import BuildStatus, Platform
from gamekeys_platform.db import service_metadata
from gamekeys_platform.studios import StudioProjection

SCHEMA = "game_builds"
metadata = service_metadata(SCHEMA)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


builds = Table(
    "builds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("game_id", Uuid, nullable=False),
    Column("developer_id", Uuid, nullable=False),
    Column("version", String(64), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("changelog", String(10000), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failure", JSONB),
    Column("object_key", String(200), nullable=False),
    Column("upload_id", String(1024), nullable=False),
    Column("part_size", BigInteger, nullable=False),
    Column("part_count", Integer, nullable=False),
    Column("bytes_verified", BigInteger, nullable=False, server_default=text("0")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", String(500)),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status_changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("upload_expires_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_in("status", BuildStatus), name="status"),
    CheckConstraint(_in("platform", Platform), name="platform"),
    CheckConstraint("file_size > 0", name="file_size"),
    UniqueConstraint("game_id", "platform", "version", name="uq_builds_game_platform_version"),
    Index("ix_builds_game_created", "game_id", "created_at", "id"),
    Index(
        "ix_builds_to_process",
        "status",
        "lease_until",
        postgresql_where=text("status IN ('uploaded', 'processing')"),
    ),
    Index("ix_builds_uploading", "upload_expires_at", postgresql_where=text("status = 'uploading'")),
)

media = Table(
    "media",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("game_id", Uuid, nullable=False),
    Column("developer_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("failure", JSONB),
    Column("width", Integer),
    Column("height", Integer),
    Column("object_key", String(200), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status_changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("upload_expires_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_in("status", MediaStatus), name="status"),
    CheckConstraint(_in("kind", MediaKind), name="kind"),
    CheckConstraint("size > 0", name="size"),
    Index("ix_media_game_created", "game_id", "created_at", "id"),
    Index("ix_media_uploading", "upload_expires_at", postgresql_where=text("status = 'uploading'")),
)

# Projection of developer.events: studios, team members and game ownership, for authorization.
studio_projection = StudioProjection.define(metadata)
