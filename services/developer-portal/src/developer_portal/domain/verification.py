"""Studio verification: pending → verified or rejected (by the platform's Admin Service), and a
rejected studio back to pending when its admin corrects the details (a resubmission)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gamekeys_platform.refusals import InvalidValue, Refusal

MAX_REASON_LENGTH = 1000


class VerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


VERIFICATION_STATUSES: tuple[str, ...] = tuple(status.value for status in VerificationStatus)
DECISIONS: tuple[str, ...] = (VerificationStatus.VERIFIED.value, VerificationStatus.REJECTED.value)


@dataclass(frozen=True)
class VerificationChange:
    status: VerificationStatus
    reason: str | None
    changed: bool  # False for a repeated decision (a retry): nothing to write, nothing to emit


def decide_verification(current: str, requested: str, reason: str | None) -> VerificationChange:
    """Apply the Admin Service's decision to a studio in ``current`` status."""
    current_status, requested_status = VerificationStatus(current), VerificationStatus(requested)
    if requested_status is VerificationStatus.PENDING:
        raise InvalidValue("the decision must be verified or rejected")
    reason = (reason or "").strip() or None
    if requested_status is VerificationStatus.REJECTED and reason is None:
        raise InvalidValue("a rejection needs a reason")
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise InvalidValue(f"reason is over {MAX_REASON_LENGTH} characters")
    if current_status is requested_status:
        return VerificationChange(current_status, reason, changed=False)
    if current_status is not VerificationStatus.PENDING:
        raise Refusal(
            "CONFLICT",
            f"the studio is already {current_status.value}",
            {"reason": "VERIFICATION_ALREADY_DECIDED", "verificationStatus": current_status.value},
        )
    return VerificationChange(requested_status, reason, changed=True)


def status_after_details_update(current: str) -> VerificationStatus:
    """A rejected studio whose details are corrected is pending review again."""
    status = VerificationStatus(current)
    return VerificationStatus.PENDING if status is VerificationStatus.REJECTED else status


def may_create_games(status: str) -> bool:
    return VerificationStatus(status) is VerificationStatus.VERIFIED
