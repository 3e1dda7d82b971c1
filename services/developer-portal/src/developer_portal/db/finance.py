"""Finance's own tables beside the ledger: what each credited sale has left (revenue lines),
the games' share counters, revenue-share schedules, parked reversals, payouts and payout
settings. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select, text, update
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


# Every counter of a batch of sales created at zero if new and locked, in (game, currency)
# order, so two transactions crediting the same games never deadlock. The no-op update makes a
# row come back locked whether it was new or not.
_LOCK_COUNTERS = text(
    f"""
    INSERT INTO {SCHEMA}.revenue_share_counters AS c
        (game_id, currency, lifetime_gross, platform_exact, platform_posted)
    SELECT game_id, currency, 0, 0, 0
    FROM unnest(CAST(:game_ids AS uuid[]), CAST(:currencies AS text[])) AS k(game_id, currency)
    ORDER BY game_id, currency
    ON CONFLICT (game_id, currency) DO UPDATE SET game_id = EXCLUDED.game_id
    RETURNING game_id, currency, lifetime_gross, platform_exact, platform_posted
    """  # noqa: S608 - the schema is this module's constant; every value is bound
)


def counters_for_update(
    session: Session, keys: Collection[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], ShareCounter]:
    """(game, currency) -> the game's counter in that currency (created at zero), each locked
    for the transaction."""
    ordered = sorted(set(keys))
    rows = session.connection().execute(
        _LOCK_COUNTERS,
        {"game_ids": [game for game, _currency in ordered], "currencies": [c for _game, c in ordered]},
    )
    return {
        (row.game_id, row.currency): ShareCounter(row.lifetime_gross, row.platform_exact, row.platform_posted)
        for row in rows
    }


# Credited sales' lines and their games' counters written, and the reversals that waited for
# them taken, in one statement however many sales.
_RECORD_CREDITS = text(
    f"""
    WITH line AS (
        INSERT INTO {SCHEMA}.revenue_lines (line_key, developer_id, game_id, currency, source_account,
            commission_account, gross, commission, platform, studio, platform_exact, quantity, entry_id,
            available_on)
        SELECT * FROM unnest(CAST(:line_keys AS text[]), CAST(:developer_ids AS uuid[]),
            CAST(:game_ids AS uuid[]), CAST(:currencies AS text[]), CAST(:source_accounts AS text[]),
            CAST(:commission_accounts AS text[]), CAST(:grosses AS numeric[]),
            CAST(:commissions AS numeric[]), CAST(:platforms AS numeric[]), CAST(:studios AS numeric[]),
            CAST(:platform_exacts AS numeric[]), CAST(:quantities AS integer[]),
            CAST(:entry_ids AS uuid[]), CAST(:available_ons AS timestamptz[]))
    ), counter AS (
        UPDATE {SCHEMA}.revenue_share_counters AS c
        SET lifetime_gross = v.lifetime_gross, platform_exact = v.platform_exact,
            platform_posted = v.platform_posted
        FROM unnest(CAST(:counter_games AS uuid[]), CAST(:counter_currencies AS text[]),
            CAST(:counter_grosses AS numeric[]), CAST(:counter_exacts AS numeric[]),
            CAST(:counter_posteds AS numeric[]))
            AS v(game_id, currency, lifetime_gross, platform_exact, platform_posted)
        WHERE c.game_id = v.game_id AND c.currency = v.currency
    )
    DELETE FROM {SCHEMA}.parked_reversals WHERE line_key = ANY(CAST(:line_keys AS text[]))
    RETURNING source_id, event
    """  # noqa: S608 - the schema is this module's constant; every value is bound
)


def record_credits(
    session: Session,
    lines: Sequence[tuple[Line, uuid.UUID, datetime]],
    counters: Mapping[tuple[uuid.UUID, str], ShareCounter],
) -> list[Row]:
    """Write credited sales' lines (each with its entry and the end of its hold) and the games'
    counters after them; returns the reversals parked for those lines."""
    credits = [line.credit for line, _entry_id, _available_on in lines]
    return (
        session.connection()
        .execute(
            _RECORD_CREDITS,
            {
                "line_keys": [credit.key for credit in credits],
                "developer_ids": [credit.developer_id for credit in credits],
                "game_ids": [credit.game_id for credit in credits],
                "currencies": [credit.currency for credit in credits],
                "source_accounts": [credit.source_account for credit in credits],
                "commission_accounts": [credit.commission_account for credit in credits],
                "grosses": [line.gross for line, _e, _a in lines],
                "commissions": [line.commission for line, _e, _a in lines],
                "platforms": [line.platform for line, _e, _a in lines],
                "studios": [line.studio for line, _e, _a in lines],
                "platform_exacts": [line.platform_exact for line, _e, _a in lines],
                "quantities": [line.quantity for line, _e, _a in lines],
                "entry_ids": [entry_id for _line, entry_id, _a in lines],
                "available_ons": [available_on for _line, _e, available_on in lines],
                "counter_games": [game for game, _currency in counters],
                "counter_currencies": [currency for _game, currency in counters],
                "counter_grosses": [counter.lifetime_gross for counter in counters.values()],
                "counter_exacts": [counter.exact for counter in counters.values()],
                "counter_posteds": [counter.posted for counter in counters.values()],
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


def tiers_of_studios(
    session: Session, developer_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[Tier, ...]]:
    """The studios' own revenue-share tiers, for those that have some (the default for the others)."""
    rows = session.execute(
        select(revenue_share_schedules.c.developer_id, revenue_share_schedules.c.tiers).where(
            revenue_share_schedules.c.developer_id.in_(list(developer_ids))
        )
    )
    return {row.developer_id: _tiers(row.tiers) for row in rows}


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
