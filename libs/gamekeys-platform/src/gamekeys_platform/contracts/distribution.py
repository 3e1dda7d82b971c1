"""distribution.events, written by distribution.

Consumed by analytics, finance (developer-portal: sales and returns) and the Notification
Service (low stock). One event per operation; no event carries a plaintext key or a client
secret.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from gamekeys_platform.contracts.base import (
    Actor,
    Contract,
    Country,
    DecimalString,
    EventData,
    KeyIds,
    Money,
    RegionRule,
    Text,
    Timestamp,
)

RetailerField = Literal[
    "name", "contactInfo", "commissionRate", "allowedGameIds", "allowedRegions", "status", "apiCredentials"
]


class DistributionEvent(EventData):
    SOURCE: ClassVar[str] = "distribution"


class _Retailer(DistributionEvent):
    SUBJECT: ClassVar[str] = "retailer_id"

    retailer_id: uuid.UUID
    name: Text
    status: Literal["active", "suspended", "terminated"]
    commission_rate: DecimalString = Field(description='the retailer\'s share, e.g. "0.1500"')
    allowed_game_ids: list[uuid.UUID]
    allowed_regions: list[Country]


class RetailerAdded(_Retailer):
    """A retailer was registered."""

    TYPE: ClassVar[str] = "retailer.added"

    created_by: Actor


class RetailerUpdated(_Retailer):
    """A retailer changed (the fields as they are now), or its credentials were rotated
    (``changedFields`` ``["apiCredentials"]``)."""

    TYPE: ClassVar[str] = "retailer.updated"

    changed_fields: list[RetailerField]
    previous_status: Text
    reason: Text | None
    updated_by: Actor


class AllocationCreated(DistributionEvent):
    """Keys were allocated to a retailer."""

    TYPE: ClassVar[str] = "allocation.created"
    SUBJECT: ClassVar[str] = "allocation_id"

    allocation_id: uuid.UUID
    retailer_id: uuid.UUID
    game_id: uuid.UUID
    key_type: Text
    quantity: int = Field(ge=1)
    pricing: Money = Field(description="suggested retail price of one key")
    restrictions: list[RegionRule]
    created_at: Timestamp


class AllocationReleased(DistributionEvent):
    """A platform admin took unsold keys back from an allocation (orphans never announced as
    created are released by key-manager's own ``allocation.released``)."""

    TYPE: ClassVar[str] = "allocation.released"
    SUBJECT: ClassVar[str] = "allocation_id"

    allocation_id: uuid.UUID
    retailer_id: uuid.UUID
    game_id: uuid.UUID
    quantity: int = Field(ge=1)
    released: int = Field(ge=0, description="unsold keys this release took back")
    released_total: int = Field(ge=0)
    status: Literal["generated", "revoked"] = Field(description="generated: back in the free pool")
    reason: Text
    released_by: Actor


class AllocationLowStock(DistributionEvent):
    """An allocation's unsold keys fell to a threshold (once each per allocation; a sale that
    jumps several signals only the deepest)."""

    TYPE: ClassVar[str] = "allocation.low_stock"
    SUBJECT: ClassVar[str] = "allocation_id"

    allocation_id: uuid.UUID
    retailer_id: uuid.UUID
    game_id: uuid.UUID
    quantity: int = Field(ge=1)
    unsold: int = Field(ge=0)
    threshold_percent: Literal[25, 10, 0]


class GameUnits(Contract):
    """How many keys of one game an order (or a return) counts."""

    game_id: uuid.UUID
    quantity: int = Field(ge=1)


class SaleRecorded(DistributionEvent):
    """A retailer sold keys (one order); ``net`` is what is left after the retailer's
    commission."""

    TYPE: ClassVar[str] = "sale.recorded"
    SUBJECT: ClassVar[str] = "sale_id"

    sale_id: uuid.UUID
    retailer_id: uuid.UUID
    order_id: Text
    key_ids: KeyIds
    quantity: int = Field(ge=1)
    unit_price: Money
    gross: Money
    commission: Money
    net: Money
    sold_at: Timestamp
    games: list[GameUnits] | None = Field(
        default=None, description="the keys per game, which finance credits to each game's studio"
    )


class SaleReturned(DistributionEvent):
    """A retailer returned keys of a sale; they are revoked in key-manager."""

    TYPE: ClassVar[str] = "sale.returned"
    SUBJECT: ClassVar[str] = "sale_id"

    return_id: uuid.UUID
    sale_id: uuid.UUID
    retailer_id: uuid.UUID
    order_id: Text
    key_ids: KeyIds
    quantity: int = Field(ge=1)
    reason: Text
    games: list[GameUnits] | None = Field(default=None, description="the returned keys per game")


class SaleChargedBack(DistributionEvent):
    """The payment of a retailer's order was charged back: its unredeemed keys are revoked, its
    redeemed ones disputed."""

    TYPE: ClassVar[str] = "sale.charged_back"
    SUBJECT: ClassVar[str] = "sale_id"

    chargeback_id: uuid.UUID
    sale_id: uuid.UUID
    retailer_id: uuid.UUID
    order_id: Text
    key_ids: KeyIds
    quantity: int = Field(ge=1)
    amount: Money = Field(description="what was charged back")
    revoked_key_ids: list[uuid.UUID] = Field(max_length=1000, description="revoked before activation")
    disputed_key_ids: list[uuid.UUID] = Field(max_length=1000, description="activated, now disputed")
    reason: Text
    charged_back_at: Timestamp
    games: list[GameUnits] | None = Field(default=None, description="the charged-back keys per game")


class StockRevoked(DistributionEvent):
    """A leaking channel's unsold stock was revoked: one event per allocation of the operation
    (a revocation of a retailer's whole stock emits one per allocation it touched)."""

    TYPE: ClassVar[str] = "stock.revoked"
    SUBJECT: ClassVar[str] = "allocation_id"

    request_id: Text = Field(description="the revocation's id; a retry emits nothing more")
    retailer_id: uuid.UUID
    allocation_id: uuid.UUID
    game_id: uuid.UUID
    revoked_keys: int = Field(ge=0, description="unsold keys of the allocation revoked now")
    left_sold: int = Field(ge=0, description="keys already sold (or held for review after a sale): left")
    left_activated: int = Field(ge=0, description="keys already activated: left")
    reason: Text
    revoked_by: Actor
    revoked_at: Timestamp
