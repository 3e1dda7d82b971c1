"""A retailer's sales and returns. Keys change state in key-manager all or nothing, before
anything is written here: a refusal there writes nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from distribution import events
from distribution.context import Distribution
from distribution.db import repository as repo
from distribution.domain.money import totals
from distribution.domain.stock import reached_threshold
from gamekeys_platform.refusals import Refusal


@dataclass(frozen=True)
class Sale:
    sale: Any  # the sales row
    key_ids: list[uuid.UUID]
    recorded_before: bool  # the same order was recorded already (a retry)


def record_sale(
    dist: Distribution,
    session: Session,
    retailer,
    *,
    order_id: str,
    key_ids: list[uuid.UUID],
    price_amount: Decimal,
    currency: str,
    sold_at: datetime,
) -> Sale:
    """Record an order: its keys become sold in key-manager, all or nothing, then the sale is
    written with sale.recorded (and allocation.low_stock where a threshold is reached).
    Idempotent by (retailer, orderId): the same order again is the recorded sale; the same
    orderId with other keys, price or time IDEMPOTENCY_CONFLICT. Only keys the retailer has
    received: its own keys not fetched yet CONFLICT KEY_NOT_DELIVERED, others' KEY_NOT_FOUND;
    keys sold in another order CONFLICT KEY_ALREADY_SOLD."""
    repo.lock(session, f"sale|{retailer.id}|{order_id}")
    fingerprint = sale_fingerprint(key_ids, price_amount, currency, sold_at)
    existing = repo.get_sale(session, retailer.id, order_id)
    if existing is not None:
        if existing.request_fingerprint != fingerprint:
            raise Refusal("IDEMPOTENCY_CONFLICT", "this orderId was recorded with other keys, price or time")
        return Sale(existing, [row.key_id for row in repo.keys_of_sale(session, existing.id)], True)
    key_ids = _unique(key_ids)
    delivered = repo.delivered_keys(session, retailer.id, key_ids)
    _check_delivered(dist, retailer.id, [k for k in key_ids if k not in delivered])
    already = repo.sold_keys_of_retailer(session, retailer.id, key_ids)
    if already:
        raise Refusal(
            "CONFLICT",
            "some keys were sold in another order",
            {"reason": "KEY_ALREADY_SOLD", "keyIds": sorted(str(r.key_id) for r in already)[:50]},
        )
    dist.key_manager.sell(retailer_id=retailer.id, order_id=order_id, key_ids=key_ids, sold_at=sold_at)
    sale = {
        "id": uuid.uuid4(),
        "retailer_id": retailer.id,
        "order_id": order_id,
        "units": len(key_ids),
        "unit_price": price_amount,
        "currency": currency,
        "commission_rate": retailer.commission_rate,
        "sold_at": sold_at,
        "request_fingerprint": fingerprint,
    }
    repo.insert_sale(session, sale, {k: delivered[k] for k in key_ids})
    sale_totals = totals(price_amount, len(key_ids), retailer.commission_rate, currency)
    games = _units_per_game(session, [delivered[k] for k in key_ids])
    dist.outbox.add(session, events.sale_recorded(sale, key_ids, sale_totals, games))
    _signal_low_stock(dist, session, {delivered[k] for k in key_ids})
    return Sale(repo.get_sale(session, retailer.id, order_id), key_ids, False)


def sale_fingerprint(
    key_ids: Iterable[uuid.UUID], price_amount: Decimal, currency: str, sold_at: datetime
) -> str:
    canonical = {
        "keyIds": sorted({str(k) for k in key_ids}),
        "price": {"amount": str(price_amount), "currency": currency},
        "soldAt": sold_at.isoformat(),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _order_keys(session: Session, retailer, order_id: str, key_ids: list[uuid.UUID]):
    """The retailer's order, locked against its other returns and chargebacks, with ``key_ids``
    sorted and each key's row in it: (sale, key ids, key id -> row). NOT_FOUND for an unknown
    order, KEY_NOT_FOUND for keys not in it, VALIDATION_ERROR for a key listed twice."""
    repo.lock(session, f"sale|{retailer.id}|{order_id}")
    sale = repo.get_sale(session, retailer.id, order_id)
    if sale is None:
        raise Refusal("NOT_FOUND", "order not found", {"orderId": order_id})
    key_ids = _unique(key_ids)
    in_sale = {row.key_id: row for row in repo.keys_of_sale(session, sale.id)}
    foreign = [str(k) for k in key_ids if k not in in_sale]
    if foreign:
        raise Refusal("KEY_NOT_FOUND", "some keys are not part of this order", {"keyIds": foreign[:50]})
    return sale, key_ids, in_sale


def _unique(key_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(key_ids)) != len(key_ids):
        raise Refusal(
            "VALIDATION_ERROR", "keyIds lists a key twice", {"fields": {"json": {"keyIds": ["duplicates"]}}}
        )
    return sorted(key_ids)


def _check_delivered(dist: Distribution, retailer_id: uuid.UUID, undelivered: list[uuid.UUID]) -> None:
    """A retailer sells only keys it has received through GET /retailer/keys. Keys that are not
    its own at all are KEY_NOT_FOUND, like everything of another retailer; its own keys it has
    not fetched yet are CONFLICT (KEY_NOT_DELIVERED): fetching them first makes the sale work."""
    if not undelivered:
        return
    owned = dist.key_manager.keys_of_retailer(retailer_id, undelivered)
    foreign = [str(k) for k in undelivered if k not in owned]
    if foreign:
        raise Refusal("KEY_NOT_FOUND", "some keys are not this retailer's", {"keyIds": foreign[:50]})
    raise Refusal(
        "CONFLICT",
        "some keys have not been fetched through GET /retailer/keys yet; fetch them before selling",
        {"reason": "KEY_NOT_DELIVERED", "keyIds": [str(k) for k in undelivered][:50]},
    )


def _units_per_game(session: Session, allocation_of_each_key: list[uuid.UUID]) -> Counter[uuid.UUID]:
    """Keys per game, for finance, which credits each game's studio."""
    game_of = repo.games_of_allocations(session, set(allocation_of_each_key))
    return Counter(game_of[allocation_id] for allocation_id in allocation_of_each_key)


