"""keys.events, written by key-manager.

Consumed by antifraud (velocity), distribution (activation counts) and analytics. Bulk
operations (a batch, an allocation, a sale, a return, an expiry) emit one event for the whole
operation, never one per key; no event carries a plaintext key (ids and masked data only).
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from gamekeys_platform.contracts.base import (
    Actor,
    Contract,
    Country,
    EventData,
    KeyIds,
    RegionRule,
    Text,
    Timestamp,
    UserId,
)

KeyStatus = Literal["generated", "allocated", "sold", "activated", "revoked", "expired", "pending_review"]


class KeysEvent(EventData):
    SOURCE: ClassVar[str] = "key-manager"


class _Batch(KeysEvent):
    SUBJECT: ClassVar[str] = "batch_id"

    batch_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID


class BatchGenerated(_Batch):
    """A batch's keys exist (synchronously for POST /generate, else when the worker is done)."""

    TYPE: ClassVar[str] = "batch.generated"

    key_type: Text
    quantity: int = Field(ge=0, description="keys generated")
    regional_restrictions: list[RegionRule]
    expires_at: Timestamp | None
    synchronous: bool = Field(description="true for POST /generate")
    generated_at: Timestamp | None
    created_by: Actor


class BatchFailed(_Batch):
    """Generation failed; no keys were kept."""

    TYPE: ClassVar[str] = "batch.failed"

    key_type: Text
    quantity: int = Field(ge=0, description="keys asked for")
    reason: Text | None


class BatchCancelled(_Batch):
    """A pending or generating batch was cancelled; no keys were kept."""

    TYPE: ClassVar[str] = "batch.cancelled"

    key_type: Text
    quantity: int = Field(ge=0)
    previous_status: Literal["pending", "generating"]
    reason: Text | None
    cancelled_by: Actor | None
    cancelled_at: Timestamp | None


class BatchRevoked(_Batch):
    """Every key of the batch that could still be revoked was."""

    TYPE: ClassVar[str] = "batch.revoked"

    revoked_keys: int = Field(ge=0, description="how many keys changed")
    reason: Text
    revoked_by: Actor


class BatchExpired(_Batch):
    """The expiry job expired the batch's unactivated keys."""

    TYPE: ClassVar[str] = "batch.expired"

    expired_keys: int = Field(ge=0)
    expires_at: Timestamp | None


class BatchShare(Contract):
    """How many of an operation's keys came from one batch."""

    batch_id: uuid.UUID
    quantity: int = Field(ge=1)


# A bulk event names its keys' batches so that a batch's figures count keys no later event
# names (sold and never redeemed, say); null in events written before the field existed.
_BATCH_IDS_DESCRIPTION = "each key's batch, in the order of keyIds (null in events written before this field)"


def _check_batch_ids(key_ids: list[uuid.UUID], batch_ids: list[uuid.UUID] | None) -> None:
    if batch_ids is not None and len(batch_ids) != len(key_ids):
        raise ValueError("batchIds must name one batch for each of keyIds")


class KeyAllocated(KeysEvent):
    """Free keys were allocated to a retailer (the keys: internal
    ``GET /internal/v1/keys/allocations/{id}/keys``)."""

    TYPE: ClassVar[str] = "key.allocated"
    SUBJECT: ClassVar[str] = "allocation_id"

    allocation_id: uuid.UUID
    retailer_id: uuid.UUID
    game_id: uuid.UUID
    key_type: Text
    quantity: int = Field(ge=1)
    allocated_at: Timestamp | None
    batches: list[BatchShare] | None = Field(
        default=None,
        description="how many of the keys each batch gave, oldest batch first (null in events "
        "written before this field)",
    )


class AllocationReleased(KeysEvent):
    """Unsold keys left an allocation (back to the free pool, or revoked)."""

    TYPE: ClassVar[str] = "allocation.released"
    SUBJECT: ClassVar[str] = "allocation_id"

    allocation_id: uuid.UUID
    retailer_id: uuid.UUID
    game_id: uuid.UUID
    key_type: Text
    released: int = Field(ge=0, description="how many unsold keys left the allocation")
    status: Literal["generated", "revoked"] = Field(description="generated: back in the free pool")
    reason: Text
    released_by: Actor
    request_id: Text | None = Field(
        default=None, description="the revocation of a retailer's unsold stock this release is part of"
    )


class KeySold(KeysEvent):
    """Keys were sold: by a retailer's order (several keys, subject the order id), by the store
    to a buyer (``retailer_id`` null, ``buyer_id`` set, subject the store's order id), or one key
    marked sold by a person with ``PATCH /{keyId}/status`` (no order, subject the key id)."""

    TYPE: ClassVar[str] = "key.sold"

    retailer_id: uuid.UUID | None
    order_id: Text | None = Field(
        description="the retailer's or the store's order, or null for a manual sale"
    )
    buyer_id: UserId | None = Field(default=None, description="the store's buyer, for a store order")
    key_ids: KeyIds
    batch_ids: list[uuid.UUID] | None = Field(default=None, description=_BATCH_IDS_DESCRIPTION)
    quantity: int = Field(ge=1)
    sold_at: Timestamp | None
    sold_by: Actor | None = Field(default=None, description="the person, for a manual sale")
    reason: Text | None = Field(default=None, description="the person's reason, for a manual sale")

    @model_validator(mode="after")
    def _one_batch_per_key(self) -> KeySold:
        _check_batch_ids(self.key_ids, self.batch_ids)
        return self

    @property
    def subject(self) -> str:
        """`orderId`, or the key id for a manual sale"""
        return self.order_id or str(self.key_ids[0])


