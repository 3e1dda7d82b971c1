"""Team rules: invitations by email, role changes and removals that keep a studio governable."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from developer_portal.domain.permissions import StudioRole
from developer_portal.domain.verification import VerificationStatus
from gamekeys_platform.refusals import InvalidValue, Refusal

MAX_EMAIL_LENGTH = 254
MAX_TEAM_SIZE = 200  # members plus pending invitations


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


INVITATION_STATUSES: tuple[str, ...] = tuple(status.value for status in InvitationStatus)


def normalize_email(email: str) -> str:
    """Addresses compare case-insensitively (as every mail provider in practice treats them)."""
    return email.strip().lower()


@dataclass(frozen=True)
class TeamSnapshot:
    """What the rules need to know about a studio's team at the moment of a change."""

    verification_status: str
    member_emails: frozenset[str]
    pending_invitation_emails: frozenset[str]
    member_count: int

    @classmethod
    def of(
        cls,
        verification_status: str,
        member_emails: Iterable[str | None],
        pending_invitation_emails: Iterable[str],
        member_count: int,
    ) -> TeamSnapshot:
        return cls(
            verification_status,
            frozenset(normalize_email(e) for e in member_emails if e),
            frozenset(normalize_email(e) for e in pending_invitation_emails),
            member_count,
        )


def check_invitation(team: TeamSnapshot, email: str, role: str) -> str:
    """Refuse an invitation that cannot lead anywhere; returns the normalised address."""
    ensure_role(role)
    address = normalize_email(email)
    if VerificationStatus(team.verification_status) is not VerificationStatus.VERIFIED:
        # The seed: a *verified* studio's admin invites the team.
        raise Refusal(
            "FORBIDDEN",
            "only a verified studio can invite team members",
            {"reason": "DEVELOPER_NOT_VERIFIED", "verificationStatus": team.verification_status},
        )
    if address in team.member_emails:
        raise Refusal(
            "CONFLICT", "this address belongs to a member of the team already", {"reason": "ALREADY_A_MEMBER"}
        )
    if address in team.pending_invitation_emails:
        raise Refusal(
            "CONFLICT", "a pending invitation for this address exists already", {"reason": "ALREADY_INVITED"}
        )
    if team.member_count + len(team.pending_invitation_emails) >= MAX_TEAM_SIZE:
        raise Refusal(
            "CONFLICT",
            f"a team has at most {MAX_TEAM_SIZE} members and pending invitations",
            {"reason": "TEAM_FULL"},
        )
    return address


def check_acceptance(
    *,
    invitation_email: str,
    invitation_status: str,
    expires_at: datetime,
    caller_email: str | None,
    caller_studio: object | None,
    now: datetime,
) -> None:
    """The invited user accepts with a token whose ``email`` is the invited address."""
    check_addressee(invitation_email, caller_email)
    check_open(invitation_status, expires_at, now)
    if caller_studio is not None:
        raise Refusal(
            "CONFLICT", "you belong to a studio already; leave it first", {"reason": "ALREADY_IN_A_STUDIO"}
        )


def check_addressee(invitation_email: str, caller_email: str | None) -> None:
    """Only the invited address may answer an invitation."""
    if caller_email is None or normalize_email(caller_email) != normalize_email(invitation_email):
        raise Refusal(
            "FORBIDDEN", "this invitation was sent to another email address", {"reason": "EMAIL_MISMATCH"}
        )


def check_open(invitation_status: str, expires_at: datetime, now: datetime) -> None:
    status = InvitationStatus(invitation_status)
    if status is not InvitationStatus.PENDING:
        raise Refusal(
            "CONFLICT",
            f"the invitation is {status.value}",
            {"reason": "INVITATION_CLOSED", "invitationStatus": status.value},
        )
    if expires_at <= now:
        raise Refusal(
            "CONFLICT",
            "the invitation has expired",
            {"reason": "INVITATION_EXPIRED", "invitationStatus": "expired"},
        )


def check_role_change(current_role: str, new_role: str, admin_count: int) -> bool:
    """True if the role really changes; refuses demoting the studio's last admin."""
    current, new = StudioRole(current_role), StudioRole(new_role)
    if current is new:
        return False
    if current is StudioRole.ADMIN and admin_count <= 1:
        raise Refusal(
            "CONFLICT",
            "the last admin of a studio cannot be demoted; promote another first",
            {"reason": "LAST_ADMIN"},
        )
    return True


def check_removal(role: str, admin_count: int) -> None:
    if StudioRole(role) is StudioRole.ADMIN and admin_count <= 1:
        raise Refusal(
            "CONFLICT",
            "the last admin of a studio cannot be removed; promote another first",
            {"reason": "LAST_ADMIN"},
        )


def ensure_role(role: str) -> StudioRole:
    try:
        return StudioRole(role)
    except ValueError:
        raise InvalidValue(
            f"unknown role {role!r}; one of {', '.join(r.value for r in StudioRole)}"
        ) from None
