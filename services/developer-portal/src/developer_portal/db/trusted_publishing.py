"""Queries of trusted publishers and the upload tokens exchanged for CI identity tokens.
Functions take the caller's session and never commit (``delete_spent_upload_tokens`` aside,
which the worker runs in batches)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.orm import Session

from developer_portal.db.tables import trusted_publishers, upload_tokens
from gamekeys_platform.db import delete_in_batches
from gamekeys_platform.pagination import Page, keyset_page


def insert_publisher(session: Session, **values: Any) -> Row:
    return session.execute(insert(trusted_publishers).values(**values).returning(trusted_publishers)).one()


def get_publisher(session: Session, publisher_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(trusted_publishers).where(trusted_publishers.c.publisher_id == publisher_id)
    ).first()


def delete_publisher(session: Session, publisher_id: uuid.UUID) -> None:
    """The publisher and, by the foreign key's cascade, its outstanding upload tokens."""
    session.execute(delete(trusted_publishers).where(trusted_publishers.c.publisher_id == publisher_id))


def list_publishers(
    session: Session, developer_id: uuid.UUID, *, after: Sequence[Any] | None, limit: int
) -> Page:
    query = select(trusted_publishers).where(trusted_publishers.c.developer_id == developer_id)
    order = [trusted_publishers.c.created_at, trusted_publishers.c.publisher_id]
    return keyset_page(session, query, order, after, limit, descending=True)


def publishers_of_issuer(session: Session, issuer: str) -> list[Row]:
    return list(
        session.execute(
            select(trusted_publishers)
            .where(trusted_publishers.c.issuer == issuer)
            .order_by(trusted_publishers.c.created_at, trusted_publishers.c.publisher_id)
        )
    )


def insert_upload_token(session: Session, **values: Any) -> Row:
    return session.execute(insert(upload_tokens).values(**values).returning(upload_tokens)).one()


def find_upload_token(session: Session, token_hash: str) -> Row | None:
    return session.execute(select(upload_tokens).where(upload_tokens.c.token_hash == token_hash)).first()


def delete_spent_upload_tokens(session: Session, now: datetime) -> int:
    return delete_in_batches(session, upload_tokens, upload_tokens.c.keep_until < now)
