"""Platform-admin routes: retailers, credentials, allocations, a retailer's keys, reports, analytics."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import request

from distribution.api import schemas as s
from distribution.api.common import actor, allocation_dict, retailer_dict, ts
from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain.analytics import retailer_metrics
from distribution.domain.money import sales_report
from distribution.usecases import allocations, leaks, retailers
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal, require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError, not_found
from gamekeys_platform.idempotency import HEADER, idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body

blp = Blueprint(
    "distribution-admin",
    __name__,
    url_prefix="/api/v1/distribution",
    description="Retailers, allocations and reports (platform admins)",
)

MAX_REPORT_DAYS = 366


def _retailer_or_404(retailer_id: uuid.UUID):
    row = repo.get_retailer(request_session(), retailer_id)
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
    row, secret = retailers.add_retailer(
        distribution(),
        request_session(),
        actor=actor(),
        name=body["name"],
        contact_info=s.ContactInfoSchema().dump(body["contactInfo"]),
        commission_rate=body["commissionRate"],
        allowed_game_ids=body["allowedGameIds"],
        allowed_regions=body["allowedRegions"],
    )
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
    changes = {field: body[field] for field in retailers.UPDATABLE if field in body}
    if "contactInfo" in changes:
        changes["contactInfo"] = s.ContactInfoSchema().dump(changes["contactInfo"])
    row = retailers.update_retailer(
        distribution(), request_session(), retailer_id, changes, actor=actor(), reason=body.get("reason")
    )
    return retailer_dict(row)


@blp.route("/retailers/<uuid:retailer_id>/credentials", methods=["POST"])
@require_roles("admin")
@transactional  # not @idempotent: the new secret must not be stored in clear for replays
@blp.response(200, s.RetailerSchema)
def rotate_credentials(retailer_id):
    """A new client secret (shown this once); the old secret and every token issued under it stop
    working at once. The client id stays."""
    row, secret = retailers.rotate_credentials(distribution(), request_session(), retailer_id, actor=actor())
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
    row = allocations.allocate(
        distribution(),
        request_session(),
        actor=actor(),
        idempotency_key=request.headers.get(HEADER),
        retailer_id=body["retailerId"],
        game_id=body["gameId"],
        key_type=body["keyType"],
        quantity=body["quantity"],
        price_amount=body["pricing"]["amount"],
        price_currency=body["pricing"]["currency"],
        restrictions=body["restrictions"],
    )
    return allocation_dict(row)


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
    result = allocations.release(
        distribution(),
        request_session(),
        allocation_id,
        actor=actor(),
        reason=body["reason"],
        revoke=body["revoke"],
    )
    return {
        "allocationId": result.allocation.id,
        "retailerId": result.allocation.retailer_id,
        "released": result.released,
        "releasedTotal": result.allocation.released_keys,
        "status": result.status,
        "releasedAt": ts(result.allocation.released_at),
    }


@blp.route("/retailers/<uuid:retailer_id>/revoke-unsold", methods=["POST"])
@error_responses({404: "NOT_FOUND: no such retailer, or a game or allocation the caller may not act on"})
@require_roles("admin", "developer")
@transactional
@blp.arguments(s.RevokeUnsoldRequestSchema)
@blp.response(201, s.RevocationReportSchema)
@blp.alt_response(200, schema=s.RevocationReportSchema, description="the requestId was used before (a retry)")
def revoke_unsold(body, retailer_id):
    """Leak response: every key allocated to the retailer and not yet sold is revoked in one
    operation (or only ``gameId``'s, or only ``allocationId``'s), and the retailer's stock there
    goes to zero; sold and activated keys stay with their buyers and are counted in the report.
    Platform admins act on every game, a studio's admins and developers on their own games'
    allocations only. Idempotent by ``requestId`` (per caller): a retry answers 200 with the
    first report; the same requestId with another game or allocation is 422."""
    principal = current_principal()
    result = leaks.revoke_unsold(
        distribution(),
        request_session(),
        leaks.Caller(principal.subject, "admin" in principal.roles),
        retailer_id=retailer_id,
        request_id=body["requestId"],
        reason=body["reason"],
        game_id=body["gameId"],
        allocation_id=body["allocationId"],
    )
    record = result.record
    answer = {
        "requestId": record.request_id,
        "retailerId": record.retailer_id,
        "gameId": record.game_id,
        "allocationId": record.allocation_id,
        "reason": record.reason,
        "revokedBy": record.created_by,
        "revokedAt": ts(record.created_at),
        **record.report,
    }
    return answer, 201 if result.created else 200


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
                allocated=int(row.allocated),
                sold=row.sold,
                returned=row.returned,
                activated=row.activated,
                charged_back=row.charged_back,
            ),
        }

    return page_body(page, item, lambda row: (row.created_at, row.id))
