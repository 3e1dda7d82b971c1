"""activations.events, written by activation-gateway.

Consumed by antifraud (velocity: failures, enumeration) and analytics (distribution and
antifraud count successful activations from key-manager's ``key.activated``, which every
activation emits). Every ``activation.*`` type has the same data; the subject is the
activation (transaction) id. Malformed keys, lockouts and players on the gateway's projection
of the block list are refused before any record and emit nothing. No event carries a
plaintext key.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from gamekeys_platform.contracts.base import Country, EventData, Text, Timestamp, UserId


class ActivationsEvent(EventData):
    SOURCE: ClassVar[str] = "activation-gateway"


class Activation(ActivationsEvent):
    """One redemption as the gateway recorded it."""

    SUBJECT: ClassVar[str] = "activation_id"

    activation_id: uuid.UUID
    transaction_id: uuid.UUID = Field(description="the same id (the seed's RedemptionResult name)")
    user_id: UserId
    status: Literal["activated", "pending_review", "failed", "blocked", "rejected", "disputed"]
    key_id: uuid.UUID | None = Field(description="null when no key matched")
    game_id: uuid.UUID | None
    batch_id: uuid.UUID | None
    developer_id: uuid.UUID | None
    key_type: Text | None
    key_fingerprint: Text | None = Field(
        description="an opaque hash of the typed key, when no key matched (KEY_NOT_FOUND)"
    )
    region: Country | None = Field(description="the region the player claimed")
    ip_address: Text
    ip_country: Country | None
    device_fingerprint: Text | None
    platform: Text | None
    reason: Text | None = Field(description="the §3 error code of a refusal")
    assessment_id: uuid.UUID | None
    case_id: uuid.UUID | None = Field(description="when it went through a fraud review")
    review_reason: Literal["antifraud_review", "antifraud_unavailable"] | None
    occurred_at: Timestamp
    activated_at: Timestamp | None = Field(
        default=None, description="only on activation.succeeded and activation.disputed"
    )


class ActivationSucceeded(Activation):
    """The key is the player's (status ``activated``)."""

    TYPE: ClassVar[str] = "activation.succeeded"


class ActivationFailed(Activation):
    """Refused by a check (status ``failed``; ``reason`` KEY_NOT_FOUND, KEY_REVOKED, KEY_EXPIRED,
    KEY_ALREADY_ACTIVATED, REGION_RESTRICTED, VPN_DETECTED, PUBLISHER_SUSPENDED, CONFLICT), or a
    review rejected it (status ``rejected``, reason FRAUD_DETECTED)."""

    TYPE: ClassVar[str] = "activation.failed"


class ActivationBlocked(Activation):
    """Antifraud or the block list refused it (status ``blocked``; reason FRAUD_DETECTED or
    ACCOUNT_BLOCKED)."""

    TYPE: ClassVar[str] = "activation.blocked"


class ActivationPendingReview(Activation):
    """Held for a fraud review (status ``pending_review``; ``caseId`` null when antifraud was
    unavailable); the key is held in key-manager with ``holdId`` = activationId."""

    TYPE: ClassVar[str] = "activation.pending_review"


class ActivationDisputed(Activation):
    """An activation whose purchase was charged back or found fraudulent afterwards (status
    ``disputed``), for the platform's entitlement owner and antifraud (which counts it against
    the account, device and network that activated)."""

    TYPE: ClassVar[str] = "activation.disputed"

    dispute_source: Literal["chargeback", "store_refund"] | None = Field(
        default=None, description="what disputed it: a retailer's chargeback or a store refund"
    )
    dispute_reference: Text | None = Field(default=None, description="the chargeback id or store order id")
    dispute_reason: Text | None = None
    disputed_at: Timestamp | None = None
