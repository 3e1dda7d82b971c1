"""payments.events, written by the platform's Payment Service (not this project's; in
development a local stand-in publishes them).

Consumed by developer-portal's finance (the ledger) and analytics. Amounts are the studio's
share in the currency of the sale; ``revenueId`` is unique per credit and names it in a
reversal.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from gamekeys_platform.contracts.base import EventData, Money, Text, Timestamp


class PaymentsEvent(EventData):
    SOURCE: ClassVar[str] = "payment-service"


class RevenueCredited(PaymentsEvent):
    """A store sale of a studio's game."""

    TYPE: ClassVar[str] = "revenue.credited"
    SUBJECT: ClassVar[str] = "revenue_id"

    revenue_id: uuid.UUID
    developer_id: uuid.UUID
    game_id: uuid.UUID
    order_id: Text
    gross: Money = Field(description="what the buyer paid, before the platform's share")
    occurred_at: Timestamp


class RevenueReversed(PaymentsEvent):
    """A credited sale was refunded or charged back: taken back from the studio."""

    TYPE: ClassVar[str] = "revenue.reversed"
    SUBJECT: ClassVar[str] = "revenue_id"

    reversal_id: uuid.UUID
    revenue_id: uuid.UUID
    developer_id: uuid.UUID
    game_id: uuid.UUID
    order_id: Text
    kind: Literal["refund", "chargeback"]
    gross: Money = Field(description="the part of the sale reversed")
    fee: Money | None = Field(default=None, description="a chargeback fee, when the studio bears one")
    occurred_at: Timestamp


class PayoutCompleted(PaymentsEvent):
    """A requested payout reached the studio."""

    TYPE: ClassVar[str] = "payout.completed"
    SUBJECT: ClassVar[str] = "payout_id"

    payout_id: uuid.UUID
    developer_id: uuid.UUID
    amount: Money
    reference: Text | None = Field(description="the payment provider's reference")
    completed_at: Timestamp


class PayoutFailed(PaymentsEvent):
    """A requested payout could not be made; finance returns the amount to the balance."""

    TYPE: ClassVar[str] = "payout.failed"
    SUBJECT: ClassVar[str] = "payout_id"

    payout_id: uuid.UUID
    developer_id: uuid.UUID
    amount: Money
    reason: Text
    failed_at: Timestamp
