"""Public API, ``/api/v1/activations`` (bearer token): redeem, validate, history, key status,
region check, account restrictions. The views parse, authorize, call a use case
(``activation_gateway.usecases``) and shape its answer: the HTTP status comes from the refusal's
§3 code, RATE_LIMITED adds its Retry-After."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from flask import Response, jsonify, request
from prometheus_client import Counter
from sqlalchemy import Row, func, select

from activation_gateway.api import schemas as s
from activation_gateway.clients import KeyManagerRefusal
from activation_gateway.context import gateway
from activation_gateway.db import repository as repo
from activation_gateway.db.tables import activations
from activation_gateway.domain import blocks
from activation_gateway.domain.addresses import client_ip
from activation_gateway.domain.lockout import Identities
from activation_gateway.domain.redemption import (
    Attempt,
    FraudChecksUnavailable,
    Refusal,
    Status,
    activation_id_for,
    parse_account_created_at,
    redemption_result,
)
from activation_gateway.usecases import check_region as region_check
from activation_gateway.usecases import lockout
from activation_gateway.usecases import redeem as redemption
from activation_gateway.usecases import validate as validation
from gamekeys_platform.app import Blueprint, ErrorResponseSchema
from gamekeys_platform.auth import current_principal, ensure, require_auth, require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import (
    STATUS_BY_CODE,
    ApiError,
    error_body,
    format_timestamp,
    service_unavailable,
)
from gamekeys_platform.idempotency import HEADER as IDEMPOTENCY_HEADER
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.pagination import decode_cursor, page_body

blp = Blueprint(
    "activations",
    __name__,
    url_prefix="/api/v1/activations",
    description="Key redemption and activation history",
)

STAFF = ("admin", "support")
HISTORY_CURSOR = (datetime, uuid.UUID)


def _ip() -> str:
    gw = gateway()
    return client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"), gw.trusted_proxies)


def _attempt(body) -> Attempt:
    principal = current_principal()
    user_id = principal.subject
    device = body["deviceInfo"]
    return Attempt(
        user_id=user_id,
        key_text=body["key"],
        user_region=body["userRegion"].upper(),
        device_fingerprint=device["fingerprint"],
        platform=device.get("platform"),
        ip=_ip(),
        activation_id=activation_id_for(user_id, request.headers.get(IDEMPOTENCY_HEADER)),
        derived_id=IDEMPOTENCY_HEADER in request.headers,
        account_created_at=parse_account_created_at(
            principal.claims.get(gateway().settings.account_created_claim)
        ),
    )


REDEMPTIONS = Counter(
    "activation_redemptions_total", "Redemption answers by status and error code", ["status", "code"]
)


def _error(refusal: Refusal) -> dict:
    """§3's error object of a refusal (inside a RedemptionResult or ValidationResult)."""
    return error_body(refusal.code, refusal.message, refusal.details)["error"]


def _retry_after(refusal: Refusal) -> dict[str, str]:
    """A lockout's Retry-After (whole seconds, in ``details.retryAfter``)."""
    if refusal.code == "RATE_LIMITED":
        return {"Retry-After": str(refusal.details["retryAfter"])}
    return {}


