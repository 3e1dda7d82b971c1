"""The event envelope of ARCHITECTURE.md §4: one small named record for every topic."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.tracing import current_trace_id, new_trace_id

SCHEMA_VERSION = 1

# Topic per producing service (§4); the outbox of a service publishes to its own topic.
TOPIC_BY_SOURCE = {
    "developer-portal": "developer.events",
    "game-builds": "builds.events",
    "key-manager": "keys.events",
    "activation-gateway": "activations.events",
    "antifraud": "antifraud.events",
    "distribution": "distribution.events",
    "payment-service": "payments.events",
}


class MalformedEvent(ValueError):
    """A record on a topic that is not a valid envelope."""


@dataclass(frozen=True)
class Event:
    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    schema_version: int = SCHEMA_VERSION
    # The W3C trace id of the work that emits it (gamekeys_platform.tracing): the request's, or the
    # handled event's; one of its own for work outside any trace.
    trace_id: str | None = field(default_factory=lambda: current_trace_id() or new_trace_id())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "source": self.source,
            "time": format_timestamp(self.time),
            "subject": self.subject,
            "schemaVersion": self.schema_version,
            "traceId": self.trace_id,
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=str).encode()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        try:
            return cls(
                id=uuid.UUID(raw["id"]),
                type=_text(raw["type"]),
                source=_text(raw["source"]),
                time=datetime.fromisoformat(raw["time"].replace("Z", "+00:00")),
                subject=_text(raw["subject"]),
                schema_version=int(raw["schemaVersion"]),
                trace_id=raw.get("traceId"),
                data=dict(raw["data"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedEvent(f"not an event envelope: {exc}") from None

    @classmethod
    def from_json(cls, payload: bytes) -> Event:
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedEvent(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise MalformedEvent("not a JSON object")
        return cls.from_dict(raw)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value
