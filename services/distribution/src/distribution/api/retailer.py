"""The retailer's own API (bearer tokens from /oauth/token): its keys, sales and returns.

A retailer sees and touches only its own allocations, keys and sales; anything else is 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import g

from distribution.api import schemas as s
from distribution.api.common import ts
from distribution.api.retailer_auth import require_retailer
from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain.money import totals
from distribution.usecases import sales
from gamekeys_platform.app import Blueprint
from gamekeys_platform.currencies import format_amount
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


def _sale_body(sale, key_ids, *, status: str = "recorded") -> dict:
    sale_totals = totals(sale.unit_price, sale.units, sale.commission_rate, sale.currency)
    currency = sale.currency
    return {
        "saleId": sale.id,
        "orderId": sale.order_id,
        "keyIds": sorted(key_ids),
        "quantity": sale.units,
        "price": {"amount": format_amount(sale.unit_price, currency), "currency": currency},
        "gross": {"amount": format_amount(sale_totals.gross, currency), "currency": currency},
        "commission": {"amount": format_amount(sale_totals.commission, currency), "currency": currency},
        "net": {"amount": format_amount(sale_totals.net, currency), "currency": currency},
        "soldAt": ts(sale.sold_at),
        "status": status,
    }


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
    result = sales.record_sale(
        distribution(),
        request_session(),
        g.retailer,
        order_id=body["orderId"],
        key_ids=body["keyIds"],
        price_amount=body["price"]["amount"],
        currency=body["price"]["currency"],
        sold_at=body["soldAt"],
    )
    if result.recorded_before:
        return _sale_body(result.sale, result.key_ids), 200
    return _sale_body(result.sale, result.key_ids)


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
    result = sales.return_keys(
        distribution(),
        request_session(),
        g.retailer,
        order_id=body["orderId"],
        key_ids=body["keyIds"],
        reason=body["reason"],
    )
    return {
        "returnId": result.return_id,
        "orderId": result.order_id,
        "keyIds": result.key_ids,
        "status": "revoked",
    }


@blp.route("/chargebacks", methods=["POST"])
@error_responses(
    {
        404: "NOT_FOUND / KEY_NOT_FOUND: an order, or keys of it, that are not the retailer's",
        409: "CONFLICT: keys returned or charged back already, or an activated key disputed already",
        410: "KEY_REVOKED / KEY_EXPIRED: a key revoked or expired already",
    }
)
@require_retailer
@idempotent
@blp.arguments(s.ChargebackRequestSchema)
@blp.response(201, s.ChargebackSchema)
def charge_back(body):
    """The payment of keys of an order was charged back: the keys not yet redeemed are revoked at
    once, the activated ones stay activated and their activations are disputed (counted against
    the activating account and this retailer). All or nothing: keys of another order or retailer,
    returned or charged back already, or revoked, refuse the whole chargeback."""
    result = sales.charge_back(
        distribution(),
        request_session(),
        g.retailer,
        order_id=body["orderId"],
        key_ids=body["keyIds"],
        reason=body["reason"],
    )
    sale, currency = result.sale, result.sale.currency
    return {
        "chargebackId": result.chargeback.id,
        "orderId": sale.order_id,
        "keyIds": result.key_ids,
        "revokedKeyIds": result.revoked,
        "disputedKeyIds": result.disputed,
        "amount": {
            "amount": format_amount(sale.unit_price * len(result.key_ids), currency),
            "currency": currency,
        },
        "reason": result.chargeback.reason,
        "chargedBackAt": ts(result.chargeback.created_at),
    }