def _respond(body: dict, status: int, refusal: Refusal | None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if refusal is not None:
        response.headers.update(_retry_after(refusal))
    return response


_SUCCESS_STATUS = {Status.ACTIVATED: 200, Status.PENDING_REVIEW: 202}


@blp.route("/redeem", methods=["POST"])
@require_roles("user")
@idempotent
@blp.arguments(s.RedeemRequestSchema)
@blp.response(200, s.RedemptionResultSchema)
@blp.alt_response(
    202, schema=s.RedemptionResultSchema, description="held for a fraud review (pending_review)"
)
@blp.alt_response(400, schema=s.RedemptionResultSchema, description="INVALID_KEY_FORMAT")
@blp.alt_response(
    403,
    schema=s.RedemptionResultSchema,
    description="REGION_RESTRICTED, VPN_DETECTED, FRAUD_DETECTED, ACCOUNT_BLOCKED, PUBLISHER_SUSPENDED",
)
@blp.alt_response(404, schema=s.RedemptionResultSchema, description="KEY_NOT_FOUND")
@blp.alt_response(
    409, schema=s.RedemptionResultSchema, description="KEY_ALREADY_ACTIVATED, or held for review"
)
@blp.alt_response(410, schema=s.RedemptionResultSchema, description="KEY_REVOKED, KEY_EXPIRED")
@blp.alt_response(
    429,
    schema=s.RedemptionResultSchema,
    description="RATE_LIMITED: locked out after failed attempts (Retry-After)",
)
def redeem(body):
    """Redeem a key for the caller: format, lockout, key state, region/VPN, fraud, then
    key-manager's exactly-once activation. Refusals are RedemptionResults whose ``error`` is
    §3's error object. Accepts Idempotency-Key."""
    try:
        result = redemption.redeem(gateway(), request_session(), _attempt(body))
    except FraudChecksUnavailable as exc:
        raise service_unavailable(exc.message, exc.retry_after) from None
    refusal = result.refusal
    error = None if refusal is None else _error(refusal)
    REDEMPTIONS.labels(result.status.value, refusal.code if refusal else "").inc()
    answer = redemption_result(
        result.status, result.transaction_id, game_id=result.game_id, key_id=result.key_id, error=error
    )
    status = STATUS_BY_CODE[refusal.code] if refusal else _SUCCESS_STATUS[result.status]
    return _respond(answer, status, refusal)


@blp.route("/validate", methods=["POST"])
@require_roles("user")
@transactional
@blp.arguments(s.RedeemRequestSchema)
@blp.response(200, s.ValidationResultSchema)
@blp.alt_response(
    429,
    schema=s.ValidationResultSchema,
    description="RATE_LIMITED: locked out after failed attempts (Retry-After)",
)
def validate_redemption(body):
    """Would this key redeem for the caller? A dry run of the redemption checks.

    Format, lockout, key state, region and VPN, as ``/redeem`` checks them: nothing is written,
    held or activated, antifraud is not asked; failures count toward the lockout. Not
    key-manager's ``POST /api/v1/keys/validate``, which checks a key's format only (and its
    state just for its studio and platform staff)."""
    result = validation.validate(gateway(), _attempt(body))
    key, refusal = result.key, result.refusal
    answer = {
        "valid": result.valid,
        "keyId": key and key.get("keyId"),
        "gameId": key and key.get("gameId"),
        "error": None if refusal is None else _error(refusal),
    }
    return _respond(answer, 429 if refusal is not None and refusal.code == "RATE_LIMITED" else 200, refusal)


def _record(row: Row) -> dict:
    def text(value):
        return None if value is None else str(value)

    return {
        "transactionId": str(row.id),
        "userId": row.user_id,
        "status": row.status,
        "keyId": text(row.key_id),
        "gameId": text(row.game_id),
        "errorCode": row.error_code,
        "userRegion": row.user_region,
        "ipCountry": row.ip_country,
        "platform": row.platform,
        "caseId": text(row.case_id),
        "createdAt": format_timestamp(row.created_at),
        "completedAt": format_timestamp(row.completed_at) if row.completed_at else None,
    }


def _self_or_staff(user_id: str) -> None:
    principal = current_principal()
    ensure(principal.subject == user_id or principal.has_role(*STAFF))


@blp.route("/users/<uuid:user_id>/history", methods=["GET"])
@require_auth
@blp.arguments(s.HistoryQuerySchema, location="query")
@blp.response(200, s.HistoryPageSchema)
def history(query, user_id):
    """A user's activations, newest first (the user themself, support, admin); cursor pages."""
    user_id = str(user_id)
    _self_or_staff(user_id)
    page = repo.history_page(
        request_session(),
        user_id,
        after=decode_cursor(query.get("cursor"), HISTORY_CURSOR),
        limit=query["limit"],
    )
    return page_body(page, _record, lambda row: (row.created_at, row.id))


@blp.route("/keys/<uuid:key_id>/status", methods=["GET"])
@require_auth
@blp.response(200, s.KeyStatusSchema)
def key_status(key_id):
    """A key's activation status: support and admin see every key; a developer sees its own
    studio's keys (key-manager checks ownership with the caller's token). Others: 404."""
    gw, principal = gateway(), current_principal()
    if principal.has_role(*STAFF):
        try:
            key = gw.key_manager.lookup(key_id=str(key_id))
        except KeyManagerRefusal:
            raise ApiError("NOT_FOUND", "key not found") from None
    elif principal.has_role("developer"):
        key = gw.key_manager.key_info_as(str(key_id), request.headers["Authorization"])
        if key is None:
            raise ApiError("NOT_FOUND", "key not found")
    else:
        raise ApiError("NOT_FOUND", "key not found")
    rows = repo.for_key(request_session(), key_id)
    return {
        "keyId": str(key_id),
        "status": key.get("status"),
        "gameId": key.get("gameId") and str(key.get("gameId")),
        "activatedAt": key.get("activatedAt"),
        "activations": [_record(row) for row in rows],
    }


@blp.route("/check-region", methods=["POST"])
@require_auth
@blp.arguments(s.CheckRegionRequestSchema)
@blp.response(200, s.CheckRegionResultSchema)
@blp.alt_response(400, schema=ErrorResponseSchema, description="INVALID_KEY_FORMAT (counted)")
@blp.alt_response(404, schema=ErrorResponseSchema, description="KEY_NOT_FOUND (counted)")
@blp.alt_response(
    429,
    schema=ErrorResponseSchema,
    description="RATE_LIMITED: locked out after failed attempts (Retry-After)",
)
def check_region(body):
    """checkRegionalRestrictions: would this key be refused for ``userRegion`` from the
    caller's network (REGION_RESTRICTED / VPN_DETECTED)? Unknown keys are KEY_NOT_FOUND. The
    answer tells whether a key exists, so calls count toward the redemption lockout like
    /redeem's (429 RATE_LIMITED with Retry-After once locked out)."""
    verdict = region_check.check_region(
        gateway(),
        Identities(current_principal().subject, _ip(), None),
        key_text=body.get("key"),
        key_id=str(body["keyId"]) if "keyId" in body else None,
        user_region=body["userRegion"],
    )
    if isinstance(verdict, Refusal):
        raise verdict.as_api_error(headers=_retry_after(verdict))
    return {
        "allowed": verdict.allowed,
        "code": verdict.code,
        "reason": verdict.reason,
        "details": verdict.details,
    }


@blp.route("/users/<uuid:user_id>/restrictions", methods=["GET"])
@require_auth
@blp.response(200, s.RestrictionsSchema)
def restrictions(user_id):
    """checkAccountRestrictions: the user's brute-force lockouts and blocks in force (and, for
    the user themself, those of their current address) with expiry, and their open fraud reviews."""
    user_id = str(user_id)
    _self_or_staff(user_id)
    gw, principal = gateway(), current_principal()
    identities = Identities(user_id, _ip() if principal.subject == user_id else "", None)
    staff = principal.has_role(*STAFF)
    block_rows = repo.blocks_in_force(request_session(), blocks.wanted(identities))
    in_force = [
        {
            "blockId": str(row.id),
            "entityType": row.entity_type,
            "expiresAt": format_timestamp(row.expires_at) if row.expires_at else None,
            # Why is support's note; the player sees that and until when.
            "reason": row.reason if staff else None,
        }
        for row in block_rows
    ]
    now = datetime.now(UTC)
    lockouts = []
    for state in lockout.lockout_states(gw, identities):
        retry = math.ceil(state.retry_after) if state.locked else 0
        lockouts.append(
            {
                "dimension": state.rule.dimension,
                "limit": state.rule.limit,
                "windowSeconds": state.rule.window_seconds,
                "remaining": max(0, state.remaining),
                "locked": state.locked,
                "retryAfter": retry,
                "expiresAt": format_timestamp(now + timedelta(seconds=retry)) if state.locked else None,
            }
        )
    pending = (
        request_session()
        .execute(
            select(func.count())
            .select_from(activations)
            .where(activations.c.user_id == user_id, activations.c.status == "pending_review")
        )
        .scalar_one()
    )
    return {
        "userId": user_id,
        "canRedeem": not in_force and not any(lockout["locked"] for lockout in lockouts),
        "lockouts": lockouts,
        "blocks": in_force,
        "pendingReviews": pending,
    }
