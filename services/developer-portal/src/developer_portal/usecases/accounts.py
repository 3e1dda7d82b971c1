"""Studios: registration, changes to a studio's details, the verification decision."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import repository
from developer_portal.domain import verification
from developer_portal.domain.permissions import StudioRole
from developer_portal.domain.team import normalize_email
from developer_portal.usecases.common import Actor, audit, emit
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.refusals import Refusal


def _already_in_a_studio() -> Refusal:
    return Refusal(
        "CONFLICT",
        "you belong to a studio already; a user is in at most one",
        {"reason": "ALREADY_IN_A_STUDIO"},
    )


def register_studio(
    portal: PortalState, session: Session, actor: Actor, *, company_name: str, legal_details: dict
) -> dict[str, Any]:
    """A studio pending verification, the actor its first admin (developer.registered and
    team.member_added). CONFLICT ALREADY_IN_A_STUDIO if the actor is in one already."""
    user_id = actor.user_id
    if repository.membership_of(session, user_id) is not None:
        raise _already_in_a_studio()
    developer_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = repository.insert_developer(
                session,
                developer_id=developer_id,
                company_name=company_name.strip(),
                legal_details=legal_details,
                verification_status=verification.VerificationStatus.PENDING.value,
                created_by=user_id,
            )
            member = repository.insert_member(
                session,
                developer_id=developer_id,
                user_id=user_id,
                email=normalize_email(actor.email) if actor.email else None,
                role=StudioRole.ADMIN.value,
            )
    except IntegrityError:
        raise _already_in_a_studio() from None
    result = serializers.developer(row, role=StudioRole.ADMIN.value)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="developer.registered",
        entity_type="developer",
        entity_id=developer_id,
        before=None,
        after=result,
    )
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="team.member_added",
        entity_type="team_member",
        entity_id=user_id,
        before=None,
        after=serializers.member(member),
    )
    emit(
        portal,
        session,
        events.DeveloperRegistered(
            developer_id=developer_id,
            company_name=row.company_name,
            admin_user_id=str(user_id),
            verification_status=row.verification_status,
        ),
    )
    emit(
        portal,
        session,
        events.TeamMemberAdded(developer_id=developer_id, user_id=str(user_id), role=StudioRole.ADMIN),
    )
    return result


def update_studio(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer: Row,
    *,
    role: str | None,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Change the company name or legal details (``changes`` as the API names them); a rejected
    studio whose details change is pending again. Nothing changing writes nothing."""
    values = {}
    if "companyName" in changes and changes["companyName"].strip() != developer.company_name:
        values["company_name"] = changes["companyName"].strip()
    if "legalDetails" in changes and changes["legalDetails"] != developer.legal_details:
        values["legal_details"] = changes["legalDetails"]
    before = serializers.developer(developer, role=role)
    if not values:
        return before
    status = verification.status_after_details_update(developer.verification_status)
    if status.value != developer.verification_status:
        values.update(verification_status=status.value, verification_reason=None)
    updated = repository.update_developer(session, developer.developer_id, **values)
    after = serializers.developer(updated, role=role)
    audit(
        session,
        actor,
        developer_id=developer.developer_id,
        action="developer.updated",
        entity_type="developer",
        entity_id=developer.developer_id,
        before=before,
        after=after,
    )
    emit(
        portal,
        session,
        events.DeveloperUpdated(developer_id=developer.developer_id, company_name=updated.company_name),
    )
    return after


def decide_verification(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    *,
    status: str,
    reason: str | None,
) -> dict[str, Any]:
    """The Admin Service's decision: pending → verified, or rejected with a reason. The decision
    already taken again is a no-op; reversing it CONFLICT VERIFICATION_ALREADY_DECIDED."""
    row = repository.get_developer(session, developer_id, lock=True)
    if row is None:
        raise Refusal("NOT_FOUND", "developer account not found")
    change = verification.decide_verification(row.verification_status, status, reason)
    before = serializers.developer(row)
    if not change.changed:
        return before
    verified = change.status is verification.VerificationStatus.VERIFIED
    updated = repository.update_developer(
        session,
        developer_id,
        verification_status=change.status.value,
        verification_reason=change.reason,
        verified_at=func.now() if verified else None,
    )
    after = serializers.developer(updated)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="developer.verified",
        entity_type="developer",
        entity_id=developer_id,
        before=before,
        after=after,
    )
    emit(
        portal,
        session,
        events.DeveloperVerified(
            developer_id=developer_id, verification_status=change.status, reason=change.reason
        ),
    )
    return after
