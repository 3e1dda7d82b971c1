"""Internal API for the other services, ``/internal/v1/keys`` (service tokens with scopes; the
gateway never routes it): look-up, hold/release, activation, allocation, sale, return."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Row

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.pagination import decode_cursor
from gamekeys_platform.request_context import current_request_id
from key_manager.api import schemas as s
from key_manager.api.views import actor, exported_keys_page, normalized_or_400, ts
from key_manager.context import key_manager
from key_manager.db import allocations as allocations_repo
from key_manager.db import audit as audit_repo
from key_manager.db import keys as keys_repo
from key_manager.domain.access import SCOPE_ACTIVATE, SCOPE_ALLOCATE, SCOPE_HOLD, SCOPE_READ, SCOPE_SELL
from key_manager.usecases import keys as key_usecases
from key_manager.usecases import sales
from key_manager.usecases.keys import KeyRef

blp = Blueprint(
    "internal-keys", __name__, url_prefix="/internal/v1/keys", description="Service-to-service key operations"
)


def _ref(body) -> KeyRef:
    """A typed key (normalised, hashed: INVALID_KEY_FORMAT if it cannot be a key) or an id."""
    if "key" in body:
        return KeyRef(lookup_hash=key_manager().vault.lookup_hash(normalized_or_400(body["key"])))
    return KeyRef(key_id=body["keyId"])


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
        "publisherSuspended": key.publisher_suspended,
    }


def _hold_result(result: key_usecases.Hold) -> dict:
    return {
        "keyId": result.key_id,
        "status": result.status,
        "holdId": result.hold_id,
        "gameId": result.game_id,
    }


@blp.route("/lookup", methods=["POST"])
@require_scopes(SCOPE_READ)
@blp.arguments(s.KeyRefSchema)
@blp.response(200, s.LookupResultSchema)
def lookup(body):
    """A key by what the player typed (normalised, hashed) or by id: state, game, batch, type,
    regions, expiry, retailer."""
    ref = _ref(body)
    key = keys_repo.look_up(request_session(), lookup_hash=ref.lookup_hash, key_id=ref.key_id)
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
    held = key_usecases.hold(
        key_manager(),
        request_session(),
        _ref(body),
        hold_id=body["holdId"],
        reason=body.get("reason"),
        actor=actor(),
        request_id=current_request_id(),
    )
    return _hold_result(held)


@blp.route("/release", methods=["POST"])
@require_scopes(SCOPE_HOLD)
@transactional
@blp.arguments(s.HoldRequestSchema)
@blp.response(200, s.HoldResultSchema)
def release(body):
    """End a hold: the key goes back to the state it was held from."""
    released = key_usecases.release(
        key_manager(),
        request_session(),
        _ref(body),
        hold_id=body["holdId"],
        reason=body.get("reason"),
        actor=actor(),
        request_id=current_request_id(),
    )
    return _hold_result(released)


@blp.route("/activate", methods=["POST"])
@require_scopes(SCOPE_ACTIVATE)
@idempotent
@blp.arguments(s.ActivateRequestSchema)
@blp.response(200, s.ActivationResultSchema)
def activate(body):
    """Activate a key exactly once (one conditional UPDATE) and return its game. Refused when
    the key is activated, revoked, expired (even before the expiry job ran), held for review
    (unless ``holdId`` is the hold's), restricted in ``userRegion`` or of a suspended studio
    (PUBLISHER_SUSPENDED). Repeating a successful
    activation with the same ``activationId`` answers the same result again."""
    activated = key_usecases.activate(
        key_manager(),
        request_session(),
        _ref(body),
        user_id=body["userId"],
        activation_id=body["activationId"],
        region=body["userRegion"],
        hold_id=body.get("holdId"),
        actor=actor(),
        request_id=current_request_id(),
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
    result = sales.allocate(
        key_manager(),
        request_session(),
        allocation_id=body["allocationId"],
        retailer_id=body["retailerId"],
        game_id=body["gameId"],
        key_type=body["keyType"],
        quantity=body["quantity"],
        actor=actor(),
        request_id=current_request_id(),
    )
    if not result.created:
        return _allocation_dict(result.allocation), 200
    return _allocation_dict(result.allocation)


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
    result = sales.release_allocation(
        key_manager(),
        request_session(),
        allocation_id,
        revoke=body["revoke"],
        reason=body["reason"],
        actor=actor(),
        request_id=current_request_id(),
    )
    return {
        "allocationId": allocation_id,
        "retailerId": result.allocation.retailer_id,
        "released": result.released,
        "status": result.status.value,
    }


@blp.route("/retailer-keys", methods=["POST"])
@require_scopes(SCOPE_SELL)
@blp.arguments(s.RetailerKeysRequestSchema)
@blp.response(200, s.RetailerKeysSchema)
def retailer_keys(body):
    """Which of these keys were allocated to this retailer (ids only), so distribution can tell
    a key the retailer has not fetched yet from one that is not its own."""
    return {"keyIds": keys_repo.keys_of_retailer(request_session(), body["retailerId"], body["keyIds"])}


@blp.route("/sales", methods=["POST"])
@require_scopes(SCOPE_SELL)
@idempotent
@blp.arguments(s.SaleRequestSchema)
@blp.response(200, s.KeysChangedSchema)
def mark_sold(body):
    """Mark allocated keys sold by their retailer (all or nothing); one key.sold event."""
    ids = sales.sell(
        key_manager(),
        request_session(),
        retailer_id=body["retailerId"],
        order_id=body["orderId"],
        key_ids=body["keyIds"],
        sold_at=body["soldAt"],
        actor=actor(),
        request_id=current_request_id(),
    )
    return {"orderId": body["orderId"], "retailerId": body["retailerId"], "keyIds": ids, "status": "sold"}


@blp.route("/returns", methods=["POST"])
@require_scopes(SCOPE_SELL)
@idempotent
@blp.arguments(s.ReturnRequestSchema)
@blp.response(200, s.KeysChangedSchema)
def return_keys(body):
    """A retailer's return: its unactivated keys are revoked (all or nothing); one key.returned event."""
    ids = sales.return_keys(
        key_manager(),
        request_session(),
        retailer_id=body["retailerId"],
        order_id=body["orderId"],
        key_ids=body["keyIds"],
        reason=body["reason"],
        actor=actor(),
        request_id=current_request_id(),
    )
    return {"orderId": body["orderId"], "retailerId": body["retailerId"], "keyIds": ids, "status": "revoked"}
