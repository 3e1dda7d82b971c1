"""Support look-ups by the platform's Admin Service: every search its support tooling makes on a
service's internal API names the platform admin (or support agent) it is made for and why, and
is recorded with what was asked and how much was shown, in the service's own schema.

A service defines the log with ``SupportLog.define(metadata)`` (one table, ``support_access_log``;
its migration creates it with ``create_table``), takes ``SupportQuerySchema`` into its query
schemas, and records each look-up with ``record`` in the request's transaction, so a look-up
that fails leaves nothing and one that answers is always logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

SCOPE_SUPPORT_READ = "support:read"
MAX_ADMIN_ID_LENGTH = 200
MAX_REASON_LENGTH = 500


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("must not be blank")


class SupportQuerySchema(ma.Schema):
    """Who the look-up is for and why: required on every support search."""

    adminId = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(1, MAX_ADMIN_ID_LENGTH), _not_blank],
        metadata={"description": "the platform admin or support agent the look-up is made for"},
    )
    reason = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(1, MAX_REASON_LENGTH), _not_blank],
        metadata={"description": "why (a ticket, a case): kept in the service's support access log"},
    )


@dataclass(frozen=True)
class SupportLog:
    table: Table

    @classmethod
    def define(cls, metadata: MetaData) -> SupportLog:
        return cls(
            Table(
                "support_access_log",
                metadata,
                Column("id", BigInteger, Identity(), primary_key=True),
                Column("admin_id", String(MAX_ADMIN_ID_LENGTH), nullable=False),
                Column("reason", String(MAX_REASON_LENGTH), nullable=False),
                Column("caller", String(200), nullable=False),  # the calling service's token subject
                Column("action", String(64), nullable=False),
                Column("query", JSONB, nullable=False),
                Column("result_count", Integer, nullable=False),
                Column("request_id", String(128)),
                Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
                Index("ix_support_access_log_admin_id_occurred_at", "admin_id", "occurred_at"),
            )
        )

    def record(
        self,
        session: Session,
        *,
        admin_id: str,
        reason: str,
        caller: str,
        action: str,
        query: dict[str, Any],
        result_count: int,
        request_id: str | None,
    ) -> None:
        """One look-up: ``query`` is what was asked (ids, filters; JSON-safe), never a secret."""
        session.execute(
            insert(self.table).values(
                admin_id=admin_id,
                reason=reason,
                caller=caller,
                action=action,
                query=query,
                result_count=result_count,
                request_id=request_id,
            )
        )

    def entries(self, session: Session, *, admin_id: str | None = None, limit: int = 100) -> list[Any]:
        """The latest look-ups, newest first (optionally of one admin)."""
        query = select(self.table).order_by(self.table.c.id.desc()).limit(limit)
        if admin_id is not None:
            query = query.where(self.table.c.admin_id == admin_id)
        return list(session.execute(query))
