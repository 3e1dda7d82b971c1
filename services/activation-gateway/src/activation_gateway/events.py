"""``activations.events`` data (docs/events.md): one shape for every activation.* type, with
the fields antifraud's velocity consumer reads (userId, ipAddress, deviceFingerprint, keyId,
keyFingerprint, reason, activationId) and distribution's (keyId). Never a plaintext key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from gamekeys_platform.errors import format_timestamp


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def activation_data(row: Row, **extra: Any) -> dict[str, Any]:
    return {
        "activationId": str(row.id),
        "transactionId": str(row.id),
        "userId": row.user_id,
        "status": row.status,
        "keyId": _s(row.key_id),
        "gameId": _s(row.game_id),
        "batchId": _s(row.batch_id),
        "developerId": _s(row.developer_id),
        "keyType": row.key_type,
        "keyFingerprint": row.key_fingerprint,
        "region": row.user_region,
        "ipAddress": row.ip_address,
        "ipCountry": row.ip_country,
        "deviceFingerprint": row.device_fingerprint,
        "platform": row.platform,
        "reason": row.error_code,
        "assessmentId": _s(row.assessment_id),
        "caseId": _s(row.case_id),
        "reviewReason": row.review_reason,
        "occurredAt": format_timestamp(row.updated_at),
        **({"activatedAt": format_timestamp(row.completed_at)} if row.status == "activated" else {}),
        **extra,
    }
