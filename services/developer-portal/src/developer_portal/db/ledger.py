"""The ledger's tables: posting an entry (its postings and the running balances, in the
caller's transaction), reading balances and entries, and the check that recomputes every
balance from the postings. Functions never commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from developer_portal.db.tables import SCHEMA, ledger_balances, ledger_entries, ledger_postings
from developer_portal.domain.ledger import JournalEntry
from gamekeys_platform.pagination import Page, keyset_page

# The entry, its postings and the running balances in one statement (one round trip: most of a
# posting's cost was round trips). Balances are upserted in account order, so two entries
# touching the same accounts never deadlock.
_POST = text(
    f"""
    WITH entry AS (
        INSERT INTO {SCHEMA}.ledger_entries
            (entry_id, developer_id, game_id, kind, source_id, currency, memo, occurred_at)
        VALUES (:entry_id, :developer_id, :game_id, :kind, :source_id, :currency, CAST(:memo AS jsonb),
                :occurred_at)
        ON CONFLICT (source_id) DO NOTHING
        RETURNING entry_id
    ), moves AS (
        SELECT account, amount FROM unnest(CAST(:accounts AS text[]), CAST(:amounts AS numeric[]))
            AS m(account, amount)
    ), postings AS (
        INSERT INTO {SCHEMA}.ledger_postings (entry_id, account, amount)
        SELECT entry.entry_id, moves.account, moves.amount FROM entry, moves
    ), balances AS (
        INSERT INTO {SCHEMA}.ledger_balances AS b (account, currency, balance)
        SELECT moves.account, :currency, moves.amount FROM entry, moves ORDER BY moves.account
        ON CONFLICT (account, currency)
        DO UPDATE SET balance = b.balance + EXCLUDED.balance, updated_at = now()
    )
    SELECT entry_id FROM entry
    """  # noqa: S608 - the schema is this module's constant; every value is bound
)


def post(session: Session, entry: JournalEntry) -> bool:
    """Write the entry, its postings and the balances it moves; False (and nothing written) when
    an entry with its source was posted before: a redelivered event or a retried request."""
    accounts = sorted(entry.postings)
    inserted = (
        session.connection()
        .execute(
            _POST,
            {
                "entry_id": entry.entry_id,
                "developer_id": entry.developer_id,
                "game_id": entry.game_id,
                "kind": entry.kind.value,
                "source_id": entry.source_id,
                "currency": entry.currency,
                "memo": json.dumps(dict(entry.memo)),
                "occurred_at": entry.occurred_at,
                "accounts": accounts,
                "amounts": [entry.postings[a] for a in accounts],
            },
        )
        .first()
    )
    return inserted is not None


def balances(
    session: Session, accounts: Iterable[str], *, lock: bool = False
) -> dict[tuple[str, str], Decimal]:
    """(account, currency) -> balance of the accounts (absent: never posted to)."""
    query = select(ledger_balances.c.account, ledger_balances.c.currency, ledger_balances.c.balance).where(
        ledger_balances.c.account.in_(sorted(set(accounts)))
    )
    if lock:
        query = query.order_by(ledger_balances.c.account, ledger_balances.c.currency).with_for_update()
    return {(row.account, row.currency): row.balance for row in session.execute(query)}


def lock_balance(session: Session, account: str, currency: str) -> Decimal:
    """The account's balance, locked for the rest of the transaction (created at zero if new),
    so decisions on it (a payout) are taken one at a time."""
    session.execute(
        insert(ledger_balances)
        .values(account=account, currency=currency, balance=0)
        .on_conflict_do_nothing(index_elements=[ledger_balances.c.account, ledger_balances.c.currency])
    )
    return session.execute(
        select(ledger_balances.c.balance)
        .where(ledger_balances.c.account == account, ledger_balances.c.currency == currency)
        .with_for_update()
    ).scalar_one()


def entry_by_source(session: Session, source_id: str) -> Row | None:
    return session.execute(select(ledger_entries).where(ledger_entries.c.source_id == source_id)).first()


def postings_of(session: Session, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Decimal]]:
    result: dict[uuid.UUID, dict[str, Decimal]] = {entry_id: {} for entry_id in entry_ids}
    rows = session.execute(
        select(ledger_postings.c.entry_id, ledger_postings.c.account, ledger_postings.c.amount).where(
            ledger_postings.c.entry_id.in_(list(entry_ids))
        )
    )
    for row in rows:
        result[row.entry_id][row.account] = row.amount
    return result


def list_entries(
    session: Session,
    developer_id: uuid.UUID,
    *,
    kinds: Sequence[str] = (),
    game_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Sequence[Any] | None,
    limit: int,
) -> Page:
    """The studio's entries, newest first."""
    query = select(ledger_entries).where(ledger_entries.c.developer_id == developer_id)
    if kinds:
        query = query.where(ledger_entries.c.kind.in_(list(kinds)))
    if game_id is not None:
        query = query.where(ledger_entries.c.game_id == game_id)
    if since is not None:
        query = query.where(ledger_entries.c.occurred_at >= since)
    if until is not None:
        query = query.where(ledger_entries.c.occurred_at < until)
    return keyset_page(session, query, [ledger_entries.c.seq], after, limit, descending=True)


def unbalanced_entries(session: Session) -> list[Row]:
    """Entries whose postings do not sum to zero (the check expects none)."""
    return session.execute(
        select(ledger_postings.c.entry_id, func.sum(ledger_postings.c.amount).label("total"))
        .group_by(ledger_postings.c.entry_id)
        .having(func.sum(ledger_postings.c.amount) != 0)
    ).all()


def drifted_balances(session: Session) -> list[Row]:
    """Running balances that differ from the sum of their postings (the check expects none)."""
    sums = (
        select(
            ledger_postings.c.account,
            ledger_entries.c.currency,
            func.sum(ledger_postings.c.amount).label("total"),
        )
        .join(ledger_entries, ledger_entries.c.entry_id == ledger_postings.c.entry_id)
        .group_by(ledger_postings.c.account, ledger_entries.c.currency)
        .subquery()
    )
    return session.execute(
        select(ledger_balances.c.account, ledger_balances.c.currency, ledger_balances.c.balance, sums.c.total)
        .outerjoin(
            sums,
            (sums.c.account == ledger_balances.c.account) & (sums.c.currency == ledger_balances.c.currency),
        )
        .where(func.coalesce(sums.c.total, 0) != ledger_balances.c.balance)
    ).all()
