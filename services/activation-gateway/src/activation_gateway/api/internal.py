"""Internal API, ``/internal/v1/activations`` (service tokens; the gateway never routes it):
one activation as recorded here, with the fraud outcome it went through, for key-manager's
provenance of a key (scope ``activations:read``)."""

from __future__ import annotations

import marshmallow as ma

from activation_gateway.db import repository as repo
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import ApiError
from gamekeys_platform.errors import format_optional_timestamp as ts

SCOPE_READ = "activations:read"

blp = Blueprint(
    "internal-activations",
    __name__,
    url_prefix="/internal/v1/activations",
    description="Service-to-service reads of activations",
)


class FraudOutcomeSchema(ma.Schema):
    score = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "antifraud's risk score"}
    )
    assessmentId = ma.fields.UUID(required=True, allow_none=True)
    caseId = ma.fields.UUID(
        required=True, allow_none=True, metadata={"description": "set when it was reviewed"}
    )
    reviewReason = ma.fields.String(required=True, allow_none=True)
    outcome = ma.fields.String(
        required=True,
        metadata={
            "description": "allowed, approved_after_review, pending_review, rejected, blocked or failed"
        },
    )


class InternalActivationSchema(ma.Schema):
    activationId = ma.fields.UUID(required=True)
    keyId = ma.fields.UUID(required=True, allow_none=True)
    userId = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    userRegion = ma.fields.String(required=True)
    ipCountry = ma.fields.String(required=True, allow_none=True)
    platform = ma.fields.String(required=True, allow_none=True)
    errorCode = ma.fields.String(required=True, allow_none=True)
    fraud = ma.fields.Nested(FraudOutcomeSchema, required=True)
    createdAt = ma.fields.String(required=True)
    completedAt = ma.fields.String(required=True, allow_none=True)
    disputedAt = ma.fields.String(required=True, allow_none=True)
    disputeSource = ma.fields.String(required=True, allow_none=True)
    disputeReason = ma.fields.String(required=True, allow_none=True)


def fraud_outcome(row) -> str:
    if row.status in ("activated", "disputed"):
        return "approved_after_review" if row.case_id else "allowed"
    return {"pending_review": "pending_review", "rejected": "rejected", "blocked": "blocked"}.get(
        row.status, "failed"
    )


@blp.route("/<uuid:activation_id>", methods=["GET"])
@require_scopes(SCOPE_READ)
@blp.response(200, InternalActivationSchema)
def get_activation(activation_id):
    """One activation: who, when, where from, its status (``disputed`` after a chargeback or a
    refund) and the fraud outcome it went through. Unknown 404."""
    row = repo.get(request_session(), activation_id)
    if row is None:
        raise ApiError("NOT_FOUND", "activation not found")
    return {
        "activationId": row.id,
        "keyId": row.key_id,
        "userId": row.user_id,
        "status": row.status,
        "userRegion": row.user_region,
        "ipCountry": row.ip_country,
        "platform": row.platform,
        "errorCode": row.error_code,
        "fraud": {
            "score": row.risk_score,
            "assessmentId": row.assessment_id,
            "caseId": row.case_id,
            "reviewReason": row.review_reason,
            "outcome": fraud_outcome(row),
        },
        "createdAt": ts(row.created_at),
        "completedAt": ts(row.completed_at),
        "disputedAt": ts(row.disputed_at),
        "disputeSource": row.dispute_source,
        "disputeReason": row.dispute_reason,
    }
