"""Studios: registration, the caller's studio, platform admins' view of every studio, and the
Admin Service's verification decision (internal)."""

from __future__ import annotations

import uuid
from datetime import datetime

from developer_portal import serializers
from developer_portal.api import access
from developer_portal.api.blueprints import internal, public
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
from developer_portal.context import portal
from developer_portal.db import repository
from developer_portal.domain.permissions import PLATFORM_ADMIN, Action
from developer_portal.usecases import accounts
from gamekeys_platform.auth import require_roles, require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body

SCOPE_VERIFY = "developers:verify"


@public.route("/accounts", methods=["POST"])
@access.require_user
@idempotent
@public.arguments(RegisterSchema)
@public.response(201, DeveloperSchema)
def register(body):
    """Register a studio: pending verification, the caller its first admin."""
    return accounts.register_studio(
        portal(),
        request_session(),
        access.actor(),
        company_name=body["companyName"],
        legal_details=body["legalDetails"],
    )


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
    studio = access.own_studio(Action.STUDIO_UPDATE, lock=True)
    return accounts.update_studio(
        portal(), request_session(), access.actor(), studio.developer, role=studio.role, changes=body
    )


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
    return accounts.decide_verification(
        portal(),
        request_session(),
        access.actor(),
        developer_id,
        status=body["status"],
        reason=body["reason"],
    )