def _signal_low_stock(dist: Distribution, session: Session, allocation_ids: set[uuid.UUID]) -> None:
    rows = repo.allocations_for_update(session, allocation_ids)
    sold = repo.sold_per_allocation(session, allocation_ids)
    for row in rows:
        unsold = row.quantity - sold.get(row.id, 0)
        threshold = reached_threshold(row.quantity, unsold, row.low_stock_signalled)
        if threshold is not None:
            repo.set_low_stock_signalled(session, row.id, threshold)
            dist.outbox.add(session, events.low_stock(row, unsold=unsold, threshold=threshold))


@dataclass(frozen=True)
class Return:
    return_id: uuid.UUID
    order_id: str
    key_ids: list[uuid.UUID]


def return_keys(
    dist: Distribution, session: Session, retailer, *, order_id: str, key_ids: list[uuid.UUID], reason: str
) -> Return:
    """Refund keys of an order: they are revoked in key-manager as returned, all or nothing (an
    activated key makes it KEY_ALREADY_ACTIVATED there, and nothing changes), then the return is
    written with sale.returned. The same keys of the same order again are the same return."""
    sale, key_ids, in_sale = _order_keys(session, retailer, order_id, key_ids)
    charged_back = [str(k) for k in key_ids if in_sale[k].status == "charged_back"]
    if charged_back:
        raise Refusal(
            "CONFLICT",
            "some keys were charged back already",
            {"reason": "KEY_ALREADY_CHARGED_BACK", "keyIds": charged_back[:50]},
        )
    returned = [k for k in key_ids if in_sale[k].status == "returned"]
    if returned and len(returned) == len(key_ids) and len({in_sale[k].return_id for k in key_ids}) == 1:
        return Return(in_sale[key_ids[0]].return_id, sale.order_id, key_ids)
    if returned:
        raise Refusal(
            "CONFLICT",
            "some keys were returned already",
            {"reason": "KEY_ALREADY_RETURNED", "keyIds": [str(k) for k in returned][:50]},
        )
    return_id = uuid.uuid4()
    dist.key_manager.return_keys(
        retailer_id=retailer.id, order_id=sale.order_id, key_ids=key_ids, reason=reason, return_id=return_id
    )
    return_row = {
        "id": return_id,
        "retailer_id": retailer.id,
        "sale_id": sale.id,
        "order_id": sale.order_id,
        "units": len(key_ids),
        "reason": reason,
    }
    repo.record_return(session, return_row, key_ids)
    games = _units_per_game(session, [in_sale[k].allocation_id for k in key_ids])
    dist.outbox.add(session, events.sale_returned(return_row, sale, key_ids, games))
    return Return(return_id, sale.order_id, key_ids)


