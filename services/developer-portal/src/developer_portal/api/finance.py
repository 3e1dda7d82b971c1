"""Finance: the studio's balance, ledger entries (JSON pages or CSV), payouts, the next
scheduled payout and payout settings (studio ``admin`` and ``finance`` roles; platform admins
read any studio with ``developerId``), and the platform admins' revenue share and adjustments."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

from flask import Response, request, stream_with_context

from developer_portal.api import access
from developer_portal.api.blueprints import internal, public
from developer_portal.api.schemas import (
    AdjustmentSchema,
    BalancesSchema,
    PayoutPageSchema,
    PayoutPreviewSchema,
    PayoutQuerySchema,
    PayoutRequestSchema,
    PayoutSchema,
    PayoutSettingsSchema,
    PayoutSettingsUpdateSchema,
    RevenueShareSchema,
    RevenueShareUpdateSchema,
    StudioQuerySchema,
    TransactionPageSchema,
    TransactionQuerySchema,
    TransactionSchema,
)
from developer_portal.context import portal
from developer_portal.db import finance as repo
from developer_portal.db import ledger, repository
from developer_portal.domain import payouts
from developer_portal.domain.permissions import PLATFORM_ADMIN, Action
from developer_portal.usecases import finance
from gamekeys_platform.auth import require_roles, require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, encode_cursor, page_body

_PAYOUT_REFUSALS = {
    403: "FORBIDDEN: the studio is not verified (details.reason DEVELOPER_NOT_VERIFIED)",
    409: "CONFLICT: no payout settings (PAYOUT_SETTINGS_INCOMPLETE) or more than the available "
    "balance (INSUFFICIENT_BALANCE, details.available)",
    422: "VALIDATION_ERROR: below the payout threshold (BELOW_THRESHOLD, details.threshold)",
}
CSV_EXPORT_PAGE = 1000
SCOPE_PAYOUTS = "payouts:process"


@public.route("/finance/balance", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(StudioQuerySchema, location="query")
@public.response(200, BalancesSchema)
def get_balance(query):
    """The studio's balances per currency: available (may be negative: carried forward), pending
    (held), in payout and paid out."""
    studio = access.studio_to_read(query["developerId"], Action.FINANCE_READ)
    return finance.balance_document(request_session(), studio.developer.developer_id)


@public.route("/finance/transactions", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(TransactionQuerySchema, location="query")
@public.response(
    200, TransactionPageSchema, description="JSON pages; with `Accept: text/csv` every entry as CSV"
)
def list_transactions(query):
    """The studio's ledger entries, newest first, by date, type or game: what each did to its
    balances and what it records (sale, return, store revenue, refund, payout...)."""
    developer_id = access.studio_to_read(query["developerId"], Action.FINANCE_READ).developer.developer_id
    filters = {
        "kinds": query["type"],
        "game_id": query["gameId"],
        "since": query["since"],
        "until": query["until"],
    }
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        response = Response(stream_with_context(_csv_rows(developer_id, filters)), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="transactions-{developer_id}.csv"'
        return response
    session = request_session()
    page = ledger.list_entries(
        session, developer_id, **filters, after=decode_cursor(query["cursor"], (int,)), limit=query["limit"]
    )
    items = finance.entry_documents(session, developer_id, page.rows)
    more = page.has_more and page.rows
    return {"items": items, "nextCursor": encode_cursor([page.rows[-1].seq]) if more else None}


_CSV_COLUMNS = (
    "entryId",
    "type",
    "amount",
    "currency",
    "available",
    "pending",
    "inPayout",
    "paidOut",
    "gameId",
    "source",
    "occurredAt",
    "postedAt",
)


def _csv_rows(developer_id: uuid.UUID, filters: dict):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_CSV_COLUMNS)
    yield buffer.getvalue()
    after = None
    while True:
        with portal().db.sessions() as session:
            page = ledger.list_entries(session, developer_id, **filters, after=after, limit=CSV_EXPORT_PAGE)
            documents = finance.entry_documents(session, developer_id, page.rows)
        buffer.seek(0)
        buffer.truncate()
        for entry in (TransactionSchema().dump(d) for d in documents):
            writer.writerow(
                [
                    entry["entryId"],
                    entry["type"],
                    entry["amount"]["amount"],
                    entry["amount"]["currency"],
                    *(entry["balances"][b] for b in ("available", "pending", "inPayout", "paidOut")),
                    entry["gameId"] or "",
                    entry["source"],
                    entry["occurredAt"],
                    entry["postedAt"],
                ]
            )
        yield buffer.getvalue()
        if not page.has_more:
            return
        after = [page.rows[-1].seq]


@public.route("/finance/payouts", methods=["POST"])
@error_responses({**access.NO_STUDIO, **_PAYOUT_REFUSALS})
@access.require_user
@idempotent(required=True)
@public.arguments(PayoutRequestSchema)
@public.response(201, PayoutSchema)
def request_payout(body):
    """Ask for a payout of part or all of the available balance in one currency (studio admins
    and finance). ``Idempotency-Key`` is required: a retry never pays twice."""
    studio = access.own_studio(Action.FINANCE_MANAGE)
    amount = body["amount"]
    return finance.request_payout(
        portal(), request_session(), access.actor(), studio.developer, amount.amount, amount.currency
    )


@public.route("/finance/payouts", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(PayoutQuerySchema, location="query")
@public.response(200, PayoutPageSchema)
def list_payouts(query):
    """The studio's payouts, newest first, optionally by status."""
    developer_id = access.studio_to_read(query["developerId"], Action.FINANCE_READ).developer.developer_id
    page = repo.list_payouts(
        request_session(),
        developer_id,
        status=query["status"],
        after=decode_cursor(query["cursor"], (datetime, uuid.UUID)),
        limit=query["limit"],
    )
    return page_body(page, finance.payout_document, lambda row: (row.requested_at, row.payout_id))


