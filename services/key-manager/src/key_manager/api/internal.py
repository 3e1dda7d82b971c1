"""Internal API for the other services, ``/internal/v1/keys`` (service tokens with scopes; the
gateway never routes it): look-up, hold/release, activation, allocation, sale, return."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.pagination import decode_cursor
from gamekeys_platform.request_context import current_request_id
from key_manager import events
from key_manager.api import schemas as s
from key_manager.api.views import actor, exported_keys_page, normalized_or_400, ts
from key_manager.context import key_manager
from key_manager.db import allocations as allocations_repo
from key_manager.db import audit as audit_repo
from key_manager.db import keys as keys_repo
from key_manager.domain.access import SCOPE_ACTIVATE, SCOPE_ALLOCATE, SCOPE_HOLD, SCOPE_READ, SCOPE_SELL
from key_manager.domain.regions import RegionPolicy
from key_manager.domain.states import KeyStatus, TransitionRefused, check_transition

blp = Blueprint(
    "internal-keys", __name__, url_prefix="/internal/v1/keys", description="Service-to-service key operations"
)


def _ref(body) -> tuple[bytes | None, uuid.UUID | None]:
    """(lookup hash, None) for a typed key, (None, key id) for an id."""
    if "key" in body:
        return key_manager().vault.lookup_hash(normalized_or_400(body["key"])), None
    return None, body["keyId"]


def _expired(key: Row) -> bool:
    return key.expires_at is not None and key.expires_at <= datetime.now(UTC)


def _lookup_result(key: Row) -> dict:
    return {
        "keyId": key.id,
        "status": key.status,
        "gameId": key.game_id,
        "developerId": key.developer_id,
        "batchId": key.batch_id,
        "keyType": key.key_type,
        "regionalRestrictions": key.regional_restrictions,
        "expiresAt": ts(key.expires_at),
        "expired": key.status == "expired" or (_expired(key) and key.status != "activated"),
        "retailerId": key.retailer_id,
        "allocationId": key.allocation_id,
        "soldAt": ts(key.sold_at),
        "activatedAt": ts(key.activated_at),
        "holdId": key.hold_id,
    }


def _refusal(key: Row | None, *, region: str | None = None, hold_id: str | None = None) -> ApiError:
    """Why a conditional update matched nothing, in §3 terms."""
    if key is None:
        return ApiError("KEY_NOT_FOUND", "key not found")
    details = {"keyId": str(key.id), "status": key.status}
    if key.status == "activated":
        return ApiError("KEY_ALREADY_ACTIVATED", "the key has been activated already", details)
    if key.status == "revoked":
        return ApiError("KEY_REVOKED", "the key has been revoked", details)
    if key.status == "expired" or (_expired(key) and key.status != "pending_review"):
        return ApiError("KEY_EXPIRED", "the key has expired", details)
    if key.status == "pending_review" and key.hold_id != hold_id:
        return ApiError("CONFLICT", "the key is held for a fraud review", details)
    if region is not None:
        policy = RegionPolicy.from_columns(key.allowed_countries, key.denied_countries)
        if not policy.permits(region):
            return ApiError(
                "REGION_RESTRICTED",
                f"this key cannot be activated in {region.upper()}",
                {**details, "region": region.upper(), "regionalRestrictions": key.regional_restrictions},
            )
    return ApiError("CONFLICT", "the key changed meanwhile, retry", details)


@blp.route("/lookup", methods=["POST"])
@require_scopes(SCOPE_READ)
@blp.arguments(s.KeyRefSchema)
@blp.response(200, s.LookupResultSchema)
def lookup(body):
    """A key by what the player typed (normalised, hashed) or by id: state, game, batch, type,
    regions, expiry, retailer."""
    lookup_hash, key_id = _ref(body)
    key = keys_repo.find_key(request_session(), lookup_hash=lookup_hash, key_id=key_id)
    if key is None:
        raise ApiError("KEY_NOT_FOUND", "key not found")
    return _lookup_result(key)


@blp.route("/hold", methods=["POST"])
@require_scopes(SCOPE_HOLD)
@transactional
@blp.arguments(s.HoldRequestSchema)
@blp.response(200, s.HoldResultSchema)
def hold(body):
    """Hold a key while a fraud case is open (pending_review); nobody can activate it meanwhile
    except with this holdId. Holding again with the same holdId is a no-op."""
    km, session = key_manager(), request_session()
    lookup_hash, key_id = _ref(body)
    held = keys_repo.hold(session, lookup_hash=lookup_hash, key_id=key_id, hold_id=body["holdId"])
    if held is None:
        key = keys_repo.find_key(session, lookup_hash=lookup_hash, key_id=key_id)
        if key is not None and key.status == "pending_review" and key.hold_id == body["holdId"]:
            return {"keyId": key.id, "status": key.status, "holdId": key.hold_id, "gameId": key.game_id}
        raise _refusal(key)
    audit_repo.record_transition(
        session,
        held.id,
        held.from_status,
        "pending_review",
        actor=actor(),
        operation="hold",
        reason=body.get("reason"),
        request_id=current_request_id(),
    )
    km.outbox.add(session, events.key_held(held, body["holdId"], body.get("reason")))
    return {"keyId": held.id, "status": "pending_review", "holdId": body["holdId"], "gameId": held.game_id}


@blp.route("/release", methods=["POST"])
@require_scopes(SCOPE_HOLD)
@transactional
@blp.arguments(s.HoldRequestSchema)
@blp.response(200, s.HoldResultSchema)
def release(body):
    """End a hold: the key goes back to the state it was held from."""
    km, session = key_manager(), request_session()
    lookup_hash, key_id = _ref(body)
    released = keys_repo.release(session, lookup_hash=lookup_hash, key_id=key_id, hold_id=body["holdId"])
    if released is None:
        key = keys_repo.find_key(session, lookup_hash=lookup_hash, key_id=key_id)
        if key is None:
            raise ApiError("KEY_NOT_FOUND", "key not found")
        raise ApiError(
            "CONFLICT", "the key is not held with this holdId", {"keyId": str(key.id), "status": key.status}
        )
    audit_repo.record_transition(
        session,
        released.id,
        "pending_review",
        released.to_status,
        actor=actor(),
        operation="release",
        reason=body.get("reason"),
        request_id=current_request_id(),
    )
    km.outbox.add(session, events.key_released(released, body["holdId"]))
    return {
        "keyId": released.id,
        "status": released.to_status,
        "holdId": body["holdId"],
        "gameId": released.game_id,
    }


@blp.route("/activate", methods=["POST"])
@require_scopes(SCOPE_ACTIVATE)
@idempotent
@blp.arguments(s.ActivateRequestSchema)
@blp.response(200, s.ActivationResultSchema)
def activate(body):
    """Activate a key exactly once (one conditional UPDATE) and return its game. Refused when
    the key is activated, revoked, expired (even before the expiry job ran), held for review
    (unless ``holdId`` is the hold's) or restricted in ``userRegion``. Repeating a successful
    activation with the same ``activationId`` answers the same result again."""
    km, session = key_manager(), request_session()
    lookup_hash, key_id = _ref(body)
    region = body["userRegion"].upper()
    activated = keys_repo.activate(
        session,
        lookup_hash=lookup_hash,
        key_id=key_id,
        user_id=body["userId"],
        activation_id=body["activationId"],
        region=region,
        hold_id=body.get("holdId"),
    )
    if activated is None:
        key = keys_repo.find_key(session, lookup_hash=lookup_hash, key_id=key_id)
        if key is not None and key.status == "activated" and key.activation_id == body["activationId"]:
            return _activation_result(key, key.activation_id)
        raise _refusal(key, region=region, hold_id=body.get("holdId"))
    audit_repo.record_transition(
        session,
        activated.id,
        activated.from_status,
        "activated",
        actor=actor(),
        operation="activate",
        reason=f"activation {body['activationId']} by {body['userId']}",
        request_id=current_request_id(),
    )
    km.outbox.add(
        session,
        events.key_activated(
            activated, user_id=body["userId"], activation_id=body["activationId"], region=region
        ),
    )
    return _activation_result(activated, body["activationId"])


def _activation_result(key: Row, activation_id: str) -> dict:
    return {
        "keyId": key.id,
        "gameId": key.game_id,
        "batchId": key.batch_id,
        "developerId": key.developer_id,
        "keyType": key.key_type,
        "status": "activated",
        "activatedAt": ts(key.activated_at),
        "activationId": activation_id,
    }


def _allocation_dict(allocation: Row) -> dict:
    return {
        "allocationId": allocation.id,
        "retailerId": allocation.retailer_id,
        "gameId": allocation.game_id,
        "keyType": allocation.key_type,
        "quantity": allocation.quantity,
        "createdAt": ts(allocation.created_at),
    }


@blp.route("/allocations", methods=["POST"])
@require_scopes(SCOPE_ALLOCATE)
@transactional
@blp.arguments(s.AllocationRequestSchema)
@blp.response(201, s.AllocationSchema)
@blp.alt_response(200, schema=s.AllocationSchema, description="the allocation existed already (a retry)")
def allocate(body):
    """Allocate N free keys of a game and type to a retailer, all or nothing, idempotent by
    allocationId (a retry answers 200 with the same allocation; other parameters 422)."""
    km, session = key_manager(), request_session()
    allocated = allocations_repo.create_allocation(
        session,
        allocation_id=body["allocationId"],
        retailer_id=body["retailerId"],
        game_id=body["gameId"],
        key_type=body["keyType"],
        quantity=body["quantity"],
        actor=actor(),
        request_id=current_request_id(),
    )
    if allocated is None:
        existing = allocations_repo.get_allocation(session, body["allocationId"])
        same = (existing.retailer_id, existing.game_id, existing.key_type, existing.quantity) == (
            body["retailerId"],
            body["gameId"],
            body["keyType"],
            body["quantity"],
        )
        if not same:
            raise ApiError("IDEMPOTENCY_CONFLICT", "this allocationId was used with other parameters")
        return _allocation_dict(existing), 200
    if allocated < body["quantity"]:
        raise ApiError(
            "INSUFFICIENT_KEY_ALLOCATION",
            f"only {allocated} free {body['keyType']} keys of this game are available",
            {"requested": body["quantity"], "available": allocated},
        )
    allocation = allocations_repo.get_allocation(session, body["allocationId"])
    km.outbox.add(session, events.key_allocated(allocation))
    return _allocation_dict(allocation)


@blp.route("/allocations/<uuid:allocation_id>/keys", methods=["GET"])
@require_scopes(SCOPE_ALLOCATE)
@transactional
@blp.arguments(s.KeyPageQuerySchema, location="query")
@blp.response(200, s.KeyExportPageSchema)
def allocation_keys(query, allocation_id):
    """An allocation's keys, decrypted, for the retailer (audited like every export)."""
    km, session = key_manager(), request_session()
    if allocations_repo.get_allocation(session, allocation_id) is None:
        raise ApiError("NOT_FOUND", "allocation not found")
    page = allocations_repo.page_allocation_keys(
        session,
        allocation_id,
        after=decode_cursor(query.get("cursor"), keys_repo.KEY_CURSOR),
        limit=query["limit"],
    )
    audit_repo.audit_export(
        session,
        actor=actor(),
        fmt="json",
        allocation_id=allocation_id,
        key_count=len(page.rows),
        cursor=query.get("cursor"),
        request_id=current_request_id(),
    )
    return exported_keys_page(km.vault, page)


@blp.route("/allocations/<uuid:allocation_id>/release", methods=["POST"])
@require_scopes(SCOPE_ALLOCATE)
@transactional
@blp.arguments(s.AllocationReleaseRequestSchema)
@blp.response(200, s.AllocationReleaseSchema)
def release_allocation(body, allocation_id):
    """The allocation's unsold keys leave it: back to the free pool, or revoked (``revoke``).
    Idempotent: a repeat changes nothing and answers ``released: 0``; one allocation.released
    event when keys changed."""
    km, session = key_manager(), request_session()
    allocation = allocations_repo.get_allocation(session, allocation_id)
    if allocation is None:
        raise ApiError("NOT_FOUND", "allocation not found")
    status = KeyStatus.REVOKED if body["revoke"] else KeyStatus.GENERATED
    released = allocations_repo.release_allocation(
        session,
        allocation_id,
        revoke=body["revoke"],
        actor=actor(),
        reason=f"allocation {allocation_id} released: {body['reason']}",
        request_id=current_request_id(),
    )
    if released:
        km.outbox.add(
            session,
            events.allocation_released(
                allocation, released=released, status=status.value, reason=body["reason"], actor=actor()
            ),
        )
    return {
        "allocationId": allocation_id,
        "retailerId": allocation.retailer_id,
        "released": released,
        "status": status.value,
    }


@blp.route("/retailer-keys", methods=["POST"])
@require_scopes(SCOPE_SELL)
@blp.arguments(s.RetailerKeysRequestSchema)
@blp.response(200, s.RetailerKeysSchema)
def retailer_keys(body):
    """Which of these keys were allocated to this retailer (ids only), so distribution can tell
    a key the retailer has not fetched yet from one that is not its own."""
    return {"keyIds": keys_repo.keys_of_retailer(request_session(), body["retailerId"], body["keyIds"])}


def _retailer_keys(
    session: Session, retailer_id: uuid.UUID, key_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    unique = sorted(set(key_ids))
    rows = {row.id: row for row in keys_repo.keys_for_update(session, unique)}
    missing = [str(k) for k in unique if k not in rows]
    if missing:
        raise ApiError("KEY_NOT_FOUND", "some keys do not exist", {"keyIds": missing[:50]})
    foreign = [str(k) for k, row in rows.items() if row.retailer_id != retailer_id]
    if foreign:
        raise ApiError(
            "RETAILER_NOT_AUTHORIZED",
            "some keys are not allocated to this retailer",
            {"keyIds": foreign[:50]},
        )
    return rows


def _check_all(rows: dict[uuid.UUID, Row], target: KeyStatus) -> None:
    for row in rows.values():
        try:
            check_transition(row.status, target, held_from=row.held_from_status)
        except TransitionRefused as exc:
            code = "KEY_ALREADY_ACTIVATED" if row.status == "activated" else "CONFLICT"
            raise ApiError(code, exc.reason, {"keyId": str(row.id), "currentStatus": row.status}) from None


@blp.route("/sales", methods=["POST"])
@require_scopes(SCOPE_SELL)
@idempotent
@blp.arguments(s.SaleRequestSchema)
@blp.response(200, s.KeysChangedSchema)
def mark_sold(body):
    """Mark allocated keys sold by their retailer (all or nothing); one key.sold event."""
    km, session = key_manager(), request_session()
    rows = _retailer_keys(session, body["retailerId"], body["keyIds"])
    if all(row.status == "sold" and row.order_id == body["orderId"] for row in rows.values()):
        return {
            "orderId": body["orderId"],
            "retailerId": body["retailerId"],
            "keyIds": sorted(rows),
            "status": "sold",
        }
    _check_all(rows, KeyStatus.SOLD)
    sold_at = body["soldAt"] or datetime.now(UTC)
    ids = sorted(rows)
    keys_repo.bulk_transition(
        session,
        ids,
        rows,
        KeyStatus.SOLD,
        actor=actor(),
        operation="sell",
        reason=f"order {body['orderId']}",
        request_id=current_request_id(),
        values={"sold_at": sold_at, "order_id": body["orderId"]},
    )
    km.outbox.add(
        session,
        events.keys_sold(body["retailerId"], body["orderId"], ids, sold_at),
    )
    return {"orderId": body["orderId"], "retailerId": body["retailerId"], "keyIds": ids, "status": "sold"}


@blp.route("/returns", methods=["POST"])
@require_scopes(SCOPE_SELL)
@idempotent
@blp.arguments(s.ReturnRequestSchema)
@blp.response(200, s.KeysChangedSchema)
def return_keys(body):
    """A retailer's return: its unactivated keys are revoked (all or nothing); one key.returned event."""
    km, session = key_manager(), request_session()
    rows = _retailer_keys(session, body["retailerId"], body["keyIds"])
    _check_all(rows, KeyStatus.REVOKED)
    ids = sorted(rows)
    keys_repo.bulk_transition(
        session,
        ids,
        rows,
        KeyStatus.REVOKED,
        actor=actor(),
        operation="return",
        reason=f"returned (order {body['orderId']}): {body['reason']}",
        request_id=current_request_id(),
        values={"hold_id": None, "held_from_status": None},
    )
    km.outbox.add(
        session,
        events.keys_returned(body["retailerId"], body["orderId"], ids, body["reason"]),
    )
    return {"orderId": body["orderId"], "retailerId": body["retailerId"], "keyIds": ids, "status": "revoked"}
