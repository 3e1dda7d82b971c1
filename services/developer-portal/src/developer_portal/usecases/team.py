"""The team: invitations by email, the invited user's answer, members' roles and removal. Every
team change locks the studio row first (the view's access check does it), so concurrent changes
are decided one after the other."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import repository
from developer_portal.domain import team as rules
from developer_portal.usecases import apikeys
from developer_portal.usecases.common import Actor, audit, emit
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.refusals import Refusal


def invite_member(
    portal: PortalState, session: Session, actor: Actor, developer: Row, *, email: str, role: str
) -> dict[str, Any]:
    """A pending invitation of ``email`` with ``role`` to the (verified) studio
    (team.member_invited)."""
    repository.expire_stale_invitations(session, developer.developer_id)
    now = repository.now(session)
    snapshot = rules.TeamSnapshot.of(
        developer.verification_status,
        repository.member_emails(session, developer.developer_id),
        repository.pending_invitation_emails(session, developer.developer_id, now),
        repository.count_members(session, developer.developer_id),
    )
    address = rules.check_invitation(snapshot, email, role)
    ttl = timedelta(hours=portal.settings.invitation_ttl_hours)
    invitation_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = repository.insert_invitation(
                session,
                invitation_id=invitation_id,
                developer_id=developer.developer_id,
                email=address,
                role=role,
                invited_by=actor.user_id,
                expires_at=now + ttl,
            )
    except IntegrityError:
        raise Refusal(
            "CONFLICT", "a pending invitation for this address exists already", {"reason": "ALREADY_INVITED"}
        ) from None
    result = serializers.invitation(row, developer.company_name)
    audit(
        session,
        actor,
        developer_id=developer.developer_id,
        action="team.member_invited",
        entity_type="invitation",
        entity_id=invitation_id,
        before=None,
        after=result,
    )
    emit(
        portal,
        session,
        events.TeamMemberInvited(
            developer_id=developer.developer_id,
            invitation_id=invitation_id,
            email=address,
            role=row.role,
            expires_at=row.expires_at,
        ),
    )
    return result


def revoke_invitation(session: Session, actor: Actor, developer: Row, invitation_id: uuid.UUID) -> None:
    """Withdraw a pending invitation of the studio (audited only)."""
    row = repository.get_invitation(session, invitation_id, lock=True)
    if row is None or row.developer_id != developer.developer_id:
        raise Refusal("NOT_FOUND", "invitation not found")
    rules.check_open(row.status, row.expires_at, repository.now(session))
    closed = repository.close_invitation(session, invitation_id, rules.InvitationStatus.REVOKED, None)
    audit(
        session,
        actor,
        developer_id=row.developer_id,
        action="team.invitation_revoked",
        entity_type="invitation",
        entity_id=invitation_id,
        before=serializers.invitation(row, developer.company_name),
        after=serializers.invitation(closed, developer.company_name),
    )


def _member_or_refuse(session: Session, developer_id: uuid.UUID, user_id: uuid.UUID) -> Row:
    member = repository.get_member(session, developer_id, user_id)
    if member is None:
        raise Refusal("NOT_FOUND", "team member not found")
    return member


def change_member_role(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    role: str,
) -> dict[str, Any]:
    """A member's new role (team.member_role_changed); the last admin cannot be demoted
    (CONFLICT LAST_ADMIN); the same role again changes nothing."""
    member = _member_or_refuse(session, developer_id, user_id)
    if not rules.check_role_change(member.role, role, repository.count_admins(session, developer_id)):
        return serializers.member(member)
    updated = repository.update_member_role(session, developer_id, user_id, role)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="team.member_role_changed",
        entity_type="team_member",
        entity_id=user_id,
        before=serializers.member(member),
        after=serializers.member(updated),
    )
    emit(
        portal,
        session,
        events.TeamMemberRoleChanged(
            developer_id=developer_id, user_id=str(user_id), role=updated.role, previous_role=member.role
        ),
    )
    return serializers.member(updated)


def remove_member(
    portal: PortalState, session: Session, actor: Actor, developer_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove a member (team.member_removed); the last admin cannot be removed (CONFLICT LAST_ADMIN).
    The CI API keys they created are revoked with them (``apikeys.revoke_keys_of_departed``)."""
    member = _member_or_refuse(session, developer_id, user_id)
    rules.check_removal(member.role, repository.count_admins(session, developer_id))
    repository.delete_member(session, developer_id, user_id)
    apikeys.revoke_keys_of_departed(portal, session, actor, developer_id, user_id)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="team.member_removed",
        entity_type="team_member",
        entity_id=user_id,
        before=serializers.member(member),
        after=None,
    )
    emit(portal, session, events.TeamMemberRemoved(developer_id=developer_id, user_id=str(user_id)))


