"""The studios' double-entry ledger, as plain values.

Every movement of money is one ``JournalEntry``: two or more postings in one currency that sum
to zero. A posting's amount is what goes **into** its account (negative: what leaves it), so a
studio's balances are positive sums, and the accounts money comes from (the buyers' payments a
retailer or the store collected) go negative by exactly what was received. Hence, at any
moment and per currency:

    platform revenue + retailers' commission + studios (pending, available, in payout, paid out)
    + fees = what buyers paid, less what was refunded

Nothing is updated or deleted: a correction, a return or a reversal is a new entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from developer_portal.domain.money import minor_unit


class Bucket(StrEnum):
    """A studio's balances."""

    PENDING = "pending"  # credited, held until availableOn
    AVAILABLE = "available"  # may be paid out (negative after a chargeback: carried forward)
    IN_PAYOUT = "in_payout"  # requested, the Payment Service has not answered yet
    PAID_OUT = "paid_out"  # reached the studio


class EntryKind(StrEnum):
    SALE = "sale"  # a retailer's sale (distribution's sale.recorded)
    RETURN = "return"  # a retailer's return (sale.returned)
    REVENUE = "revenue"  # a store sale (the Payment Service's revenue.credited)
    REVERSAL = "reversal"  # a store refund or chargeback (revenue.reversed)
    RELEASE = "release"  # a hold passed: pending -> available
    PAYOUT = "payout"  # requested: available -> in payout
    PAYOUT_COMPLETED = "payout_completed"  # in payout -> paid out
    PAYOUT_FAILED = "payout_failed"  # in payout -> available
    ADJUSTMENT = "adjustment"  # a platform admin's correction, with a reason


def studio_account(developer_id: uuid.UUID, bucket: Bucket) -> str:
    return f"studio:{developer_id}:{bucket.value}"


def studio_accounts(developer_id: uuid.UUID) -> dict[Bucket, str]:
    return {bucket: studio_account(developer_id, bucket) for bucket in Bucket}


def retailer_sales_account(retailer_id: uuid.UUID) -> str:
    """What buyers paid a retailer for the studios' keys (negative: money that came in)."""
    return f"retailer:{retailer_id}:sales"


def retailer_commission_account(retailer_id: uuid.UUID) -> str:
    return f"retailer:{retailer_id}:commission"


STORE_SALES = "store:sales"  # what buyers paid the platform's store (the Payment Service)
STORE_FEES = "store:fees"  # chargeback fees passed on to the studio, paid to the card networks
PLATFORM_REVENUE = "platform:revenue"
PLATFORM_ADJUSTMENTS = "platform:adjustments"  # the other side of an admin's correction


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True)
class JournalEntry:
    developer_id: uuid.UUID
    kind: EntryKind
    source_id: str  # the event, payout or request it records: unique, so nothing posts twice
    currency: str
    postings: Mapping[str, Decimal]  # account -> amount into it
    occurred_at: datetime
    game_id: uuid.UUID | None = None
    memo: Mapping[str, Any] = field(default_factory=dict)
    entry_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        unit = minor_unit(self.currency)
        postings = {account: amount for account, amount in self.postings.items() if amount != 0}
        if len(postings) < 2:
            raise UnbalancedEntry(
                f"{self.kind} {self.source_id}: an entry moves money between two accounts or more"
            )
        if sum(postings.values(), Decimal(0)) != 0:
            raise UnbalancedEntry(
                f"{self.kind} {self.source_id}: postings sum to {sum(postings.values())}, not 0"
            )
        if any(amount != amount.quantize(unit) for amount in postings.values()):
            raise UnbalancedEntry(
                f"{self.kind} {self.source_id}: an amount is finer than {self.currency}'s {unit}"
            )
        object.__setattr__(self, "postings", postings)

    def studio_change(self) -> dict[Bucket, Decimal]:
        """What the entry does to the studio's balances (only those it touches)."""
        accounts = studio_accounts(self.developer_id)
        return {
            bucket: self.postings[account] for bucket, account in accounts.items() if account in self.postings
        }


def move(
    developer_id: uuid.UUID,
    kind: EntryKind,
    source_id: str,
    amount: Decimal,
    currency: str,
    *,
    source: str,
    to: str,
    occurred_at: datetime,
    memo: Mapping[str, Any] | None = None,
    game_id: uuid.UUID | None = None,
) -> JournalEntry:
    """An entry of two postings: ``amount`` leaves ``source`` and goes into ``to``."""
    return JournalEntry(
        developer_id,
        kind,
        source_id,
        currency,
        {source: -amount, to: amount},
        occurred_at,
        game_id=game_id,
        memo=memo or {},
    )
