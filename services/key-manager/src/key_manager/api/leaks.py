"""Leak response and chargebacks on the internal API, ``/internal/v1/keys`` (service tokens; the
gateway never routes it): distribution revokes a retailer's unsold keys in one operation (scope
``keys:allocate``) and reports a retailer's chargebacks (scope ``keys:sell``)."""

from __future__ import annotations

from sqlalchemy import Row

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.request_context import current_request_id
from key_manager.api import schemas as s
from key_manager.api.views import actor, ts
from key_manager.context import key_manager
from key_manager.domain.access import SCOPE_ALLOCATE, SCOPE_SELL
from key_manager.usecases import chargebacks, leaks

blp = Blueprint(
    "internal-leaks",
    __name__,
    url_prefix="/internal/v1/keys",
    description="Leak response: a retailer's unsold keys revoked in one operation",
)


def revocation_body(record: Row) -> dict:
    return {
        "requestId": record.request_id,
        "retailerId": record.retailer_id,
        "reason": record.reason,
        "revokedBy": record.created_by,
        "revokedAt": ts(record.created_at),
        **record.report,
    }


@blp.route("/retailers/<uuid:retailer_id>/revoke-unsold", methods=["POST"])
@require_scopes(SCOPE_ALLOCATE)
@transactional
@blp.arguments(s.RevokeUnsoldRequestSchema)
@blp.response(201, s.RevocationReportSchema)
@blp.alt_response(
    200, schema=s.RevocationReportSchema, description="the request id was used before (a retry)"
)
def revoke_unsold(body, retailer_id):
    """Revoke every unsold key (allocated, or held for review from allocated) of the retailer's
    allocations, narrowed to ``gameIds`` and/or ``allocationId``, in one set-based statement;
    sold and activated keys stay and are counted. One allocation.released (status revoked) per
    allocation that lost keys. Idempotent by ``requestId``: a retry answers 200 with the first
    report; the same id with other parameters is 422 IDEMPOTENCY_CONFLICT. A named allocation
    that is not the retailer's is 404."""
    result = leaks.revoke_unsold(
        key_manager(),
        request_session(),
        request_id=body["requestId"],
        retailer_id=retailer_id,
        game_ids=body["gameIds"],
        allocation_id=body["allocationId"],
        reason=body["reason"],
        actor=actor(),
    )
    return revocation_body(result.record), 201 if result.created else 200


@blp.route("/chargebacks", methods=["POST"])
@error_responses(
    {
        404: "KEY_NOT_FOUND: keys that are not the retailer's or not of this order",
        409: "CONFLICT: a key that was not sold, or an activated key disputed already (KEY_ALREADY_DISPUTED)",
        410: "KEY_REVOKED / KEY_EXPIRED: a key revoked or expired already",
    }
)
@require_scopes(SCOPE_SELL)
@idempotent
@blp.arguments(s.ChargebackRequestSchema)
@blp.response(200, s.ChargebackResultSchema)
def charge_back(body):
    """A retailer's chargeback of keys of one order, all or nothing: keys not yet redeemed are
    revoked at once, activated keys stay activated and are disputed (a key.disputed each, which
    activation-gateway turns into activation.disputed). A redemption racing it either came first
    (disputed) or is refused KEY_REVOKED. Refused, nothing changed: keys not the retailer's or
    not of this order (404 KEY_NOT_FOUND), revoked (410 KEY_REVOKED), disputed already (409)."""
    result = chargebacks.charge_back(
        key_manager(),
        request_session(),
        chargeback_id=body["chargebackId"],
        retailer_id=body["retailerId"],
        order_id=body["orderId"],
        key_ids=body["keyIds"],
        reason=body["reason"],
        actor=actor(),
        request_id=current_request_id(),
    )
    return {
        "chargebackId": body["chargebackId"],
        "retailerId": body["retailerId"],
        "orderId": body["orderId"],
        "revokedKeyIds": result.revoked,
        "disputedKeyIds": result.disputed,
    }