class KeyReturned(KeysEvent):
    """A retailer returned sold keys; they are revoked."""

    TYPE: ClassVar[str] = "key.returned"
    SUBJECT: ClassVar[str] = "order_id"

    retailer_id: uuid.UUID
    order_id: Text
    key_ids: KeyIds
    batch_ids: list[uuid.UUID] | None = Field(default=None, description=_BATCH_IDS_DESCRIPTION)
    quantity: int = Field(ge=1)
    status: Literal["revoked"]
    reason: Text

    @model_validator(mode="after")
    def _one_batch_per_key(self) -> KeyReturned:
        _check_batch_ids(self.key_ids, self.batch_ids)
        return self


class KeysChargedBack(KeysEvent):
    """The payment of a retailer's order was charged back: its keys not yet redeemed are revoked,
    its activated ones stay activated and are disputed (each with a ``key.disputed``)."""

    TYPE: ClassVar[str] = "key.charged_back"
    SUBJECT: ClassVar[str] = "order_id"

    chargeback_id: uuid.UUID
    retailer_id: uuid.UUID
    order_id: Text
    revoked_key_ids: list[uuid.UUID] = Field(max_length=1000, description="revoked before activation")
    disputed_key_ids: list[uuid.UUID] = Field(max_length=1000, description="activated, now disputed")
    reason: Text
    charged_back_by: Actor


class _Key(KeysEvent):
    SUBJECT: ClassVar[str] = "key_id"

    key_id: uuid.UUID
    batch_id: uuid.UUID
    game_id: uuid.UUID


class KeyActivated(_Key):
    """A key was activated, exactly once, whichever way the activation came."""

    TYPE: ClassVar[str] = "key.activated"

    developer_id: uuid.UUID
    key_type: Text
    previous_status: KeyStatus
    user_id: UserId
    activation_id: Text
    region: Country | None = Field(description="the region the player claimed")
    retailer_id: uuid.UUID | None
    allocation_id: uuid.UUID | None
    activated_at: Timestamp | None


class KeyRevoked(_Key):
    """A person revoked one key (a batch's revocation is ``batch.revoked``)."""

    TYPE: ClassVar[str] = "key.revoked"

    developer_id: uuid.UUID
    key_type: Text
    previous_status: KeyStatus
    status: KeyStatus
    reason: Text | None
    changed_by: Actor
    changed_at: Timestamp | None
    retailer_id: uuid.UUID | None


class KeyExpired(KeyRevoked):
    """A person expired one key (the expiry job emits ``batch.expired``); as ``key.revoked``."""

    TYPE: ClassVar[str] = "key.expired"


class KeyHeld(_Key):
    """A key is held while an activation of it is under fraud review."""

    TYPE: ClassVar[str] = "key.held"

    hold_id: Text = Field(description="the pending activation's id")
    previous_status: KeyStatus
    reason: Text | None


class KeyReleased(_Key):
    """A hold ended without an activation; the key went back to ``status``."""

    TYPE: ClassVar[str] = "key.released"

    hold_id: Text
    status: KeyStatus


class _StoreOrder(KeysEvent):
    SUBJECT: ClassVar[str] = "order_id"

    order_id: Text = Field(description="the Payment Service's order id")
    game_id: uuid.UUID
    key_type: Text
    buyer_id: UserId


class StoreOrderRefunded(_StoreOrder):
    """A store order was refunded (the first time; a repeated refund emits nothing): its keys not
    yet redeemed were revoked, the redeemed ones stay activated and are listed."""

    TYPE: ClassVar[str] = "store.order_refunded"

    key_ids: list[uuid.UUID] = Field(
        max_length=1000,
        description="the keys this refund revoked (named key_ids so per-key timelines include them)",
    )
    redeemed_key_ids: list[uuid.UUID] = Field(max_length=1000)
    reason: Text | None
    refunded_by: Actor
    refunded_at: Timestamp | None


class StoreStockLow(KeysEvent):
    """A store order left fewer free keys of a game and key type than the low-stock threshold
    (emitted by the order that crossed it, so once per crossing, not per order)."""

    TYPE: ClassVar[str] = "store.stock_low"
    SUBJECT: ClassVar[str] = "game_id"

    game_id: uuid.UUID
    key_type: Text
    available: int = Field(
        ge=0, description="free keys left after the order (within the store quota, if any)"
    )
    threshold: int = Field(ge=1)


class StoreQuotaUpdated(KeysEvent):
    """A studio set, changed or removed its store quota of a game and key type: how many of
    those keys the store may sell in all."""

    TYPE: ClassVar[str] = "store.quota_updated"
    SUBJECT: ClassVar[str] = "game_id"

    game_id: uuid.UUID
    developer_id: uuid.UUID
    key_type: Text
    quota: int | None = Field(ge=0, description="null: the cap was removed")
    sold: int = Field(ge=0, description="the store's keys counted against it (refunds give keys back)")
    updated_by: Actor


class KeyDisputed(_Key):
    """An activated key's purchase was charged back (a retailer's order) or refunded (a store
    order): the key stays activated and its activation is disputed. activation-gateway marks the
    activation ``disputed`` and announces ``activation.disputed``."""

    TYPE: ClassVar[str] = "key.disputed"

    developer_id: uuid.UUID
    activation_id: Text | None = Field(description="the activation that redeemed the key")
    user_id: UserId | None = Field(description="who activated it")
    source: Literal["chargeback", "store_refund"]
    reference: Text = Field(description="the chargeback id, or the store order id")
    retailer_id: uuid.UUID | None
    order_id: Text | None
    reason: Text
    activated_at: Timestamp | None
    disputed_at: Timestamp
