"""The store's internal API, ``/internal/v1/keys`` (service tokens; the gateway never routes it):
the Payment Service issues a paid order's keys and refunds orders (scope ``keys:issue``), the
Catalog Service reads the store's stock (scope ``catalog:read``)."""

from __future__ import annotations

import re

from sqlalchemy import Row

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.request_context import current_request_id
from key_manager.api import schemas as s
from key_manager.api.views import actor, revealed, ts
from key_manager.context import key_manager
from key_manager.db import audit as audit_repo
from key_manager.domain.access import SCOPE_CATALOG_READ, SCOPE_ISSUE
from key_manager.domain.states import KeyStatus
from key_manager.usecases import store

blp = Blueprint(
    "internal-store",
    __name__,
    url_prefix="/internal/v1/keys",
    description="The store: keys sold to buyers by the Payment Service, stock for the Catalog Service",
)

_ORDER_ID = re.compile(s.ORDER_ID_PATTERN)


def _order_body(order: Row, keys: list[Row]) -> dict:
    vault = key_manager().vault
    items = []
    for row in keys:
        key, error = revealed(vault, row)
        items.append({"keyId": row.id, "key": key, "error": error, "status": row.status})
    return {
        "orderId": order.order_id,
        "gameId": order.game_id,
        "keyType": order.key_type,
        "quantity": order.quantity,
        "buyerId": order.buyer_id,
        "region": order.region,
        "issuedAt": ts(order.created_at),
        "refundedAt": ts(order.refunded_at),
        "keys": items,
    }


@blp.route("/issue", methods=["POST"])
@require_scopes(SCOPE_ISSUE)
@transactional
@blp.arguments(s.StoreIssueRequestSchema)
@blp.response(201, s.StoreOrderSchema)
@blp.alt_response(200, schema=s.StoreOrderSchema, description="the order existed already (a retry)")
def issue(body):
    """Sell a paid order's keys to its buyer, decrypted in the answer (never cached; every
    disclosure audited). Idempotent by ``orderId``: a retry answers 200 with the same keys, the
    same orderId with another body is 422 IDEMPOTENCY_CONFLICT; too few free keys is 409
    INSUFFICIENT_KEY_ALLOCATION and nothing is sold."""
    session = request_session()
    result = store.issue(
        key_manager(),
        session,
        order_id=body["orderId"],
        game_id=body["gameId"],
        key_type=body["keyType"],
        quantity=body["quantity"],
        buyer_id=body["buyerId"],
        region=body["region"],
        actor=actor(),
        request_id=current_request_id(),
    )
    audit_repo.audit_export(
        session,
        actor=actor(),
        fmt="json",
        order_id=result.order.order_id,
        key_count=len(result.keys),
        request_id=current_request_id(),
    )
    headers = {"Cache-Control": "no-store"}
    body = _order_body(result.order, result.keys)
    return (body, 201, headers) if result.created else (body, 200, headers)


@blp.route("/orders/<order_id>/refund", methods=["POST"])
@require_scopes(SCOPE_ISSUE)
@transactional
@blp.arguments(s.StoreRefundRequestSchema)
@blp.response(200, s.StoreRefundSchema)
def refund(body, order_id):
    """Refund a store order: its keys not yet redeemed are revoked, redeemed ones are reported
    and stay activated. Idempotent: a repeat answers the same and changes nothing. Unknown
    order 404."""
    if not _ORDER_ID.match(order_id):
        raise ApiError("NOT_FOUND", "store order not found")
    result = store.refund(
        key_manager(),
        request_session(),
        order_id,
        reason=body.get("reason"),
        actor=actor(),
        request_id=current_request_id(),
    )
    return {
        "orderId": result.order.order_id,
        "refundedAt": ts(result.order.refunded_at),
        "revokedKeyIds": [row.id for row in result.keys if row.status == KeyStatus.REVOKED],
        "redeemedKeyIds": [row.id for row in result.keys if row.status == KeyStatus.ACTIVATED],
        "keys": [
            {"keyId": row.id, "status": row.status, "activatedAt": ts(row.activated_at)}
            for row in result.keys
        ],
    }


@blp.route("/stock", methods=["GET"])
@require_scopes(SCOPE_CATALOG_READ)
@blp.arguments(s.StockQuerySchema, location="query")
@blp.response(200, s.StockSchema)
def stock(query):
    """What the store can sell of a game per key type: its free keys (those retailer
    allocations also take from), within the studio's store quota when it set one. Every key type
    is listed, ``available`` 0 meaning sold out; an unknown game has 0 of each."""
    return {"gameId": query["gameId"], "items": store.stock(request_session(), query["gameId"])}