# A chargeback's id derives from the retailer, the order and its keys: a retry after a lost
# answer asks key-manager for the same chargeback, which it replays instead of refusing the
# keys it revoked the first time.
_CHARGEBACK_NAMESPACE = uuid.UUID("5b7d2c9e-1f4a-4e8b-a3c6-9d0e2f7b4a18")


@dataclass(frozen=True)
class Chargeback:
    chargeback: Any  # the chargebacks row
    sale: Any
    key_ids: list[uuid.UUID]
    revoked: list[uuid.UUID]
    disputed: list[uuid.UUID]


def charge_back(
    dist: Distribution, session: Session, retailer, *, order_id: str, key_ids: list[uuid.UUID], reason: str
) -> Chargeback:
    """The payment of (part of) an order was charged back: its keys not yet redeemed are revoked
    in key-manager at once, its activated keys stay activated and their activations are
    disputed; recorded with sale.charged_back. All or nothing, refused with nothing changed for
    an unknown order (NOT_FOUND), keys not in it (KEY_NOT_FOUND), keys returned or charged back
    already (CONFLICT), or revoked already (key-manager's KEY_REVOKED)."""
    sale, key_ids, in_sale = _order_keys(session, retailer, order_id, key_ids)
    for status, reason_code in (
        ("returned", "KEY_ALREADY_RETURNED"),
        ("charged_back", "KEY_ALREADY_CHARGED_BACK"),
    ):
        done = [str(k) for k in key_ids if in_sale[k].status == status]
        if done:
            raise Refusal(
                "CONFLICT",
                f"some keys were {status.replace('_', ' ')} already",
                {"reason": reason_code, "keyIds": done[:50]},
            )
    chargeback_id = uuid.uuid5(
        _CHARGEBACK_NAMESPACE, f"{retailer.id}|{sale.order_id}|{','.join(str(k) for k in key_ids)}"
    )
    result = dist.key_manager.charge_back(
        chargeback_id=chargeback_id,
        retailer_id=retailer.id,
        order_id=sale.order_id,
        key_ids=key_ids,
        reason=reason,
    )
    revoked = sorted(uuid.UUID(k) for k in result["revokedKeyIds"])
    disputed = sorted(uuid.UUID(k) for k in result["disputedKeyIds"])
    row = repo.record_chargeback(
        session,
        {
            "id": chargeback_id,
            "retailer_id": retailer.id,
            "sale_id": sale.id,
            "order_id": sale.order_id,
            "units": len(key_ids),
            "revoked_units": len(revoked),
            "disputed_units": len(disputed),
            "reason": reason,
        },
        revoked=revoked,
        disputed=disputed,
    )
    games = _units_per_game(session, [in_sale[k].allocation_id for k in key_ids])
    dist.outbox.add(
        session, events.sale_charged_back(row, sale, key_ids, revoked=revoked, disputed=disputed, games=games)
    )
    return Chargeback(row, sale, key_ids, revoked, disputed)
