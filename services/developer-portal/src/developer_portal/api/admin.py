"""The Admin Service's internal calls on studios: suspend and reinstate one (scope
``developers:suspend``), and support search of studios and games (scope ``support:read``). Each
names the platform admin it is made for (``adminId``) and why (``reason``): suspensions go to
the studio's audit log under that admin, searches to the support access log."""

from __future__ import annotations

import uuid
from datetime import datetime

from developer_portal.api.blueprints import internal
from developer_portal.api.schemas import (
    DeveloperSchema,
    GameSearchSchema,
    StudioSearchSchema,
    SupportGamePageSchema,
    SupportStudioPageSchema,
    SuspensionRequestSchema,
)
from developer_portal.context import portal
from developer_portal.usecases import support, suspension
from developer_portal.usecases.common import Actor
from gamekeys_platform.auth import current_principal, require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor
from gamekeys_platform.request_context import current_request_id
from gamekeys_platform.support import SCOPE_SUPPORT_READ

SCOPE_SUSPEND = "developers:suspend"
_UNKNOWN_STUDIO = {404: "NOT_FOUND: no such studio"}


def _admin(body) -> Actor:
    """The deciding platform admin, on whose behalf the Admin Service calls."""
    return Actor(body["adminId"], is_service=False, request_id=current_request_id())


@internal.route("/developers/<uuid:developer_id>/suspension", methods=["POST"])
@error_responses(_UNKNOWN_STUDIO)
@require_scopes(SCOPE_SUSPEND)
@idempotent
@internal.arguments(SuspensionRequestSchema)
@internal.response(200, DeveloperSchema)
def suspend_studio(body, developer_id):
    """Suspend a studio: its published games go off the store (``removed``) and its keys cannot
    be redeemed (players get ``PUBLISHER_SUSPENDED``) until it is reinstated. Suspending a
    suspended studio answers it as it is."""
    return suspension.suspend(portal(), request_session(), _admin(body), developer_id, reason=body["reason"])


@internal.route("/developers/<uuid:developer_id>/reinstatement", methods=["POST"])
@error_responses(_UNKNOWN_STUDIO)
@require_scopes(SCOPE_SUSPEND)
@idempotent
@internal.arguments(SuspensionRequestSchema)
@internal.response(200, DeveloperSchema)
def reinstate_studio(body, developer_id):
    """Reinstate a suspended studio: its keys can be redeemed again and the games the suspension
    took off the store are published again (those the studio had unpublished itself stay off).
    Reinstating a studio that is not suspended answers it as it is."""
    return suspension.reinstate(
        portal(), request_session(), _admin(body), developer_id, reason=body["reason"]
    )


@internal.route("/support/studios", methods=["GET"])
@require_scopes(SCOPE_SUPPORT_READ)
@transactional
@internal.arguments(StudioSearchSchema, location="query")
@internal.response(200, SupportStudioPageSchema)
def search_studios(query):
    """Studios by part of the company name, id, a member's user id or email, verification
    status, suspension; newest first, each with its member and game counts. Recorded in the
    support access log with the admin and reason."""
    return support.search_studios(
        request_session(),
        caller=current_principal().subject,
        request_id=current_request_id(),
        query=query,
        after=decode_cursor(query["cursor"], (datetime, uuid.UUID)),
    )


@internal.route("/support/games", methods=["GET"])
@require_scopes(SCOPE_SUPPORT_READ)
@transactional
@internal.arguments(GameSearchSchema, location="query")
@internal.response(200, SupportGamePageSchema)
def search_games(query):
    """Games by part of the title, id or studio (any status); newest first. Recorded in the
    support access log with the admin and reason."""
    return support.search_games(
        request_session(),
        caller=current_principal().subject,
        request_id=current_request_id(),
        query=query,
        after=decode_cursor(query["cursor"], (datetime, uuid.UUID)),
    )
