"""Studios: registration, the caller's studio, platform admins' view of every studio, and the
Admin Service's verification decision (internal)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from developer_portal.api import access, serializers
from developer_portal.api.blueprints import internal, public
from developer_portal.api.effects import audit, emit
from developer_portal.api.schemas import (
    AuditPageSchema,
    DeveloperPageSchema,
    DeveloperQuerySchema,
    DeveloperSchema,
    PageQuerySchema,
    RegisterSchema,
    UpdateAccountSchema,
    VerificationSchema,
)
from developer_portal.db import repository
from developer_portal.domain import verification
from developer_portal.domain.permissions import PLATFORM_ADMIN, Action, StudioRole
from developer_portal.domain.team import normalize_email
from gamekeys_platform.auth import current_principal, require_roles, require_scopes
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body
from gamekeys_platform.refusals import Refusal

SCOPE_VERIFY = "developers:verify"


def _already_in_a_studio():
    return Refusal(
        "CONFLICT",
        "you belong to a studio already; a user is in at most one",
        {"reason": "ALREADY_IN_A_STUDIO"},
    )


@public.route("/accounts", methods=["POST"])
@access.require_user
@idempotent
@public.arguments(RegisterSchema)
@public.response(201, DeveloperSchema)
def register(body):
    """Register a studio: pending verification, the caller its first admin."""
    session = request_session()
    user_id = access.caller_user_id()
    if repository.membership_of(session, user_id) is not None:
        raise _already_in_a_studio()
    email = current_principal().email
    developer_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = repository.insert_developer(
                session,
                developer_id=developer_id,
                company_name=body["companyName"].strip(),
                legal_details=body["legalDetails"],
                verification_status=verification.VerificationStatus.PENDING.value,
                created_by=user_id,
            )
            member = repository.insert_member(
                session,
                developer_id=developer_id,
                user_id=user_id,
                email=normalize_email(email) if email else None,
                role=StudioRole.ADMIN.value,
            )
    except IntegrityError:
        raise _already_in_a_studio() from None
    result = serializers.developer(row, role=StudioRole.ADMIN.value)
    audit(
        session,
        developer_id=developer_id,
        action="developer.registered",
        entity_type="developer",
        entity_id=developer_id,
        before=None,
        after=result,
    )
    audit(
        session,
        developer_id=developer_id,
        action="team.member_added",
        entity_type="team_member",
        entity_id=user_id,
        before=None,
        after=serializers.member(member),
    )
    emit(
        session,
        events.DeveloperRegistered(
            developer_id=developer_id,
            company_name=row.company_name,
            admin_user_id=str(user_id),
            verification_status=row.verification_status,
        ),
    )
    emit(
        session,
        events.TeamMemberAdded(developer_id=developer_id, user_id=str(user_id), role=StudioRole.ADMIN),
    )
    return result


@public.route("/accounts", methods=["GET"])
@require_roles(PLATFORM_ADMIN)
@public.arguments(DeveloperQuerySchema, location="query")
@public.response(200, DeveloperPageSchema)
def list_accounts(query):
    """Every studio, newest first (platform admins), optionally by verification status."""
    after = decode_cursor(query["cursor"], (datetime, uuid.UUID))
    page = repository.list_developers(
        request_session(), status=query["verificationStatus"], after=after, limit=query["limit"]
    )
    return page_body(page, serializers.developer, lambda row: (row.created_at, row.developer_id))


@public.route("/accounts/me", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.response(200, DeveloperSchema)
def get_my_account():
    """The caller's studio and their role in it."""
    studio = access.own_studio(Action.STUDIO_READ)
    return serializers.developer(studio.developer, role=studio.role)


@public.route("/accounts/me", methods=["PUT"])
@error_responses(access.NO_STUDIO)
@access.require_user
@transactional
@public.arguments(UpdateAccountSchema)
@public.response(200, DeveloperSchema)
def update_my_account(body):
    """Change the company name or legal details (studio admins). A rejected studio whose details
    change is pending review again."""
    session = request_session()
    studio = access.own_studio(Action.STUDIO_UPDATE, lock=True)
    row = studio.developer
    values = {}
    if "companyName" in body and body["companyName"].strip() != row.company_name:
        values["company_name"] = body["companyName"].strip()
    if "legalDetails" in body and body["legalDetails"] != row.legal_details:
        values["legal_details"] = body["legalDetails"]
    before = serializers.developer(row, role=studio.role)
    if not values:
        return before
    status = verification.status_after_details_update(row.verification_status)
    if status.value != row.verification_status:
        values.update(verification_status=status.value, verification_reason=None)
    updated = repository.update_developer(session, row.developer_id, **values)
    after = serializers.developer(updated, role=studio.role)
    audit(
        session,
        developer_id=row.developer_id,
        action="developer.updated",
        entity_type="developer",
        entity_id=row.developer_id,
        before=before,
        after=after,
    )
    emit(session, events.DeveloperUpdated(developer_id=row.developer_id, company_name=updated.company_name))
    return after


@public.route("/accounts/<uuid:developer_id>", methods=["GET"])
@access.require_user
@public.response(200, DeveloperSchema)
def get_account(developer_id):
    """A studio by id: its members and platform admins; 404 for anyone else."""
    studio = access.studio(developer_id, Action.STUDIO_READ)
    return serializers.developer(studio.developer, role=studio.role)


def _audit_page(developer_id, query):
    after = decode_cursor(query["cursor"], (int,))
    page = repository.list_audit(request_session(), developer_id, after=after, limit=query["limit"])
    return page_body(page, serializers.audit_entry, lambda row: (row.audit_id,))


@public.route("/accounts/me/audit-log", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, AuditPageSchema)
def my_audit_log(query):
    """Every change to the studio, newest first: who, what, when, before and after (studio admins)."""
    studio = access.own_studio(Action.AUDIT_READ)
    return _audit_page(studio.developer.developer_id, query)


@public.route("/accounts/<uuid:developer_id>/audit-log", methods=["GET"])
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, AuditPageSchema)
def audit_log(query, developer_id):
    """A studio's audit log: its admins and platform admins."""
    access.studio(developer_id, Action.AUDIT_READ)
    return _audit_page(developer_id, query)


@internal.route("/developers/<uuid:developer_id>/verification", methods=["POST"])
@require_scopes(SCOPE_VERIFY)
@idempotent
@internal.arguments(VerificationSchema)
@internal.response(200, DeveloperSchema)
def decide_verification(body, developer_id):
    """The Admin Service's decision: pending → verified, or rejected with a reason. Repeating the
    decision already taken is a no-op (a retry); reversing it is 409."""
    session = request_session()
    row = repository.get_developer(session, developer_id, lock=True)
    if row is None:
        raise not_found("developer account")
    change = verification.decide_verification(row.verification_status, body["status"], body["reason"])
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
        developer_id=developer_id,
        action="developer.verified",
        entity_type="developer",
        entity_id=developer_id,
        before=before,
        after=after,
    )
    emit(
        session,
        events.DeveloperVerified(
            developer_id=developer_id, verification_status=change.status, reason=change.reason
        ),
    )
    return after
