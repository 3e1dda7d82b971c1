"""The ledger's tables: posting an entry (its postings and the running balances, in the
caller's transaction), reading balances and entries, and the check that recomputes every
balance from the postings. Functions never commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from developer_portal.db.tables import SCHEMA, ledger_balances, ledger_entries, ledger_postings
from developer_portal.domain.ledger import JournalEntry
from gamekeys_platform.pagination import Page, keyset_page

# Entries, their postings and the running balances in one statement, however many entries (a
# round trip was most of what posting one cost, so a consumer posts a whole poll at once). An
# entry whose source posted before inserts nothing, and nothing of it reaches the postings or
# the balances. Each balance moves once, by the sum of the batch's postings to it, in account
# order, so two transactions touching the same accounts never deadlock.
_POST = text(
    f"""
    WITH entry AS (
        INSERT INTO {SCHEMA}.ledger_entries
            (entry_id, developer_id, game_id, kind, source_id, currency, memo, occurred_at)
        SELECT * FROM unnest(CAST(:entry_ids AS uuid[]), CAST(:developer_ids AS uuid[]),
            CAST(:game_ids AS uuid[]), CAST(:kinds AS text[]), CAST(:source_ids AS text[]),
            CAST(:currencies AS text[]), CAST(:memos AS jsonb[]), CAST(:occurred_ats AS timestamptz[]))
        ON CONFLICT (source_id) DO NOTHING
        RETURNING entry_id, currency
    ), moves AS (
        SELECT m.entry_id, m.account, m.amount, entry.currency
        FROM unnest(CAST(:posting_entry_ids AS uuid[]), CAST(:accounts AS text[]),
            CAST(:amounts AS numeric[])) AS m(entry_id, account, amount)
        JOIN entry USING (entry_id)
    ), postings AS (
        INSERT INTO {SCHEMA}.ledger_postings (entry_id, account, amount)
        SELECT entry_id, account, amount FROM moves
    ), balances AS (
        INSERT INTO {SCHEMA}.ledger_balances AS b (account, currency, balance)
        SELECT account, currency, sum(amount) FROM moves
        GROUP BY account, currency ORDER BY account, currency
        ON CONFLICT (account, currency)
        DO UPDATE SET balance = b.balance + EXCLUDED.balance, updated_at = now()
    )
    SELECT entry_id FROM entry
    """  # noqa: S608 - the schema is this module's constant; every value is bound
)


def post(session: Session, entries: Sequence[JournalEntry]) -> set[uuid.UUID]:
    """Write the entries, their postings and the balances they move; returns the ids of those
    written. An entry whose source posted before (a redelivered event, a retried request) is
    not written, and moves nothing."""
    if not entries:
        return set()
    postings = [
        (entry.entry_id, account, amount) for entry in entries for account, amount in entry.postings.items()
    ]
    rows = session.connection().execute(
        _POST,
        {
            "entry_ids": [entry.entry_id for entry in entries],
            "developer_ids": [entry.developer_id for entry in entries],
            "game_ids": [entry.game_id for entry in entries],
            "kinds": [entry.kind.value for entry in entries],
            "source_ids": [entry.source_id for entry in entries],
            "currencies": [entry.currency for entry in entries],
            "memos": [json.dumps(dict(entry.memo)) for entry in entries],
            "occurred_ats": [entry.occurred_at for entry in entries],
            "posting_entry_ids": [entry_id for entry_id, _account, _amount in postings],
            "accounts": [account for _entry_id, account, _amount in postings],
            "amounts": [amount for _entry_id, _account, amount in postings],
        },
    )
    return {row.entry_id for row in rows}


def posted_sources(session: Session, source_ids: Collection[str]) -> set[str]:
    """Which of these sources have an entry already."""
    return set(
        session.execute(
            select(ledger_entries.c.source_id).where(ledger_entries.c.source_id.in_(list(source_ids)))
        ).scalars()
    )


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
