"""activations.events built from an activation record: one shape for every activation.* type
(``gamekeys_platform.contracts.activations``), the type chosen by the record's status. Never a
plaintext key."""

from __future__ import annotations

from sqlalchemy import Row

from activation_gateway.domain.redemption import Status
from gamekeys_platform.contracts import activations as contract

_EVENT_BY_STATUS: dict[str, type[contract.Activation]] = {
    Status.ACTIVATED: contract.ActivationSucceeded,
    Status.PENDING_REVIEW: contract.ActivationPendingReview,
    Status.FAILED: contract.ActivationFailed,
    Status.BLOCKED: contract.ActivationBlocked,
    Status.REJECTED: contract.ActivationFailed,
    Status.DISPUTED: contract.ActivationDisputed,
}


def activation_event(row: Row) -> contract.Activation:
    extra = {}
    if row.status == Status.DISPUTED:
        extra = {
            "dispute_source": row.dispute_source,
            "dispute_reference": row.dispute_reference,
            "dispute_reason": row.dispute_reason,
            "disputed_at": row.disputed_at,
        }
    return _EVENT_BY_STATUS[row.status](
        **extra,
        activation_id=row.id,
        transaction_id=row.id,
        user_id=row.user_id,
        status=row.status,
        key_id=row.key_id,
        game_id=row.game_id,
        batch_id=row.batch_id,
        developer_id=row.developer_id,
        key_type=row.key_type,
        key_fingerprint=row.key_fingerprint,
        region=row.user_region,
        ip_address=row.ip_address,
        ip_country=row.ip_country,
        device_fingerprint=row.device_fingerprint,
        platform=row.platform,
        reason=row.error_code,
        assessment_id=row.assessment_id,
        case_id=row.case_id,
        review_reason=row.review_reason,
        occurred_at=row.updated_at,
        activated_at=row.completed_at if row.status in (Status.ACTIVATED, Status.DISPUTED) else None,
    )
