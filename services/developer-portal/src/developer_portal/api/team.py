"""The team: members and their roles, invitations by email, and the invited user's answer."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from developer_portal.api import access, serializers
from developer_portal.api.blueprints import public
from developer_portal.api.effects import audit, emit
from developer_portal.api.schemas import (
    InvitationPageSchema,
    InvitationSchema,
    InviteSchema,
    MemberPageSchema,
    MemberSchema,
    PageQuerySchema,
    RoleChangeSchema,
)
from developer_portal.db import repository
from developer_portal.domain import team as rules
from developer_portal.domain.permissions import Action
from gamekeys_platform.auth import current_principal
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body
from gamekeys_platform.refusals import Refusal

_MEMBER_POSITION = (datetime, uuid.UUID)
_INVITATION_POSITION = (datetime, uuid.UUID)


def _members_page(developer_id, query):
    after = decode_cursor(query["cursor"], _MEMBER_POSITION)
    page = repository.list_members(request_session(), developer_id, after=after, limit=query["limit"])
    return page_body(page, serializers.member, lambda row: (row.added_at, row.user_id))


def _invitations_page(page):
    return page_body(
        page,
        lambda row: serializers.invitation(row, row.company_name),
        lambda row: (row.created_at, row.invitation_id),
    )


@public.route("/accounts/me/team", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, MemberPageSchema)
def list_my_team(query):
    """The members of the caller's studio and their roles."""
    studio = access.own_studio(Action.TEAM_READ)
    return _members_page(studio.developer.developer_id, query)


@public.route("/accounts/<uuid:developer_id>/team", methods=["GET"])
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, MemberPageSchema)
def list_team(query, developer_id):
    """A studio's members: its members and platform admins."""
    access.studio(developer_id, Action.TEAM_READ)
    return _members_page(developer_id, query)


@public.route("/accounts/me/team", methods=["POST"])
@error_responses(access.NO_STUDIO)
@access.require_user
@idempotent
@public.arguments(InviteSchema)
@public.response(201, InvitationSchema)
def invite(body):
    """Invite someone by email with a role (studio admins of a verified studio). The invitation
    is pending until the invited user accepts it with a token carrying that email."""
    session = request_session()
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    developer = studio.developer
    repository.expire_stale_invitations(session, developer.developer_id)
    now = repository.now(session)
    snapshot = rules.TeamSnapshot.of(
        developer.verification_status,
        repository.member_emails(session, developer.developer_id),
        repository.pending_invitation_emails(session, developer.developer_id, now),
        repository.count_members(session, developer.developer_id),
    )
    email = rules.check_invitation(snapshot, body["email"], body["role"])
    ttl = timedelta(hours=current_app.extensions["developer_portal"].settings.invitation_ttl_hours)
    invitation_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = repository.insert_invitation(
                session,
                invitation_id=invitation_id,
                developer_id=developer.developer_id,
                email=email,
                role=body["role"],
                invited_by=access.caller_user_id(),
                expires_at=now + ttl,
            )
    except IntegrityError:
        raise Refusal(
            "CONFLICT", "a pending invitation for this address exists already", {"reason": "ALREADY_INVITED"}
        ) from None
    result = serializers.invitation(row, developer.company_name)
    audit(
        session,
        developer_id=developer.developer_id,
        action="team.member_invited",
        entity_type="invitation",
        entity_id=invitation_id,
        before=None,
        after=result,
    )
    emit(
        session,
        events.TeamMemberInvited(
            developer_id=developer.developer_id,
            invitation_id=invitation_id,
            email=email,
            role=row.role,
            expires_at=row.expires_at,
        ),
    )
    return result


@public.route("/accounts/me/team/invitations", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, InvitationPageSchema)
def list_my_invitations_sent(query):
    """The studio's pending invitations (studio admins)."""
    studio = access.own_studio(Action.TEAM_MANAGE)
    after = decode_cursor(query["cursor"], _INVITATION_POSITION)
    page = repository.list_invitations(
        request_session(), developer_id=studio.developer.developer_id, after=after, limit=query["limit"]
    )
    return _invitations_page(page)


@public.route("/accounts/me/team/invitations/<uuid:invitation_id>", methods=["DELETE"])
@access.require_user
@transactional
@public.response(204)
def revoke_invitation(invitation_id):
    """Withdraw a pending invitation (studio admins)."""
    session = request_session()
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    row = repository.get_invitation(session, invitation_id, lock=True)
    if row is None or row.developer_id != studio.developer.developer_id:
        raise not_found("invitation")
    rules.check_open(row.status, row.expires_at, repository.now(session))
    closed = repository.close_invitation(session, invitation_id, rules.InvitationStatus.REVOKED, None)
    audit(
        session,
        developer_id=row.developer_id,
        action="team.invitation_revoked",
        entity_type="invitation",
        entity_id=invitation_id,
        before=serializers.invitation(row, studio.developer.company_name),
        after=serializers.invitation(closed, studio.developer.company_name),
    )


