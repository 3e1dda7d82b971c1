"""``/cases``: fraud cases a REVIEW opened, and their decision."""

from __future__ import annotations

from typing import Any

from antifraud.api import schemas as s
from antifraud.api.common import PREFIX, REVIEWERS, actor
from antifraud.context import antifraud
from antifraud.db import repository as repo
from antifraud.usecases import decide_case
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import format_optional_timestamp as ts
from gamekeys_platform.errors import not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.pagination import decode_cursor, page_body

blp = Blueprint("cases", __name__, url_prefix=PREFIX, description="Fraud review cases and their decisions")


def case(row) -> dict[str, Any]:
    return {
        "caseId": row.id,
        "assessmentId": row.assessment_id,
        "status": row.status,
        "userId": row.user_id,
        "keyId": row.key_id,
        "activationId": row.activation_id,
        "score": row.score,
        "riskLevel": row.risk_level,
        "reasons": row.reasons,
        "openedAt": ts(row.opened_at),
        "decidedAt": ts(row.decided_at),
        "decidedBy": row.decided_by,
        "decision": row.decision,
        "note": row.note,
    }


@blp.route("/cases", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.arguments(s.CaseQuerySchema, location="query")
@blp.response(200, s.CasePageSchema)
def list_cases(query):
    """Fraud cases, newest first, optionally by status."""
    page = repo.list_cases(
        request_session(),
        status=query["status"],
        limit=query["limit"],
        after=decode_cursor(query["cursor"], repo.CASE_CURSOR),
    )
    return page_body(page, case, lambda row: (row.opened_at, row.id))


@blp.route("/cases/<uuid:case_id>", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.response(200, s.CaseSchema)
def get_case(case_id):
    """A fraud case with its assessment and decision."""
    row = repo.get_case(request_session(), case_id)
    if row is None:
        raise not_found("case")
    return case(row)


@blp.route("/cases/<uuid:case_id>/decision", methods=["POST"])
@require_roles(*REVIEWERS)
@idempotent
@blp.arguments(s.DecisionRequestSchema)
@blp.response(200, s.CaseSchema)
def decide(body, case_id):
    """Approve or reject an open case (reviewFraudCase); emits fraud.case_decided, which the
    activation-gateway uses to complete or reject the pending activation."""
    row = decide_case(
        antifraud(), request_session(), case_id, decision=body["decision"], note=body["note"], actor=actor()
    )
    return case(row)
