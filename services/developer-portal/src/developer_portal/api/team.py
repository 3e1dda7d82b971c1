"""The team: members and their roles, invitations by email, and the invited user's answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from developer_portal import serializers
from developer_portal.api import access
from developer_portal.api.blueprints import public
from developer_portal.api.schemas import (
    InvitationPageSchema,
    InvitationSchema,
    InviteSchema,
    MemberPageSchema,
    MemberSchema,
    PageQuerySchema,
    RoleChangeSchema,
)
from developer_portal.context import portal
from developer_portal.db import repository
from developer_portal.domain import team as rules
from developer_portal.domain.permissions import Action
from developer_portal.usecases import team
from gamekeys_platform.auth import current_principal
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body

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
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    return team.invite_member(
        portal(), request_session(), access.actor(), studio.developer, email=body["email"], role=body["role"]
    )


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
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    team.revoke_invitation(request_session(), access.actor(), studio.developer, invitation_id)


@public.route("/accounts/me/team/<uuid:user_id>", methods=["PUT"])
@access.require_user
@transactional
@public.arguments(RoleChangeSchema)
@public.response(200, MemberSchema)
def change_role(body, user_id):
    """Change a member's role (studio admins); the last admin cannot be demoted."""
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    return team.change_member_role(
        portal(), request_session(), access.actor(), studio.developer.developer_id, user_id, role=body["role"]
    )


@public.route("/accounts/me/team/<uuid:user_id>", methods=["DELETE"])
@access.require_user
@transactional
@public.response(204)
def remove_member(user_id):
    """Remove a member (studio admins); the last admin cannot be removed."""
    studio = access.own_studio(Action.TEAM_MANAGE, lock=True)
    team.remove_member(portal(), request_session(), access.actor(), studio.developer.developer_id, user_id)


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


@public.route("/accounts/invitations/<uuid:invitation_id>/accept", methods=["POST"])
@access.require_user
@idempotent
@public.response(200, MemberSchema)
def accept_invitation(invitation_id):
    """Join the studio: the caller's token must carry the invited email (``email`` claim)."""
    return team.accept_invitation(portal(), request_session(), access.actor(), invitation_id)


@public.route("/accounts/invitations/<uuid:invitation_id>/decline", methods=["POST"])
@access.require_user
@idempotent
@public.response(200, InvitationSchema)
def decline_invitation(invitation_id):
    """Turn the invitation down (the invited user, by token email)."""
    return team.decline_invitation(request_session(), access.actor(), invitation_id)
