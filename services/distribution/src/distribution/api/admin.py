"""Platform-admin routes: retailers, credentials, allocations, a retailer's keys, reports, analytics."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import request
from sqlalchemy import func

from distribution import events
from distribution.api import schemas as s
from distribution.api.common import actor, allocation_dict, retailer_dict, ts
from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain import retailers as rules
from distribution.domain.analytics import retailer_metrics
from distribution.domain.money import sales_report
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError, not_found
from gamekeys_platform.idempotency import HEADER, idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body
from gamekeys_platform.refusals import Refusal

blp = Blueprint(
    "distribution-admin",
    __name__,
    url_prefix="/api/v1/distribution",
    description="Retailers, allocations and reports (platform admins)",
)

MAX_REPORT_DAYS = 366
# Allocation ids derive from (caller, Idempotency-Key): a retry after a lost answer asks
# key-manager for the same allocation, which it replays instead of allocating twice.
_ALLOCATION_NAMESPACE = uuid.UUID("6f1f3a52-8e7c-4d5b-9a51-0c3b1de2a7f4")


def _retailer_or_404(retailer_id: uuid.UUID, *, for_update: bool = False):
    row = repo.get_retailer(request_session(), retailer_id, for_update=for_update)
    if row is None:
        raise not_found("retailer")
    return row


@blp.route("/retailers", methods=["POST"])
@require_roles("admin")
@transactional  # not @idempotent: a stored replay would keep the client secret in clear
@blp.arguments(s.RetailerCreateSchema)
@blp.response(201, s.RetailerSchema)
def add_retailer(body):
    """addRetailer: the retailer with its client credentials; the secret is shown this once."""
    dist, session = distribution(), request_session()
    secret = rules.new_client_secret()
    row = repo.insert_retailer(
        session,
        id=uuid.uuid4(),
        name=body["name"],
        contact_info=s.ContactInfoSchema().dump(body["contactInfo"]),
        commission_rate=body["commissionRate"],
        allowed_game_ids=sorted(set(body["allowedGameIds"])),
        allowed_regions=rules.normalize_regions(body["allowedRegions"]),
        status=rules.RetailerStatus.ACTIVE.value,
        client_id=rules.new_client_id(),
        secret_hash=dist.hasher.hash(secret),
        created_by=actor(),
    )
    dist.outbox.add(session, events.retailer_added(row, created_by=actor()))
    return retailer_dict(row, client_secret=secret)


@blp.route("/retailers", methods=["GET"])
@require_roles("admin", "support")
@blp.arguments(s.RetailerListQuerySchema, location="query")
@blp.response(200, s.RetailerPageSchema)
def get_retailers(query):
    """getRetailers, oldest first, cursor pages."""
    page = repo.page_retailers(
        request_session(),
        status=query.get("status"),
        after=decode_cursor(query.get("cursor"), repo.RETAILER_CURSOR),
        limit=query["limit"],
    )
    return page_body(page, retailer_dict, lambda row: (row.created_at, row.id))


@blp.route("/retailers/<uuid:retailer_id>", methods=["GET"])
@require_roles("admin", "support")
@blp.response(200, s.RetailerSchema)
def get_retailer(retailer_id):
    """A retailer (RetailerInfo, never its secret)."""
    return retailer_dict(_retailer_or_404(retailer_id))


@blp.route("/retailers/<uuid:retailer_id>", methods=["PATCH"])
@require_roles("admin")
@transactional
@blp.arguments(s.RetailerUpdateSchema)
@blp.response(200, s.RetailerSchema)
def update_retailer(body, retailer_id):
    """updateRetailer: suspend (its tokens stop working at once), reactivate, change terms."""
    dist, session = distribution(), request_session()
    current = _retailer_or_404(retailer_id, for_update=True)
    values: dict = {}
    if "status" in body and rules.status_change(current.status, body["status"]) is not None:
        values["status"] = body["status"]
    if "commissionRate" in body:
        values["commission_rate"] = body["commissionRate"]
    if "name" in body:
        values["name"] = body["name"]
    if "contactInfo" in body:
        values["contact_info"] = s.ContactInfoSchema().dump(body["contactInfo"])
    if "allowedGameIds" in body:
        values["allowed_game_ids"] = sorted(set(body["allowedGameIds"]))
    if "allowedRegions" in body:
        values["allowed_regions"] = rules.normalize_regions(body["allowedRegions"])
    changed = sorted(
        name
        for name, column in {
            "name": "name",
            "contactInfo": "contact_info",
            "commissionRate": "commission_rate",
            "allowedGameIds": "allowed_game_ids",
            "allowedRegions": "allowed_regions",
            "status": "status",
        }.items()
        if column in values and values[column] != getattr(current, column)
    )
    if not changed:
        return retailer_dict(current)
    row = repo.update_retailer(session, retailer_id, **values)
    dist.outbox.add(
        session,
        events.retailer_updated(
            row,
            changed_fields=changed,
            previous_status=current.status,
            reason=body.get("reason"),
            updated_by=actor(),
        ),
    )
    return retailer_dict(row)


@blp.route("/retailers/<uuid:retailer_id>/credentials", methods=["POST"])
@require_roles("admin")
@transactional  # not @idempotent: the new secret must not be stored in clear for replays
@blp.response(200, s.RetailerSchema)
def rotate_credentials(retailer_id):
    """A new client secret (shown this once); the old secret and every token issued under it stop
    working at once. The client id stays."""
    dist, session = distribution(), request_session()
    current = _retailer_or_404(retailer_id, for_update=True)
    secret = rules.new_client_secret()
    row = repo.update_retailer(
        session,
        retailer_id,
        secret_hash=dist.hasher.hash(secret),
        credentials_version=current.credentials_version + 1,
        credentials_rotated_at=func.now(),
    )
    dist.outbox.add(
        session,
        events.retailer_updated(
            row,
            changed_fields=["apiCredentials"],
            previous_status=current.status,
            reason=None,
            updated_by=actor(),
        ),
    )
    return retailer_dict(row, client_secret=secret)


@blp.route("/allocations", methods=["POST"])
@error_responses({404: "NOT_FOUND: no such retailer"})
@require_roles("admin")
@idempotent
@blp.arguments(s.AllocationRequestSchema)
@blp.response(201, s.AllocationSchema)
def allocate_keys(body):
    """allocateKeys: reserve ``quantity`` free keys of the game through key-manager, all or nothing.
    RETAILER_NOT_AUTHORIZED for an inactive retailer or a game (region) it may not sell;
    INSUFFICIENT_KEY_ALLOCATION with ``available`` when too few keys are free; 503 and no
    allocation when key-manager is unreachable (the attempt note stays for the worker, in case
    key-manager did reserve keys); 409 ALLOCATION_RELEASED for a retry of an attempt the worker
    released meanwhile."""
    dist, session = distribution(), request_session()
    retailer = repo.get_retailer(session, body["retailerId"])
    if retailer is None:
        raise ApiError("NOT_FOUND", "retailer not found", {"retailerId": str(body["retailerId"])})
    rules.authorize_allocation(
        status=retailer.status,
        allowed_game_ids=retailer.allowed_game_ids,
        allowed_regions=retailer.allowed_regions,
        game_id=body["gameId"],
        restrictions=body["restrictions"],
    )
    key = request.headers.get(HEADER)
    allocation_id = uuid.uuid5(_ALLOCATION_NAMESPACE, f"{actor()}|{key}") if key is not None else uuid.uuid4()
    # Noted in its own committed transaction first, so a crash after key-manager reserved the
    # keys leaves a trace the worker reconciles (tables.allocation_attempts).
    with dist.db.transaction() as attempts:
        claimed = repo.claim_allocation_attempt(
            attempts, allocation_id, retailer_id=retailer.id, requested_by=actor()
        )
    if not claimed:
        raise _released_meanwhile(allocation_id)
    try:
        dist.key_manager.allocate(
            allocation_id=allocation_id,
            retailer_id=retailer.id,
            game_id=body["gameId"],
            key_type=body["keyType"],
            quantity=body["quantity"],
        )
    except Refusal:  # key-manager refused: it reserved nothing
        with dist.db.transaction() as attempts:
            repo.forget_allocation_attempt(attempts, allocation_id)
        raise
    if not repo.finish_allocation_attempt(session, allocation_id):
        raise _released_meanwhile(allocation_id)
    restrictions = [
        {"type": r["type"], "countries": sorted({c.upper() for c in r["countries"]})}
        for r in body["restrictions"]
    ]
    row = repo.insert_allocation(
        session,
        id=allocation_id,
        retailer_id=retailer.id,
        game_id=body["gameId"],
        key_type=body["keyType"],
        quantity=body["quantity"],
        price_amount=body["pricing"]["amount"],
        price_currency=body["pricing"]["currency"],
        restrictions=restrictions,
        created_by=actor(),
    )
    dist.outbox.add(session, events.allocation_created(row))
    return allocation_dict(row)


def _released_meanwhile(allocation_id: uuid.UUID) -> ApiError:
    return ApiError(
        "CONFLICT",
        "this allocation was never recorded and its keys went back to the free pool; "
        "send the request again with a new Idempotency-Key",
        {"reason": "ALLOCATION_RELEASED", "allocationId": str(allocation_id)},
    )


@blp.route("/allocations/<uuid:allocation_id>/release", methods=["POST"])
@require_roles("admin")
@idempotent
@blp.arguments(s.AllocationReleaseRequestSchema)
@blp.response(200, s.AllocationReleaseSchema)
def release_allocation(body, allocation_id):
    """Take an allocation's unsold keys back from its retailer: into the free pool, or revoked
    (``revoke``). Keys the retailer has received but not sold can only be revoked (it knows them
    in clear): without ``revoke`` they make it 409 CONFLICT (KEYS_DELIVERED). Sold keys stay sold.
    Repeating it takes back nothing more."""
    dist, session = distribution(), request_session()
    allocation = repo.get_allocation_for_update(session, allocation_id)
    if allocation is None:
        raise not_found("allocation")
    seen = repo.delivered_unsold(session, allocation_id)
    if seen and not body["revoke"]:
        raise ApiError(
            "CONFLICT",
            "the retailer has received unsold keys of this allocation; they can only be revoked",
            {"reason": "KEYS_DELIVERED", "deliveredUnsold": seen},
        )
    result = dist.key_manager.release_allocation(allocation_id, reason=body["reason"], revoke=body["revoke"])
    released = result["released"] if result is not None else 0
    status = "revoked" if body["revoke"] else "generated"
    row = repo.record_release(session, allocation_id, released)
    if released:
        dist.outbox.add(
            session,
            events.allocation_released(
                row, released=released, status=status, reason=body["reason"], released_by=actor()
            ),
        )
    return {
        "allocationId": row.id,
        "retailerId": row.retailer_id,
        "released": released,
        "releasedTotal": row.released_keys,
        "status": status,
        "releasedAt": ts(row.released_at),
    }


@blp.route("/retailers/<uuid:retailer_id>/keys", methods=["GET"])
@require_roles("admin", "support")
@blp.arguments(s.AllocationListQuerySchema, location="query")
@blp.response(200, s.AllocationWithCountsPageSchema)
def get_retailer_keys(query, retailer_id):
    """getRetailerKeys: the retailer's allocations with their keys' states counted (plaintext keys
    only ever go to the retailer itself)."""
    _retailer_or_404(retailer_id)
    page = repo.page_allocations_with_counts(
        request_session(),
        retailer_id,
        after=decode_cursor(query.get("cursor"), repo.ALLOCATION_CURSOR),
        limit=query["limit"],
    )

    def item(row) -> dict:
        sold_kept = row.sold - row.returned - row.activated
        return {
            **allocation_dict(row),
            "keyCounts": {
                "allocated": row.quantity - row.sold - row.released_keys,
                "sold": max(sold_kept, 0),
                "returned": row.returned,
                "activated": row.activated,
                "delivered": row.delivered,
                "released": row.released_keys,
            },
        }

    return page_body(page, item, lambda row: (row.created_at, row.id))


@blp.route("/retailers/<uuid:retailer_id>/sales-report", methods=["GET"])
@require_roles("admin", "support")
@blp.arguments(s.SalesReportQuerySchema, location="query")
@blp.response(200, s.SalesReportSchema)
def get_sales_report(query, retailer_id):
    """getSalesReport: sales with from ≤ soldAt < to, per currency: units, gross, commission, net."""
    retailer = _retailer_or_404(retailer_id)
    start, end = query["from_"], query["to"]
    if start >= end or end - start > timedelta(days=MAX_REPORT_DAYS):
        raise ApiError(
            "VALIDATION_ERROR",
            f"the period must have from < to and span at most {MAX_REPORT_DAYS} days",
            {"fields": {"query": {"to": ["invalid period"]}}},
        )
    lines = repo.sale_lines(request_session(), retailer_id, start, end)
    return {
        "retailerId": retailer_id,
        "period": {"from": ts(start), "to": ts(end)},
        "commissionRate": str(retailer.commission_rate),
        "totals": sales_report(lines),
    }


@blp.route("/analytics", methods=["GET"])
@require_roles("admin", "support")
@blp.arguments(s.AnalyticsQuerySchema, location="query")
@blp.response(200, s.RetailerMetricsPageSchema)
def get_distribution_analytics(query):
    """getDistributionAnalytics: per retailer allocated, sold, returned, activated, sell-through
    (sold / allocated) and activation rate (activated / kept sales)."""
    page = repo.analytics_page(
        request_session(),
        after=decode_cursor(query.get("cursor"), repo.RETAILER_CURSOR),
        limit=query["limit"],
    )

    def item(row) -> dict:
        return {
            "retailerId": row.id,
            "name": row.name,
            "status": row.status,
            **retailer_metrics(
                allocated=int(row.allocated), sold=row.sold, returned=row.returned, activated=row.activated
            ),
        }

    return page_body(page, item, lambda row: (row.created_at, row.id))
