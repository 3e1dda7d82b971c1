"""Finance's own tables beside the ledger: what each credited sale has left (revenue lines),
the games' share counters, revenue-share schedules, parked reversals, payouts and payout
settings. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from developer_portal.db.tables import (
    SCHEMA,
    parked_reversals,
    payout_settings,
    payouts,
    revenue_lines,
    revenue_share_counters,
    revenue_share_schedules,
)
from developer_portal.domain.revenue import Credit, Line, ShareCounter, Tier
from gamekeys_platform.pagination import Page, keyset_page

# --- revenue lines --------------------------------------------------------------------------


def _line(row: Row) -> Line:
    credit = Credit(
        key=row.line_key,
        developer_id=row.developer_id,
        game_id=row.game_id,
        currency=row.currency,
        source_account=row.source_account,
        gross=row.gross,
        commission=row.commission,
        commission_account=row.commission_account,
        quantity=row.quantity,
    )
    return Line(
        credit,
        row.gross,
        row.commission,
        row.platform,
        row.studio,
        row.platform_exact,
        row.quantity,
        row.released_at is not None,
    )


def line_for_update(session: Session, line_key: str) -> Line | None:
    row = session.execute(
        select(revenue_lines).where(revenue_lines.c.line_key == line_key).with_for_update()
    ).first()
    return None if row is None else _line(row)


def update_line(session: Session, line: Line) -> None:
    session.execute(
        update(revenue_lines)
        .where(revenue_lines.c.line_key == line.credit.key)
        .values(
            gross=line.gross,
            commission=line.commission,
            platform=line.platform,
            studio=line.studio,
            platform_exact=line.platform_exact,
            quantity=line.quantity,
        )
    )


def due_lines(session: Session, now: datetime, limit: int) -> list[Line]:
    """Lines whose hold has passed and that are not released yet, locked; skips the ones another
    worker holds, so two workers never release the same line."""
    rows = session.execute(
        select(revenue_lines)
        .where(revenue_lines.c.released_at.is_(None), revenue_lines.c.available_on <= now)
        .order_by(revenue_lines.c.available_on)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [_line(row) for row in rows]


def mark_released(session: Session, line_key: str) -> None:
    session.execute(
        update(revenue_lines).where(revenue_lines.c.line_key == line_key).values(released_at=func.now())
    )


def pending_lines(session: Session, developer_id: uuid.UUID, limit: int = 100) -> list[Row]:
    """The studio's held revenue, soonest first: what is pending, for which game, until when."""
    return session.execute(
        select(
            revenue_lines.c.game_id,
            revenue_lines.c.currency,
            revenue_lines.c.studio,
            revenue_lines.c.available_on,
        )
        .where(
            revenue_lines.c.developer_id == developer_id,
            revenue_lines.c.released_at.is_(None),
            revenue_lines.c.studio != 0,
        )
        .order_by(revenue_lines.c.available_on)
        .limit(limit)
    ).all()


# --- revenue share --------------------------------------------------------------------------


_new_counter = insert(revenue_share_counters).values(
    game_id=bindparam("game_id"),
    currency=bindparam("currency"),
    lifetime_gross=0,
    platform_exact=0,
    platform_posted=0,
)
# Built once: constructing the statement cost as much as running it. The no-op update makes the
# row come back locked whether it was new or not.
_LOCK_COUNTER = _new_counter.on_conflict_do_update(
    index_elements=[revenue_share_counters.c.game_id, revenue_share_counters.c.currency],
    set_={"game_id": _new_counter.excluded.game_id},
).returning(
    revenue_share_counters,
    select(revenue_share_schedules.c.tiers)
    .where(revenue_share_schedules.c.developer_id == bindparam("developer_id"))
    .scalar_subquery()
    .label("tiers"),
)


def counter_for_update(
    session: Session, game_id: uuid.UUID, currency: str, developer_id: uuid.UUID | None = None
) -> tuple[ShareCounter, tuple[Tier, ...] | None]:
    """The game's counter in ``currency`` (created at zero), locked for the transaction, and, with
    ``developer_id``, the studio's own revenue-share tiers (None: the default), in one statement."""
    row = (
        session.connection()
        .execute(_LOCK_COUNTER, {"game_id": game_id, "currency": currency, "developer_id": developer_id})
        .one()
    )
    return ShareCounter(row.lifetime_gross, row.platform_exact, row.platform_posted), _tiers(row.tiers)


# A credited sale's line and its game's counter written, and the reversals that waited for it
# taken, in one statement (a round trip was most of what a statement cost).
_RECORD_CREDIT = text(
    f"""
    WITH line AS (
        INSERT INTO {SCHEMA}.revenue_lines (line_key, developer_id, game_id, currency, source_account,
            commission_account, gross, commission, platform, studio, platform_exact, quantity, entry_id,
            available_on)
        VALUES (:line_key, :developer_id, :game_id, :currency, :source_account, :commission_account, :gross,
            :commission, :platform, :studio, :platform_exact, :quantity, :entry_id, :available_on)
    ), counter AS (
        UPDATE {SCHEMA}.revenue_share_counters
        SET lifetime_gross = :lifetime_gross, platform_exact = :counter_exact,
            platform_posted = :counter_posted
        WHERE game_id = :game_id AND currency = :currency
    )
    DELETE FROM {SCHEMA}.parked_reversals WHERE line_key = :line_key RETURNING source_id, event
    """  # noqa: S608 - the schema is this module's constant; every value is bound
)