@public.route("/accounts/me/team/<uuid:user_id>", methods=["PUT"])
@access.require_user
@transactional
@public.arguments(RoleChangeSchema)
@public.response(200, MemberSchema)
def change_role(body, user_id):
    """Change a member's role (studio admins); the last admin cannot be demoted."""
    session = request_session()
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    developer_id = studio.developer.developer_id
    member = repository.get_member(session, developer_id, user_id)
    if member is None:
        raise not_found("team member")
    if not rules.check_role_change(member.role, body["role"], repository.count_admins(session, developer_id)):
        return serializers.member(member)
    updated = repository.update_member_role(session, developer_id, user_id, body["role"])
    audit(
        session,
        developer_id=developer_id,
        action="team.member_role_changed",
        entity_type="team_member",
        entity_id=user_id,
        before=serializers.member(member),
        after=serializers.member(updated),
    )
    emit(
        session,
        events.TeamMemberRoleChanged(
            developer_id=developer_id, user_id=str(user_id), role=updated.role, previous_role=member.role
        ),
    )
    return serializers.member(updated)


@public.route("/accounts/me/team/<uuid:user_id>", methods=["DELETE"])
@access.require_user
@transactional
@public.response(204)
def remove_member(user_id):
    """Remove a member (studio admins); the last admin cannot be removed."""
    session = request_session()
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    developer_id = studio.developer.developer_id
    member = repository.get_member(session, developer_id, user_id)
    if member is None:
        raise not_found("team member")
    rules.check_removal(member.role, repository.count_admins(session, developer_id))
    repository.delete_member(session, developer_id, user_id)
    audit(
        session,
        developer_id=developer_id,
        action="team.member_removed",
        entity_type="team_member",
        entity_id=user_id,
        before=serializers.member(member),
        after=None,
    )
    emit(session, events.TeamMemberRemoved(developer_id=developer_id, user_id=str(user_id)))


# --- the invited user's side ----------------------------------------------------------------


@public.route("/accounts/invitations", methods=["GET"])
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, InvitationPageSchema)
def list_invitations_received(query):
    """Pending invitations addressed to the caller's token email."""
    email = current_principal().email
    if not email:
        return {"items": [], "nextCursor": None}
    after = decode_cursor(query["cursor"], _INVITATION_POSITION)
    page = repository.list_invitations(
        request_session(), email=rules.normalize_email(email), after=after, limit=query["limit"]
    )
    return _invitations_page(page)


def _open_invitation(invitation_id):
    """The invitation addressed to the caller, and its studio, both locked (studio first, as every
    team change does; nobody else gets as far as a lock)."""
    session = request_session()
    row = repository.get_invitation(session, invitation_id)
    if row is None:
        raise not_found("invitation")
    rules.check_addressee(row.email, current_principal().email)
    developer = repository.get_developer(session, row.developer_id, lock=True)
    return repository.get_invitation(session, invitation_id, lock=True), developer


@public.route("/accounts/invitations/<uuid:invitation_id>/accept", methods=["POST"])
@access.require_user
@idempotent
@public.response(200, MemberSchema)
def accept_invitation(invitation_id):
    """Join the studio: the caller's token must carry the invited email (``email`` claim)."""
    session = request_session()
    principal = current_principal()
    user_id = access.caller_user_id()
    invitation, developer = _open_invitation(invitation_id)
    rules.check_acceptance(
        invitation_email=invitation.email,
        invitation_status=invitation.status,
        expires_at=invitation.expires_at,
        caller_email=principal.email,
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
        developer_id=invitation.developer_id,
        action="team.invitation_accepted",
        entity_type="invitation",
        entity_id=invitation_id,
        before=serializers.invitation(invitation, developer.company_name),
        after=serializers.invitation(closed, developer.company_name),
    )
    audit(
        session,
        developer_id=invitation.developer_id,
        action="team.member_added",
        entity_type="team_member",
        entity_id=user_id,
        before=None,
        after=serializers.member(member),
    )
    emit(
        session,
        events.TeamMemberAdded(developer_id=invitation.developer_id, user_id=str(user_id), role=member.role),
    )
    return serializers.member(member)


@public.route("/accounts/invitations/<uuid:invitation_id>/decline", methods=["POST"])
@access.require_user
@idempotent
@public.response(200, InvitationSchema)
def decline_invitation(invitation_id):
    """Turn the invitation down (the invited user, by token email)."""
    session = request_session()
    principal = current_principal()
    invitation, developer = _open_invitation(invitation_id)
    rules.check_acceptance(
        invitation_email=invitation.email,
        invitation_status=invitation.status,
        expires_at=invitation.expires_at,
        caller_email=principal.email,
        caller_studio=None,
        now=repository.now(session),
    )
    closed = repository.close_invitation(
        session, invitation_id, rules.InvitationStatus.DECLINED, access.caller_user_id()
    )
    result = serializers.invitation(closed, developer.company_name)
    audit(
        session,
        developer_id=invitation.developer_id,
        action="team.invitation_declined",
        entity_type="invitation",
        entity_id=invitation_id,
        before=serializers.invitation(invitation, developer.company_name),
        after=result,
    )
    return result
