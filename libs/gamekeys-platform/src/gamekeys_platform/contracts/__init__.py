"""Event contracts (ARCHITECTURE.md §4): one typed schema per event type, one module per topic.

Producers build an event's data as its contract (``keys.KeyActivated(key_id=..., ...)``) and
give it to ``Outbox.add``; consumers declare ``EventHandlers({keys.KeyActivated: handle, ...})``
and receive the data loaded through the same contract. docs/events.md and the JSON Schemas
beside it are generated from these modules (``make docs``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
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
from gamekeys_platform.contracts.base import ContractViolation, EventData, contract_for, registered_contracts
from gamekeys_platform.events import Event

TOPIC_MODULES = (developer, builds, keys, activations, antifraud, distribution, payments)

TypedHandler = Callable[[Session, Any, Event], None]
RunHandler = Callable[[Session, list[tuple[Any, Event]]], None]


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
    once with the reason.

    A contract in ``together`` is handled a run at a time: consecutive events of that type in
    what the consumer settles in one transaction go to its handler as one list of
    ``(data, event)``, in order, so it can write them with a few statements instead of a few
    each (one event alone is a run of one)."""

    def __init__(
        self,
        handlers: Mapping[type[EventData], TypedHandler],
        *,
        together: Mapping[type[EventData], RunHandler] | None = None,
    ) -> None:
        together = together or {}
        if overlap := set(handlers) & set(together):
            raise ValueError(f"handled one at a time and together: {sorted(c.TYPE for c in overlap)}")
        self._handlers: dict[tuple[str, str], tuple[type[EventData], TypedHandler | None]] = {
            (contract.SOURCE, contract.TYPE): (contract, handle) for contract, handle in handlers.items()
        }
        for contract in together:
            self._handlers[(contract.SOURCE, contract.TYPE)] = (contract, None)
        self._together = dict(together)
        self.event_types = frozenset(contract.TYPE for contract, _handle in self._handlers.values())

    def __call__(self, session: Session, event: Event) -> None:
        self.handle_all(session, [event])

    def handle_all(
        self,
        session: Session,
        events: Sequence[Event],
        *,
        context: Callable[[Event], AbstractContextManager] = lambda _event: nullcontext(),
    ) -> None:
        """Handle ``events`` in order, runs of a ``together`` contract as one call each; each
        call inside ``context(event)`` (the consumer's trace and request id of the event), a
        run inside its first event's."""
        run_contract: type[EventData] | None = None
        run: list[tuple[Any, Event]] = []
        for event in events:
            entry = self._handlers.get((event.source, event.type))
            if entry is None:
                continue  # the same type name from another producer: not this consumer's
            contract, handle = entry
            data = contract.load(event.data, event.schema_version)
            if run and contract is not run_contract:
                self._handle_run(session, run_contract, run, context)
                run = []
            if handle is None:
                run_contract = contract
                run.append((data, event))
            else:
                with context(event):
                    handle(session, data, event)
        if run:
            self._handle_run(session, run_contract, run, context)

    def _handle_run(self, session: Session, contract, run: list[tuple[Any, Event]], context) -> None:
        with context(run[0][1]):
            self._together[contract](session, run)


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
    "registered_contracts",
]
