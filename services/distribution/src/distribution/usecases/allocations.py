"""Allocations: reserving a game's keys for a retailer through key-manager (a saga: the attempt
is noted and committed first, key-manager reserves, then the allocation is recorded; the worker's
reconciler, ``distribution.reconcile``, releases attempts left behind), and taking an allocation's
unsold keys back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from distribution import events
from distribution.context import Distribution
from distribution.db import repository as repo
from distribution.domain import retailers as rules
from gamekeys_platform.refusals import Refusal

# Allocation ids derive from (caller, Idempotency-Key): a retry after a lost answer asks
# key-manager for the same allocation, which it replays instead of allocating twice.
_ALLOCATION_NAMESPACE = uuid.UUID("6f1f3a52-8e7c-4d5b-9a51-0c3b1de2a7f4")


def allocation_id_for(actor: str, idempotency_key: str | None) -> uuid.UUID:
    """The same caller and Idempotency-Key always name the same allocation; without a key, a new one."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(_ALLOCATION_NAMESPACE, f"{actor}|{idempotency_key}")


def allocate(
    dist: Distribution,
    session: Session,
    *,
    actor: str,
    idempotency_key: str | None,
    retailer_id: uuid.UUID,
    game_id: uuid.UUID,
    key_type: str,
    quantity: int,
    price_amount: Decimal,
    price_currency: str,
    restrictions: Sequence[dict],
):
    """Reserve ``quantity`` free keys of the game for the retailer, all or nothing; the recorded
    allocation (and allocation.created) in ``session``'s transaction.

    Refusals: NOT_FOUND (no such retailer); RETAILER_NOT_AUTHORIZED (inactive, game or region
    not allowed); key-manager's own (INSUFFICIENT_KEY_ALLOCATION with ``available``...), after
    which no attempt is left: it reserved nothing; CONFLICT ALLOCATION_RELEASED for a retry of an
    attempt the reconciler released meanwhile. When key-manager cannot be reached (an
    ``ApiError``, 5xx) the attempt note stays for the reconciler, in case it did reserve keys."""
    retailer = repo.get_retailer(session, retailer_id)
    if retailer is None:
        raise Refusal("NOT_FOUND", "retailer not found", {"retailerId": str(retailer_id)})
    rules.authorize_allocation(
        status=retailer.status,
        allowed_game_ids=retailer.allowed_game_ids,
        allowed_regions=retailer.allowed_regions,
        game_id=game_id,
        restrictions=restrictions,
    )
    allocation_id = allocation_id_for(actor, idempotency_key)
    # Noted in its own committed transaction first, so a crash after key-manager reserved the
    # keys leaves a trace the worker reconciles (tables.allocation_attempts).
    with dist.db.transaction() as attempts:
        claimed = repo.claim_allocation_attempt(
            attempts, allocation_id, retailer_id=retailer.id, requested_by=actor
        )
    if not claimed:
        raise _released_meanwhile(allocation_id)
    try:
        dist.key_manager.allocate(
            allocation_id=allocation_id,
            retailer_id=retailer.id,
            game_id=game_id,
            key_type=key_type,
            quantity=quantity,
        )
    except Refusal:  # key-manager refused: it reserved nothing
        with dist.db.transaction() as attempts:
            repo.forget_allocation_attempt(attempts, allocation_id)
        raise
    if not repo.finish_allocation_attempt(session, allocation_id):
        raise _released_meanwhile(allocation_id)
    row = repo.insert_allocation(
        session,
        id=allocation_id,
        retailer_id=retailer.id,
        game_id=game_id,
        key_type=key_type,
        quantity=quantity,
        price_amount=price_amount,
        price_currency=price_currency,
        restrictions=[
            {"type": r["type"], "countries": sorted({c.upper() for c in r["countries"]})}
            for r in restrictions
        ],
        created_by=actor,
    )
    dist.outbox.add(session, events.allocation_created(row))
    return row


def _released_meanwhile(allocation_id: uuid.UUID) -> Refusal:
    return Refusal(
        "CONFLICT",
        "this allocation was never recorded and its keys went back to the free pool; "
        "send the request again with a new Idempotency-Key",
        {"reason": "ALLOCATION_RELEASED", "allocationId": str(allocation_id)},
    )


@dataclass(frozen=True)
class Release:
    allocation: Any  # the allocation's row after the release
    released: int  # keys taken back by this call
    status: str  # what they became in key-manager: "generated" (free pool) or "revoked"


def release(
    dist: Distribution, session: Session, allocation_id: uuid.UUID, *, actor: str, reason: str, revoke: bool
) -> Release:
    """Take an allocation's unsold keys back from its retailer: into the free pool, or revoked.
    Keys the retailer has received but not sold can only be revoked (it knows them in clear):
    without ``revoke`` they are CONFLICT KEYS_DELIVERED and nothing changes. Sold keys stay sold;
    a repeat takes back nothing more (and emits nothing)."""
    allocation = repo.get_allocation_for_update(session, allocation_id)
    if allocation is None:
        raise Refusal("NOT_FOUND", "allocation not found")
    seen = repo.delivered_unsold(session, allocation_id)
    if seen and not revoke:
        raise Refusal(
            "CONFLICT",
            "the retailer has received unsold keys of this allocation; they can only be revoked",
            {"reason": "KEYS_DELIVERED", "deliveredUnsold": seen},
        )
    result = dist.key_manager.release_allocation(allocation_id, reason=reason, revoke=revoke)
    released = result["released"] if result is not None else 0
    status = "revoked" if revoke else "generated"
    row = repo.record_release(session, allocation_id, released)
    if released:
        dist.outbox.add(
            session,
            events.allocation_released(
                row, released=released, status=status, reason=reason, released_by=actor
            ),
        )
    return Release(row, released, status)
