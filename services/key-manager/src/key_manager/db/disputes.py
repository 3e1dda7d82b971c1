"""Disputes of activated keys (``key_disputes``): a chargeback of a retailer's order or a refund
of a store order after the key was redeemed. The key stays activated; its activation is
disputed. Nothing here commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from key_manager.db.tables import key_disputes


def add_disputes(
    session: Session,
    keys: Iterable[Row],
    *,
    source: str,
    reference: str,
    retailer_id: uuid.UUID | None,
    order_id: str | None,
    reason: str,
    actor: str,
) -> list[Row]:
    """One dispute per activated key (``keys``: their rows); a key disputed before keeps its
    first dispute. The new disputes."""
    rows = [
        {
            "key_id": key.id,
            "activation_id": key.activation_id,
            "activated_by": key.activated_by,
            "source": source,
            "reference": reference,
            "retailer_id": retailer_id,
            "order_id": order_id,
            "reason": reason[:500],
            "created_by": actor,
        }
        for key in keys
    ]
    if not rows:
        return []
    return list(
        session.execute(
            pg_insert(key_disputes).values(rows).on_conflict_do_nothing().returning(*key_disputes.c)
        )
    )


def disputes_of(session: Session, key_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Row]:
    ids = list(key_ids)
    if not ids:
        return {}
    return {
        row.key_id: row for row in session.execute(select(key_disputes).where(key_disputes.c.key_id.in_(ids)))
    }
