"""Posting an entry with its ledger.entry_posted event, and the ledger as a studio reads it:
balances per currency and entries with what each did to its balances."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from developer_portal.context import PortalState
from developer_portal.db import ledger
from developer_portal.domain import payouts as rules
from developer_portal.domain.ledger import (
    Bucket,
    JournalEntry,
    studio_accounts,
)
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.currencies import format_amount
from gamekeys_platform.errors import format_timestamp


def post(portal: PortalState, session: Session, entry: JournalEntry) -> bool:
    """Post the entry with its ledger.entry_posted event; False when its source posted before."""
    return bool(post_all(portal, session, [entry]))


def post_all(portal: PortalState, session: Session, entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """Post the entries with their ledger.entry_posted events, a few statements for them all;
    returns those posted (not those whose source posted before)."""
    written = ledger.post(session, entries)
    posted = [entry for entry in entries if entry.entry_id in written]
    portal.outbox.add_all(session, [_entry_posted(entry) for entry in posted])
    return posted


def _entry_posted(entry: JournalEntry) -> events.LedgerEntryPosted:
    return events.LedgerEntryPosted(
        entry_id=entry.entry_id,
        developer_id=entry.developer_id,
        kind=entry.kind.value,
        source_id=entry.source_id,
        postings=[
            events.Posting(account=account, amount=Money(amount=amount, currency=entry.currency))
            for account, amount in entry.postings.items()
        ],
        posted_at=datetime.now(UTC),
    )


def balances(session: Session, developer_id: uuid.UUID) -> dict[str, dict[Bucket, Decimal]]:
    """currency -> bucket -> amount, for every currency the studio has had money in."""
    accounts = studio_accounts(developer_id)
    bucket_of = {account: bucket for bucket, account in accounts.items()}
    result: dict[str, dict[Bucket, Decimal]] = {}
    for (account, currency), amount in ledger.balances(session, accounts.values()).items():
        result.setdefault(currency, dict.fromkeys(Bucket, Decimal(0)))[bucket_of[account]] = amount
    return dict(sorted(result.items()))


def balance_document(session: Session, developer_id: uuid.UUID) -> dict[str, Any]:
    items = []
    for currency, amounts in balances(session, developer_id).items():
        items.append(
            {
                "currency": currency,
                "available": format_amount(amounts[Bucket.AVAILABLE], currency),
                "pending": format_amount(amounts[Bucket.PENDING], currency),
                "inPayout": format_amount(amounts[Bucket.IN_PAYOUT], currency),
                "paidOut": format_amount(amounts[Bucket.PAID_OUT], currency),
                "negative": amounts[Bucket.AVAILABLE] < 0,
            }
        )
    return {"balances": items, "negativeBalancePolicy": rules.NEGATIVE_BALANCE_POLICY}


def entry_documents(session: Session, developer_id: uuid.UUID, rows: list[Row]) -> list[dict[str, Any]]:
    """Entries as the studio sees them: the change to each of its balances and its total."""
    postings = ledger.postings_of(session, [row.entry_id for row in rows])
    accounts = studio_accounts(developer_id)
    documents = []
    for row in rows:
        change = {
            bucket: postings[row.entry_id].get(account, Decimal(0)) for bucket, account in accounts.items()
        }
        documents.append(
            {
                "entryId": str(row.entry_id),
                "type": row.kind,
                "amount": {
                    "amount": format_amount(sum(change.values(), Decimal(0)), row.currency),
                    "currency": row.currency,
                },
                "balances": {
                    "available": format_amount(change[Bucket.AVAILABLE], row.currency),
                    "pending": format_amount(change[Bucket.PENDING], row.currency),
                    "inPayout": format_amount(change[Bucket.IN_PAYOUT], row.currency),
                    "paidOut": format_amount(change[Bucket.PAID_OUT], row.currency),
                },
                "gameId": None if row.game_id is None else str(row.game_id),
                "source": row.source_id,
                "details": row.memo,
                "occurredAt": format_timestamp(row.occurred_at),
                "postedAt": format_timestamp(row.posted_at),
            }
        )
    return documents
