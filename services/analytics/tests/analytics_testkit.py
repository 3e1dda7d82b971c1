"""Events as the producers emit them, built through their contracts, for the analytics tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from gamekeys_platform.contracts import activations, distribution, keys
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.events import Event

_ACTIVATION_BY_STATUS = {
    "activated": activations.ActivationSucceeded,
    "failed": activations.ActivationFailed,
    "blocked": activations.ActivationBlocked,
    "pending_review": activations.ActivationPendingReview,
    "disputed": activations.ActivationDisputed,
}


def activation(
    game_id: uuid.UUID,
    status: str,
    at: datetime,
    *,
    region: str | None = "DE",
    activation_id: uuid.UUID | None = None,
    developer_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> Event:
    activation_id = activation_id or uuid.uuid4()
    data = _ACTIVATION_BY_STATUS[status](
        activation_id=activation_id,
        transaction_id=activation_id,
        user_id=f"player-{uuid.uuid4().hex[:6]}",
        status=status,
        key_id=uuid.uuid4(),
        game_id=game_id,
        batch_id=uuid.uuid4(),
        developer_id=developer_id or uuid.uuid4(),
        key_type="retail",
        key_fingerprint=None,
        region=region,
        ip_address="198.51.100.7",
        ip_country=region,
        device_fingerprint="device-1",
        platform="windows",
        reason=reason,
        assessment_id=None,
        case_id=None,
        review_reason="antifraud_review" if status == "pending_review" else None,
        occurred_at=at,
        activated_at=at if status == "activated" else None,
    )
    event = data.to_event()
    return Event(type=event.type, source=event.source, subject=event.subject, data=event.data, time=at)


def batch_generated(game_id: uuid.UUID, developer_id: uuid.UUID, quantity: int, at: datetime) -> Event:
    return keys.BatchGenerated(
        batch_id=uuid.uuid4(),
        game_id=game_id,
        developer_id=developer_id,
        key_type="retail",
        quantity=quantity,
        regional_restrictions=[],
        expires_at=None,
        synchronous=True,
        generated_at=at,
        created_by="user-1",
    ).to_event()


def sale_recorded(retailer_id: uuid.UUID, key_ids: list[uuid.UUID], gross: str, at: datetime) -> Event:
    def money(amount: str) -> Money:
        return Money(amount=Decimal(amount), currency="EUR")

    return distribution.SaleRecorded(
        sale_id=uuid.uuid4(),
        retailer_id=retailer_id,
        order_id="order-1",
        key_ids=key_ids,
        quantity=len(key_ids),
        unit_price=money(gross),
        gross=money(gross),
        commission=money("0.00"),
        net=money(gross),
        sold_at=at,
        games=None,
    ).to_event()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