def _open_invitation(session: Session, actor: Actor, invitation_id: uuid.UUID) -> tuple[Row, Row]:
    """The invitation addressed to the actor, and its studio, both locked (studio first, as every
    team change does; nobody else gets as far as a lock)."""
    row = repository.get_invitation(session, invitation_id)
    if row is None:
        raise Refusal("NOT_FOUND", "invitation not found")
    rules.check_addressee(row.email, actor.email)
    developer = repository.get_developer(session, row.developer_id, lock=True)
    return repository.get_invitation(session, invitation_id, lock=True), developer


def accept_invitation(
    portal: PortalState, session: Session, actor: Actor, invitation_id: uuid.UUID
) -> dict[str, Any]:
    """The invited user joins the studio with the invited role (team.member_added): the actor's
    email must be the invited address (FORBIDDEN EMAIL_MISMATCH), the invitation open, the actor
    in no studio yet."""
    user_id = actor.user_id
    invitation, developer = _open_invitation(session, actor, invitation_id)
    rules.check_acceptance(
        invitation_email=invitation.email,
        invitation_status=invitation.status,
        expires_at=invitation.expires_at,
        caller_email=actor.email,
        caller_studio=repository.membership_of(session, user_id),
        now=repository.now(session),
    )
    try:
        with session.begin_nested():
            member = repository.insert_member(
                session,
                developer_id=invitation.developer_id,
                user_id=user_id,
                email=invitation.email,
                role=invitation.role,
                invitation_id=invitation_id,
            )
    except IntegrityError:
        raise Refusal(
            "CONFLICT", "you belong to a studio already; leave it first", {"reason": "ALREADY_IN_A_STUDIO"}
        ) from None
    closed = repository.close_invitation(session, invitation_id, rules.InvitationStatus.ACCEPTED, user_id)
    audit(
        session,
        actor,
        developer_id=invitation.developer_id,
        action="team.invitation_accepted",
        entity_type="invitation",
        entity_id=invitation_id,
        before=serializers.invitation(invitation, developer.company_name),
        after=serializers.invitation(closed, developer.company_name),
    )
    audit(
        session,
        actor,
        developer_id=invitation.developer_id,
        action="team.member_added",
        entity_type="team_member",
        entity_id=user_id,
        before=None,
        after=serializers.member(member),
    )
    emit(
        portal,
        session,
        events.TeamMemberAdded(developer_id=invitation.developer_id, user_id=str(user_id), role=member.role),
    )
    return serializers.member(member)


def decline_invitation(session: Session, actor: Actor, invitation_id: uuid.UUID) -> dict[str, Any]:
    """The invited user turns the invitation down (audited only)."""
    invitation, developer = _open_invitation(session, actor, invitation_id)
    rules.check_acceptance(
        invitation_email=invitation.email,
        invitation_status=invitation.status,
        expires_at=invitation.expires_at,
        caller_email=actor.email,
        caller_studio=None,
        now=repository.now(session),
    )
    closed = repository.close_invitation(
        session, invitation_id, rules.InvitationStatus.DECLINED, actor.user_id
    )
    result = serializers.invitation(closed, developer.company_name)
    audit(
        session,
        actor,
        developer_id=invitation.developer_id,
        action="team.invitation_declined",
        entity_type="invitation",
        entity_id=invitation_id,
        before=serializers.invitation(invitation, developer.company_name),
        after=result,
    )
    return result
