"""A key's timeline as plain data: every event about one key id, oldest first (its batch's
generation, its allocation, its sale and order, every attempt to redeem it, its activation,
fraud assessments, returns, revocation), for support and for tracing a leak."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from analytics.domain.events import NIL

# At most this many events in one answer (a key has a handful; a key hammered by guessing
# players could have many attempts): ``truncated`` says when more exist.
MAX_EVENTS = 1000


@dataclass(frozen=True)
class TimelineEvent:
    event_id: uuid.UUID
    type: str
    source: str
    occurred_at: datetime
    occurred_at_us: int
    recorded_at: datetime
    game_id: uuid.UUID
    batch_id: uuid.UUID
    retailer_id: uuid.UUID
    allocation_id: uuid.UUID
    order_id: str
    activation_id: str
    user_id: str
    country: str
    outcome: str
    reason: str
    data: dict
    # "key": the event names the key; "batch" / "allocation": an event of its batch or allocation
    via: str = "key"

    def to_dict(self, *, with_details: bool) -> dict:
        item = {
            "eventId": self.event_id,
            "type": self.type,
            "source": self.source,
            "time": self.occurred_at,
            "recordedAt": self.recorded_at,
            "via": self.via,
            "gameId": _id(self.game_id),
            "batchId": _id(self.batch_id),
            "retailerId": _id(self.retailer_id),
            "allocationId": _id(self.allocation_id),
            "orderId": self.order_id or None,
            "activationId": self.activation_id or None,
            "country": self.country or None,
            "outcome": self.outcome or None,
            "reason": self.reason or None,
        }
        if with_details:  # the player and the event's data: platform staff and services only
            item["userId"] = self.user_id or None
            item["data"] = self.data
        return item


def _id(value: uuid.UUID) -> uuid.UUID | None:
    return None if value == NIL else value


@dataclass
class Timeline:
    key_id: uuid.UUID
    events: list[TimelineEvent]
    truncated: bool = False

    @classmethod
    def build(cls, key_id: uuid.UUID, events: list[TimelineEvent]) -> Timeline:
        unique = {event.event_id: event for event in events}  # a key event is also its batch's
        for event in events:
            if event.via == "key":
                unique[event.event_id] = event
        ordered = sorted(unique.values(), key=lambda e: (e.occurred_at_us, e.recorded_at, str(e.event_id)))
        return cls(key_id, ordered[:MAX_EVENTS], truncated=len(ordered) > MAX_EVENTS)

    @property
    def game_id(self) -> uuid.UUID | None:
        for event in self.events:
            if event.game_id != NIL:
                return event.game_id
        return None

    def batch_ids(self) -> set[uuid.UUID]:
        return {e.batch_id for e in self.events if e.batch_id != NIL}

    def allocation_ids(self) -> set[uuid.UUID]:
        return {e.allocation_id for e in self.events if e.allocation_id != NIL}

    def to_dict(self, *, with_details: bool) -> dict:
        return {
            "keyId": self.key_id,
            "gameId": self.game_id,
            "items": [event.to_dict(with_details=with_details) for event in self.events],
            "truncated": self.truncated,
        }
