"""Event contracts (ARCHITECTURE.md §4): one typed schema per event type, one module per topic.

Producers build an event's data as its contract (``keys.KeyActivated(key_id=..., ...)``) and
give it to ``Outbox.add``; consumers declare ``EventHandlers({keys.KeyActivated: handle, ...})``
and receive the data loaded through the same contract. docs/events.md and the JSON Schemas
beside it are generated from these modules (``make docs``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from gamekeys_platform.contracts import (
    activations,
    antifraud,
    builds,
    developer,
    distribution,
    keys,
    payments,
)
from gamekeys_platform.contracts.base import ContractViolation, EventData, contract_for
from gamekeys_platform.events import Event

TOPIC_MODULES = (developer, builds, keys, activations, antifraud, distribution, payments)

TypedHandler = Callable[[Session, Any, Event], None]


def load(event: Event) -> EventData:
    """The event's data as its contract; ``ContractViolation`` when it has none or breaks it."""
    contract = contract_for(event.source, event.type)
    if contract is None:
        raise ContractViolation(f"no contract for {event.type} from {event.source}")
    return contract.load(event.data, event.schema_version)


class EventHandlers:
    """A consumer's handler that dispatches on the event's contract:
    ``EventHandlers({keys.KeyActivated: on_activated})`` calls ``on_activated(session, data,
    event)`` with ``data`` a ``KeyActivated``. The types it handles (``event_types``) are the
    contracts' types, so the consumer settles every other type without a transaction. An event
    that breaks its contract raises ``ContractViolation``, which the consumer dead-letters at
    once with the reason."""

    def __init__(self, handlers: Mapping[type[EventData], TypedHandler]) -> None:
        self._handlers = {(contract.SOURCE, contract.TYPE): (contract, h) for contract, h in handlers.items()}
        self.event_types = frozenset(contract.TYPE for contract in handlers)

    def __call__(self, session: Session, event: Event) -> None:
        entry = self._handlers.get((event.source, event.type))
        if entry is None:
            return  # the same type name from another producer: not this consumer's
        contract, handle = entry
        handle(session, contract.load(event.data, event.schema_version), event)


__all__ = [
    "TOPIC_MODULES",
    "ContractViolation",
    "EventData",
    "EventHandlers",
    "activations",
    "antifraud",
    "builds",
    "contract_for",
    "developer",
    "distribution",
    "keys",
    "load",
    "payments",
]
