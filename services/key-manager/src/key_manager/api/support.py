"""The Admin Service's support look-up of a key by id, ``/internal/v1/support/keys/{keyId}``
(scope ``support:read``): its state (the key masked), game, studio, batch, retailer or store
order, and its history. Every look-up names the platform admin it is for and why, and is
recorded in the support access log."""

from __future__ import annotations

import uuid

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal, require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.request_context import current_request_id
from gamekeys_platform.support import SCOPE_SUPPORT_READ
from key_manager.api import schemas as s
from key_manager.api.views import key_info
from key_manager.context import key_manager
from key_manager.db import audit as audit_repo
from key_manager.db import keys as keys_repo
from key_manager.db.tables import studio_projection as projection
from key_manager.db.tables import support_log

blp = Blueprint(
    "internal-support",
    __name__,
    url_prefix="/internal/v1/support",
    description="The Admin Service's support look-ups (scope support:read; recorded with admin and reason)",
)


@blp.route("/keys/<uuid:key_id>", methods=["GET"])
@error_responses({404: "KEY_NOT_FOUND: no key with this id"})
@require_scopes(SCOPE_SUPPORT_READ)
@transactional
@blp.arguments(s.SupportKeyQuerySchema, location="query")
@blp.response(200, s.SupportKeySchema)
def support_key(query, key_id: uuid.UUID):
    """A key by id for support: KeyInfo with the key masked (never the key), the store order it
    was sold to, whether its studio is suspended, and every state change with who and why."""
    session = request_session()
    key = keys_repo.get_key(session, key_id)
    support_log.record(
        session,
        admin_id=query["adminId"],
        reason=query["reason"],
        caller=current_principal().subject,
        action="support.key",
        query={"keyId": str(key_id)},
        result_count=0 if key is None else 1,
        request_id=current_request_id(),
    )
    if key is None:
        # The look-up is recorded even when nothing was found: commit it, then answer 404.
        session.commit()
        raise ApiError("KEY_NOT_FOUND", "key not found")
    return {
        **key_info(key_manager().vault, key, audit_repo.key_history(session, key_id)),
        "orderId": key.order_id,
        "publisherSuspended": projection.suspended(session, key.developer_id),
    }
