"""Tables every service has in its own schema: outbox, inbox and idempotency keys.

``define_platform_tables`` adds them to a service's MetaData (``db.service_metadata`` does it
for every service), so Alembic autogenerate sees them and the runtime finds them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


@dataclass(frozen=True)
class PlatformTables:
    outbox: Table
    inbox: Table
    idempotency_keys: Table


def define_platform_tables(metadata: MetaData) -> PlatformTables:
    outbox = Table(
        "outbox",
        metadata,
        # The sequence gives the relay a stable order, so one aggregate's events leave in order.
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(128), nullable=False),
        Column("message_key", String(128), nullable=False),
        Column("event_type", String(128), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        Column("sent_at", DateTime(timezone=True)),
        Index("ix_outbox_pending", "seq", postgresql_where=text("sent_at IS NULL")),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(128), nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("event_type", String(128), nullable=False),
        Column("outcome", String(32), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(200), nullable=False),
        Column("key", String(255), nullable=False),
        Column("request_fingerprint", String(64), nullable=False),
        Column("response_status", Integer, nullable=False),
        Column("response_body", Text, nullable=False),
        Column("response_headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("scope", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )
    return PlatformTables(outbox=outbox, inbox=inbox, idempotency_keys=idempotency_keys)


def platform_tables(metadata: MetaData) -> PlatformTables:
    """The platform tables already defined in ``metadata``."""
    prefix = f"{metadata.schema}." if metadata.schema else ""
    return PlatformTables(
        outbox=metadata.tables[prefix + "outbox"],
        inbox=metadata.tables[prefix + "inbox"],
        idempotency_keys=metadata.tables[prefix + "idempotency_keys"],
    )