@public.route("/finance/payouts/preview", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(StudioQuerySchema, location="query")
@public.response(200, PayoutPreviewSchema)
def preview_payout(query):
    """What the next scheduled payout would be: its date, the amount per currency, what is held
    and until when, the threshold, a negative balance carried forward, and what blocks it."""
    studio = access.studio_to_read(query["developerId"], Action.FINANCE_READ)
    return finance.preview(portal(), request_session(), studio.developer)


@public.route("/finance/payouts/<uuid:payout_id>", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.response(200, PayoutSchema)
def get_payout(payout_id):
    """One payout of the studio (platform admins: of any studio)."""
    session = request_session()
    row = repo.get_payout(session, payout_id)
    if row is None:
        raise not_found("payout")
    access.studio(row.developer_id, Action.FINANCE_READ)
    return finance.payout_document(row)


@public.route("/finance/settings", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(StudioQuerySchema, location="query")
@public.response(200, PayoutSettingsSchema)
def get_payout_settings(query):
    """The payout method (details masked), threshold and schedule."""
    studio = access.studio_to_read(query["developerId"], Action.FINANCE_READ)
    return finance.settings_document(
        portal(), repo.get_settings(request_session(), studio.developer.developer_id)
    )


@public.route("/finance/settings", methods=["PUT"])
@error_responses(access.NO_STUDIO)
@access.require_user
@transactional
@public.arguments(PayoutSettingsUpdateSchema)
@public.response(200, PayoutSettingsSchema)
def update_payout_settings(body):
    """Set the payout method and its details (stored encrypted, never shown whole again), the
    threshold (at least the platform's minimum) and the schedule (studio admins and finance)."""
    studio = access.own_studio(Action.FINANCE_MANAGE)
    return finance.update_settings(
        portal(),
        request_session(),
        access.actor(),
        studio.developer.developer_id,
        method=payouts.Method(body["method"]),
        details=body["details"],
        threshold=body["threshold"],
        schedule=payouts.Schedule(body["schedule"]),
    )


def _existing_studio(developer_id: uuid.UUID) -> None:
    if repository.get_developer(request_session(), developer_id) is None:
        raise not_found("developer account")


@public.route("/finance/studios/<uuid:developer_id>/revenue-share", methods=["GET"])
@require_roles(PLATFORM_ADMIN)
@public.response(200, RevenueShareSchema)
def get_revenue_share(developer_id):
    """The studio's revenue-share tiers (platform admins): its own or the platform's default."""
    _existing_studio(developer_id)
    return finance.revenue_share_document(request_session(), developer_id)


@public.route("/finance/studios/<uuid:developer_id>/revenue-share", methods=["PUT"])
@require_roles(PLATFORM_ADMIN)
@transactional
@public.arguments(RevenueShareUpdateSchema)
@public.response(200, RevenueShareSchema)
def set_revenue_share(body, developer_id):
    """Set the studio's revenue-share tiers, for its sales from now on (platform admins; audited)."""
    _existing_studio(developer_id)
    return finance.set_revenue_share(request_session(), access.actor(), developer_id, body["tiers"])


@public.route("/finance/studios/<uuid:developer_id>/adjustments", methods=["POST"])
@require_roles(PLATFORM_ADMIN)
@idempotent(required=True)
@public.arguments(AdjustmentSchema)
@public.response(201, TransactionSchema)
def adjust_balance(body, developer_id):
    """Correct the studio's available balance with a reason (platform admins; a ledger entry like
    any other, audited). ``Idempotency-Key`` is required."""
    _existing_studio(developer_id)
    amount = body["amount"]
    signed = amount.amount if body["direction"] == "credit" else -amount.amount
    return finance.adjust(
        portal(),
        request_session(),
        access.actor(),
        developer_id,
        amount=signed,
        currency=amount.currency,
        reason=body["reason"].strip(),
    )


@internal.route("/payouts/<uuid:payout_id>/processing", methods=["POST"])
@error_responses({409: "CONFLICT: the payout is completed or failed already (details.status)"})
@require_scopes(SCOPE_PAYOUTS)
@transactional
@internal.response(200, PayoutSchema)
def payout_processing(payout_id):
    """The Payment Service has taken the payout on (scope ``payouts:process``): ``requested`` →
    ``processing``; repeating it is the same answer. Its outcome still comes on payments.events."""
    return finance.mark_processing(request_session(), access.actor(), payout_id)
