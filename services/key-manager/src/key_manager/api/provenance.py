"""A key's provenance, ``/api/v1/keys``: where it came from and went (batch, allocation,
retailer, order, sale and price, return or chargeback, activation with its fraud outcome,
dispute), each step with its time. By key id for the owning studio, support and platform
admins; by the plaintext key for support (audited in ``key_lookups``, rate-limited per caller;
the key is in no log, event or answer)."""

from __future__ import annotations

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal, require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.request_context import current_request_id
from key_manager.api import access
from key_manager.api import schemas as s
from key_manager.api.views import caller_rate_limit, normalized_or_400
from key_manager.context import key_manager
from key_manager.db import audit as audit_repo
from key_manager.db import keys as keys_repo
from key_manager.domain.access import Action
from key_manager.usecases.provenance import provenance

blp = Blueprint(
    "keys-provenance",
    __name__,
    url_prefix="/api/v1/keys",
    description="A key's provenance: its channel, sale, return or chargeback, activation",
)

READERS = ("developer", "admin", "support")
LOOKERS = ("admin", "support")


@blp.route("/<uuid:key_id>/provenance", methods=["GET"])
@require_roles(*READERS)
@blp.response(200, s.ProvenanceSchema)
def key_provenance(key_id):
    """Every step of the key's life with its time: batch, allocation and retailer, the order
    with sale time and price, a return or chargeback, the activation (when, region, the fraud
    score and outcome) and a dispute. The owning studio's members, support and platform admins;
    anyone else 404. Parts another service owns are left out and named in ``incomplete`` when
    it cannot answer."""
    session = request_session()
    key = access.key_for(session, key_id, Action.READ)
    return provenance(key_manager(), session, key)


# Counted before the body is read: a malformed key counts too.
lookup_rate_limit = caller_rate_limit(
    "provenance-lookup",
    lambda settings: (settings.key_lookup_rate_limit, settings.key_lookup_rate_window_seconds),
)


@blp.route("/provenance/lookup", methods=["POST"])
@error_responses({404: "KEY_NOT_FOUND: no such key (the look-up is audited all the same)"})
@require_roles(*LOOKERS)
@lookup_rate_limit
@transactional
@blp.arguments(s.ProvenanceLookupSchema)
@blp.response(200, s.ProvenanceSchema)
def lookup_provenance(body):
    """Support pastes a key from a ticket: its provenance. Every look-up is audited (who, when,
    which key id or none, the reason; never the key) and counted against the caller's limit
    (KEY_LOOKUP_RATE_LIMIT per KEY_LOOKUP_RATE_WINDOW_SECONDS, then 429). A malformed key is 400
    INVALID_KEY_FORMAT, an unknown one 404 KEY_NOT_FOUND (both audited)."""
    km, session = key_manager(), request_session()
    principal = current_principal()
    try:
        canonical = normalized_or_400(body["key"])
    except ApiError:
        audit_repo.audit_lookup(session, key_id=None, actor=principal.subject, reason=body["reason"],
                                request_id=current_request_id())  # fmt: skip
        session.commit()
        raise
    key = keys_repo.find_key_by_hash(session, km.vault.lookup_hash(canonical))
    audit_repo.audit_lookup(
        session,
        key_id=key.id if key is not None else None,
        actor=principal.subject,
        reason=body["reason"],
        request_id=current_request_id(),
    )
    if key is None:
        session.commit()
        raise ApiError("KEY_NOT_FOUND", "key not found")
    return provenance(km, session, key)
