"""The Admin Service's support look-up of a user's activations,
``/internal/v1/support/users/{userId}/activations`` (scope ``support:read``): the records of the
user's own history, each look-up recorded with the platform admin it is for and why."""

from __future__ import annotations

from activation_gateway.api import schemas as s
from activation_gateway.api.routes import HISTORY_CURSOR, _record
from activation_gateway.db import repository as repo
from activation_gateway.db.tables import support_log
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal, require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.pagination import decode_cursor, page_body
from gamekeys_platform.request_context import current_request_id
from gamekeys_platform.support import SCOPE_SUPPORT_READ

support = Blueprint(
    "activations-support",
    __name__,
    url_prefix="/internal/v1/support",
    description="The Admin Service's support look-ups (scope support:read; recorded with admin and reason)",
)


@support.route("/users/<uuid:user_id>/activations", methods=["GET"])
@require_scopes(SCOPE_SUPPORT_READ)
@transactional
@support.arguments(s.SupportHistoryQuerySchema, location="query")
@support.response(200, s.HistoryPageSchema)
def support_history(query, user_id):
    """A user's activations for support, newest first, cursor pages: the same records as the
    user's own history. Every look-up is recorded with the admin and reason."""
    session = request_session()
    page = repo.history_page(
        session,
        str(user_id),
        after=decode_cursor(query.get("cursor"), HISTORY_CURSOR),
        limit=query["limit"],
    )
    support_log.record(
        session,
        admin_id=query["adminId"],
        reason=query["reason"],
        caller=current_principal().subject,
        action="support.activations",
        query={"userId": str(user_id), **({"cursor": query["cursor"]} if query.get("cursor") else {})},
        result_count=len(page.rows),
        request_id=current_request_id(),
    )
    return page_body(page, _record, lambda row: (row.created_at, row.id))
