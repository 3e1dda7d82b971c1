"""The retailer's own API (bearer tokens from /oauth/token): its keys, sales and returns.

A retailer sees and touches only its own allocations, keys and sales; anything else is 404.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

from flask import g

from distribution import events
from distribution.api import schemas as s
from distribution.api.common import ts
from distribution.api.retailer_auth import require_retailer
from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain.money import money, totals
from distribution.domain.stock import reached_threshold
from gamekeys_platform.app import Blueprint
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, encode_cursor
from gamekeys_platform.request_context import current_request_id

blp = Blueprint(
    "distribution-retailer",
    __name__,
    url_prefix="/api/v1/distribution/retailer",
    description="The retailer's API (OAuth 2.0 client-credentials tokens)",
)

KEYS_CURSOR = (datetime, uuid.UUID, str)
MAX_ALLOCATIONS_PER_PAGE = 20


@blp.route("/keys", methods=["GET"])
@error_responses({404: "NOT_FOUND: allocationId is not one of the retailer's allocations"})
@require_retailer
@transactional
@blp.arguments(s.RetailerKeysQuerySchema, location="query")
@blp.response(200, s.RetailerKeyPageSchema)
def retailer_keys(query):
    """The retailer's allocated keys, decrypted by key-manager, allocation after allocation in
    cursor pages (``allocationId`` narrows to one). Every fetch is audited."""
    dist, session, retailer = distribution(), request_session(), g.retailer
    position = decode_cursor(query.get("cursor"), KEYS_CURSOR)
    after, km_cursor, inclusive = None, None, False
    if position is not None:
        after, km_cursor = (position[0], position[1]), position[2] or None
        inclusive = km_cursor is not None
    allocations = repo.retailer_allocations_after(
        session,
        retailer.id,
        after=after,
        inclusive=inclusive,
        only=query["allocationId"],
        limit=MAX_ALLOCATIONS_PER_PAGE + 1,
    )
    if query["allocationId"] is not None and not allocations and position is None:
        # Unknown and another retailer's allocation look the same.
        raise ApiError("NOT_FOUND", "allocation not found")
    remaining, items, next_cursor, used = query["limit"], [], None, []
    for index, allocation in enumerate(allocations[:MAX_ALLOCATIONS_PER_PAGE]):
        page = dist.key_manager.allocation_keys(allocation.id, limit=remaining, cursor=km_cursor)
        km_cursor = None
        used.append(allocation.id)
        for key in page["items"]:
            items.append(
                {
                    "keyId": key["id"],
                    "key": key["key"],
                    "error": _key_error(key),
                    "allocationId": allocation.id,
                    "status": key["status"],
                }
            )
        remaining -= len(page["items"])
        if page.get("nextCursor"):
            next_cursor = encode_cursor([allocation.created_at, allocation.id, page["nextCursor"]])
            break
        has_more_allocations = index + 1 < len(allocations)
        if remaining <= 0 or index + 1 == MAX_ALLOCATIONS_PER_PAGE:
            if has_more_allocations:
                next_cursor = encode_cursor([allocation.created_at, allocation.id, ""])
            break
    # A key that could not be decrypted was not delivered: it cannot be sold until it can be.
    repo.remember_delivered_keys(
        session, retailer.id, [(uuid.UUID(i["keyId"]), i["allocationId"]) for i in items if i["key"]]
    )
    repo.audit_fetch(
        session,
        retailer_id=retailer.id,
        allocation_ids=used,
        key_count=len(items),
        cursor=query.get("cursor"),
        request_id=current_request_id(),
    )
    return {"items": items, "nextCursor": next_cursor}


def _key_error(key: dict) -> dict | None:
    """key-manager's per-key error (a key it cannot decrypt), told in the retailer's terms."""
    error = key.get("error")
    if not error:
        return None
    return {
        "code": error.get("code"),
        "message": "this key cannot be read at the moment; it is not delivered and cannot be sold",
        "details": {"reason": (error.get("details") or {}).get("reason")},
    }


def _sale_fingerprint(body) -> str:
    canonical = {
        "keyIds": sorted({str(k) for k in body["keyIds"]}),
        "price": {"amount": str(body["price"]["amount"]), "currency": body["price"]["currency"]},
        "soldAt": body["soldAt"].isoformat(),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _sale_body(sale, key_ids, *, status: str = "recorded") -> dict:
    sale_totals = totals(sale.unit_price, sale.units, sale.commission_rate)
    currency = sale.currency
    return {
        "saleId": sale.id,
        "orderId": sale.order_id,
        "keyIds": sorted(key_ids),
        "quantity": sale.units,
        "price": {"amount": money(sale.unit_price), "currency": currency},
        "gross": {"amount": money(sale_totals.gross), "currency": currency},
        "commission": {"amount": money(sale_totals.commission), "currency": currency},
        "net": {"amount": money(sale_totals.net), "currency": currency},
        "soldAt": ts(sale.sold_at),
        "status": status,
    }


def _unique(key_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(key_ids)) != len(key_ids):
        raise ApiError(
            "VALIDATION_ERROR", "keyIds lists a key twice", {"fields": {"json": {"keyIds": ["duplicates"]}}}
        )
    return sorted(key_ids)


@blp.route("/sales", methods=["POST"])
@error_responses({404: "KEY_NOT_FOUND: a key that is not the retailer's own"})
@require_retailer
@idempotent
@blp.arguments(s.SaleRequestSchema)
@blp.response(201, s.SaleSchema)
@blp.alt_response(200, schema=s.SaleSchema, description="the order was recorded already (a retry)")
def record_sale(body):
    """Record an order: its keys become sold in key-manager, all or nothing. Idempotent by
    (retailer, orderId): the same order again answers the recorded sale (200); the same orderId
    with other keys, price or time is 422 IDEMPOTENCY_CONFLICT."""
    dist, session, retailer = distribution(), request_session(), g.retailer
    repo.lock(session, f"sale|{retailer.id}|{body['orderId']}")
    fingerprint = _sale_fingerprint(body)
    existing = repo.get_sale(session, retailer.id, body["orderId"])
    if existing is not None:
        if existing.request_fingerprint != fingerprint:
            raise ApiError("IDEMPOTENCY_CONFLICT", "this orderId was recorded with other keys, price or time")
        return _sale_body(existing, [row.key_id for row in repo.keys_of_sale(session, existing.id)]), 200
    key_ids = _unique(body["keyIds"])
    price = body["price"]["amount"]
    delivered = repo.delivered_keys(session, retailer.id, key_ids)
    _check_delivered(retailer.id, [k for k in key_ids if k not in delivered])
    already = repo.sold_keys_of_retailer(session, retailer.id, key_ids)
    if already:
        raise ApiError(
            "CONFLICT",
            "some keys were sold in another order",
            {"reason": "KEY_ALREADY_SOLD", "keyIds": sorted(str(r.key_id) for r in already)[:50]},
        )
    dist.key_manager.sell(
        retailer_id=retailer.id, order_id=body["orderId"], key_ids=key_ids, sold_at=body["soldAt"]
    )
    sale = {
        "id": uuid.uuid4(),
        "retailer_id": retailer.id,
        "order_id": body["orderId"],
        "units": len(key_ids),
        "unit_price": price,
        "currency": body["price"]["currency"],
        "commission_rate": retailer.commission_rate,
        "sold_at": body["soldAt"],
        "request_fingerprint": fingerprint,
    }
    repo.insert_sale(session, sale, {k: delivered[k] for k in key_ids})
    sale_totals = totals(price, len(key_ids), retailer.commission_rate)
    dist.outbox.add(session, events.sale_recorded(sale, key_ids, sale_totals))
    _signal_low_stock(session, set(delivered[k] for k in key_ids))
    recorded = repo.get_sale(session, retailer.id, body["orderId"])
    return _sale_body(recorded, key_ids)


def _check_delivered(retailer_id: uuid.UUID, undelivered: list[uuid.UUID]) -> None:
    """A retailer sells only keys it has received through GET /retailer/keys. Keys that are not
    its own at all are 404, like everything of another retailer; its own keys it has not
    fetched yet are 409 CONFLICT (KEY_NOT_DELIVERED): fetching them first makes the sale work."""
    if not undelivered:
        return
    owned = distribution().key_manager.keys_of_retailer(retailer_id, undelivered)
    foreign = [str(k) for k in undelivered if k not in owned]
    if foreign:
        raise ApiError("KEY_NOT_FOUND", "some keys are not this retailer's", {"keyIds": foreign[:50]})
    raise ApiError(
        "CONFLICT",
        "some keys have not been fetched through GET /retailer/keys yet; fetch them before selling",
        {"reason": "KEY_NOT_DELIVERED", "keyIds": [str(k) for k in undelivered][:50]},
    )


def _signal_low_stock(session, allocation_ids: set[uuid.UUID]) -> None:
    dist = distribution()
    rows = repo.allocations_for_update(session, allocation_ids)
    sold = repo.sold_per_allocation(session, allocation_ids)
    for row in rows:
        unsold = row.quantity - sold.get(row.id, 0)
        threshold = reached_threshold(row.quantity, unsold, row.low_stock_signalled)
        if threshold is not None:
            repo.set_low_stock_signalled(session, row.id, threshold)
            dist.outbox.add(session, events.low_stock(row, unsold=unsold, threshold=threshold))


@blp.route("/returns", methods=["POST"])
@error_responses({404: "KEY_NOT_FOUND / NOT_FOUND: a key or order that is not the retailer's own"})
@require_retailer
@idempotent
@blp.arguments(s.ReturnRequestSchema)
@blp.response(200, s.ReturnSchema)
def return_keys(body):
    """Refund keys of an order: unactivated keys are revoked in key-manager as returned (all or
    nothing); an activated key makes the whole return 409 KEY_ALREADY_ACTIVATED. Returning the
    same keys of the same order again answers the same result."""
    dist, session, retailer = distribution(), request_session(), g.retailer
    repo.lock(session, f"sale|{retailer.id}|{body['orderId']}")
    sale = repo.get_sale(session, retailer.id, body["orderId"])
    if sale is None:
        raise ApiError("NOT_FOUND", "order not found", {"orderId": body["orderId"]})
    key_ids = _unique(body["keyIds"])
    in_sale = {row.key_id: row for row in repo.keys_of_sale(session, sale.id)}
    foreign = [str(k) for k in key_ids if k not in in_sale]
    if foreign:
        raise ApiError("KEY_NOT_FOUND", "some keys are not part of this order", {"keyIds": foreign[:50]})
    returned = [k for k in key_ids if in_sale[k].status == "returned"]
    if returned and len(returned) == len(key_ids) and len({in_sale[k].return_id for k in key_ids}) == 1:
        return {
            "returnId": in_sale[key_ids[0]].return_id,
            "orderId": sale.order_id,
            "keyIds": key_ids,
            "status": "revoked",
        }
    if returned:
        raise ApiError(
            "CONFLICT",
            "some keys were returned already",
            {"reason": "KEY_ALREADY_RETURNED", "keyIds": [str(k) for k in returned][:50]},
        )
    return_id = uuid.uuid4()
    dist.key_manager.return_keys(
        retailer_id=retailer.id,
        order_id=sale.order_id,
        key_ids=key_ids,
        reason=body["reason"],
        return_id=return_id,
    )
    return_row = {
        "id": return_id,
        "retailer_id": retailer.id,
        "sale_id": sale.id,
        "order_id": sale.order_id,
        "units": len(key_ids),
        "reason": body["reason"],
    }
    repo.record_return(session, return_row, key_ids)
    dist.outbox.add(session, events.sale_returned(return_row, sale, key_ids))
    return {"returnId": return_id, "orderId": sale.order_id, "keyIds": key_ids, "status": "revoked"}