def record_credit(
    session: Session, line: Line, counter: ShareCounter, *, entry_id: uuid.UUID, available_on: datetime
) -> list[Row]:
    """Write a credited sale's line and its game's counter; returns the reversals parked for it."""
    credit = line.credit
    return (
        session.connection()
        .execute(
            _RECORD_CREDIT,
            {
                "line_key": credit.key,
                "developer_id": credit.developer_id,
                "game_id": credit.game_id,
                "currency": credit.currency,
                "source_account": credit.source_account,
                "commission_account": credit.commission_account,
                "gross": line.gross,
                "commission": line.commission,
                "platform": line.platform,
                "studio": line.studio,
                "platform_exact": line.platform_exact,
                "quantity": line.quantity,
                "entry_id": entry_id,
                "available_on": available_on,
                "lifetime_gross": counter.lifetime_gross,
                "counter_exact": counter.exact,
                "counter_posted": counter.posted,
            },
        )
        .all()
    )


def save_counter(session: Session, game_id: uuid.UUID, currency: str, counter: ShareCounter) -> None:
    session.execute(
        update(revenue_share_counters)
        .where(revenue_share_counters.c.game_id == game_id, revenue_share_counters.c.currency == currency)
        .values(
            lifetime_gross=counter.lifetime_gross,
            platform_exact=counter.exact,
            platform_posted=counter.posted,
        )
    )


def get_tiers(session: Session, developer_id: uuid.UUID) -> tuple[Tier, ...] | None:
    return _tiers(
        session.execute(
            select(revenue_share_schedules.c.tiers).where(
                revenue_share_schedules.c.developer_id == developer_id
            )
        ).scalar_one_or_none()
    )


def _tiers(document: list[dict] | None) -> tuple[Tier, ...] | None:
    if document is None:
        return None
    return tuple(
        Tier(None if t["upTo"] is None else Decimal(t["upTo"]), Decimal(t["rate"])) for t in document
    )


def set_tiers(session: Session, developer_id: uuid.UUID, tiers: Sequence[Tier], updated_by: str) -> None:
    values = {"tiers": [t.as_dict() for t in tiers], "updated_by": updated_by}
    statement = insert(revenue_share_schedules).values(developer_id=developer_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[revenue_share_schedules.c.developer_id], set_={**values, "updated_at": func.now()}
        )
    )


# --- reversals that came before their sale --------------------------------------------------


def park(session: Session, source_id: str, line_key: str, event: dict[str, Any]) -> None:
    session.execute(
        insert(parked_reversals)
        .values(source_id=source_id, line_key=line_key, event=event)
        .on_conflict_do_nothing()
    )


# --- payouts --------------------------------------------------------------------------------


def insert_payout(session: Session, **values: Any) -> Row:
    return session.execute(insert(payouts).values(**values).returning(payouts)).one()


def get_payout(session: Session, payout_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    query = select(payouts).where(payouts.c.payout_id == payout_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def scheduled_payout_exists(session: Session, developer_id: uuid.UUID, scheduled_for: str) -> bool:
    return (
        session.execute(
            select(payouts.c.payout_id).where(
                payouts.c.developer_id == developer_id, payouts.c.scheduled_for == scheduled_for
            )
        ).first()
        is not None
    )


def settle_payout(session: Session, payout_id: uuid.UUID, **values: Any) -> Row:
    return session.execute(
        update(payouts).where(payouts.c.payout_id == payout_id).values(**values).returning(payouts)
    ).one()


def list_payouts(
    session: Session, developer_id: uuid.UUID, *, status: str | None, after: Sequence[Any] | None, limit: int
) -> Page:
    query = select(payouts).where(payouts.c.developer_id == developer_id)
    if status is not None:
        query = query.where(payouts.c.status == status)
    return keyset_page(
        session, query, [payouts.c.requested_at, payouts.c.payout_id], after, limit, descending=True
    )


def get_settings(session: Session, developer_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(payout_settings).where(payout_settings.c.developer_id == developer_id)
    ).first()


def upsert_settings(session: Session, developer_id: uuid.UUID, **values: Any) -> Row:
    statement = insert(payout_settings).values(developer_id=developer_id, **values)
    return session.execute(
        statement.on_conflict_do_update(
            index_elements=[payout_settings.c.developer_id], set_={**values, "updated_at": func.now()}
        ).returning(payout_settings)
    ).one()


def studios_with_schedule(session: Session, schedule: str) -> list[Row]:
    return session.execute(
        select(payout_settings.c.developer_id).where(payout_settings.c.schedule == schedule)
    ).all()
