"""Public API, ``/api/v1/keys`` (ARCHITECTURE.md §5): the seed's KeyManager interface."""

from __future__ import annotations

import csv
import functools
import io
import json
import uuid
from datetime import UTC, datetime

from flask import Response, g, make_response, request, stream_with_context

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal, require_auth, require_role_or_scope, require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body
from gamekeys_platform.request_context import current_request_id
from key_manager.api import access
from key_manager.api import schemas as s
from key_manager.api.views import (
    actor,
    batch_dict,
    caller_rate_limit,
    exported_keys_page,
    key_info,
    normalized_or_400,
    revealed,
    ts,
)
from key_manager.context import key_manager
from key_manager.db import audit as audit_repo
from key_manager.db import batches as batches_repo
from key_manager.db import keys as keys_repo
from key_manager.domain import codec
from key_manager.domain.access import Action
from key_manager.domain.states import BATCH_WITH_KEYS, FINAL, KeyStatus
from key_manager.usecases import batches as batch_usecases
from key_manager.usecases import keys as key_usecases
from key_manager.usecases.batches import BatchOrder

blp = Blueprint(
    "keys",
    __name__,
    url_prefix="/api/v1/keys",
    description="Game keys: generation, batches, state, validation",
)

READERS = ("developer", "admin", "support")
WRITERS = ("developer", "admin")


def _order(body) -> BatchOrder:
    return BatchOrder(
        game_id=body["gameId"],
        key_type=body["keyType"],
        quantity=body["quantity"],
        regional_restrictions=body["regionalRestrictions"],
        expiration_date=body["expirationDate"],
        metadata=body["metadata"],
    )


def reveal_generated_keys(view):
    """Put the plaintext keys into a 201 from /generate after ``@idempotent`` has stored it.

    The stored copy (for Idempotency-Key replays) holds key ids only, so no plaintext key lands
    in the idempotency table; a replay decrypts the same keys again for the same caller.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        if response.status_code != 201:
            return response
        body = response.get_json()
        plaintexts = g.pop("generated_plaintext", None)
        if plaintexts is None:
            km = key_manager()
            rows = keys_repo.batch_key_rows(request_session(), uuid.UUID(body["batchId"]))
            plaintexts = {str(row.id): revealed(km.vault, row) for row in rows}
        else:
            plaintexts = {key_id: (key, None) for key_id, key in plaintexts.items()}
        for item in body["keys"]:
            item["key"], error = plaintexts[item["id"]]
            if error is not None:
                item["error"] = error
        response.set_data(json.dumps(body, separators=(",", ":")))
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapper


@blp.route("/generate", methods=["POST"])
@require_roles(*WRITERS)
@error_responses({404: "NOT_FOUND: no such game, or not one of the caller's studios"})
@reveal_generated_keys
@idempotent
@blp.arguments(s.GenerateRequestSchema)
@blp.response(201, s.GeneratedBatchSchema)
def generate_keys(body):
    """Generate up to 1,000 keys now; the plaintext keys are in this response only (generateKeys)."""
    session = request_session()
    owner = access.game_for(session, body["gameId"], Action.GENERATE, body["keyType"])
    generated = batch_usecases.generate_now(
        key_manager(), session, _order(body), developer_id=owner.developer_id, actor=actor()
    )
    g.generated_plaintext = {str(key_id): codec.format_key(key) for key_id, key in generated.keys}
    return {
        **batch_dict(generated.batch),
        "keys": [{"id": key_id, "status": "generated"} for key_id, _ in generated.keys],
    }


@blp.route("/batches", methods=["POST"])
@require_roles(*WRITERS)
@error_responses({404: "NOT_FOUND: no such game, or not one of the caller's studios"})
@idempotent
@blp.arguments(s.BatchRequestSchema)
@blp.response(202, s.BatchSchema)
def create_batch(body):
    """Queue a batch of up to 100,000 keys; a worker generates it (generateBatch). Poll
    GET /batches/{id} for status and progress, then export the keys."""
    session = request_session()
    owner = access.game_for(session, body["gameId"], Action.GENERATE, body["keyType"])
    batch = batch_usecases.queue_batch(
        key_manager(), session, _order(body), developer_id=owner.developer_id, actor=actor()
    )
    return batch_dict(batch), {"Location": f"/api/v1/keys/batches/{batch.id}"}


@blp.route("/batches", methods=["GET"])
@require_roles(*READERS)
@blp.arguments(s.BatchListQuerySchema, location="query")
@blp.response(200, s.BatchPageSchema)
def list_batches(query):
    """Batches of the caller's studios, newest first."""
    session = request_session()
    page = batches_repo.list_batches(
        session,
        developer_ids=access.visible_studios(session),
        game_id=query.get("gameId"),
        status=query.get("status"),
        limit=query["limit"],
        after=decode_cursor(query.get("cursor"), batches_repo.BATCH_CURSOR),
    )
    return page_body(page, batch_dict, lambda row: (row.created_at, row.id))


@blp.route("/batches/<uuid:batch_id>", methods=["GET"])
@require_roles(*READERS)
@blp.response(200, s.BatchSchema)
def get_batch(batch_id):
    """Status and progress of a batch, with how many of its keys are in each state."""
    session = request_session()
    batch = access.batch_for(session, batch_id, Action.READ)
    counts = keys_repo.batch_key_counts(session, batch_id) if batch.status in BATCH_WITH_KEYS else {}
    return batch_dict(batch, counts)


@blp.route("/batches/<uuid:batch_id>/keys", methods=["GET"])
@require_roles(*READERS)
@transactional
@blp.arguments(s.KeyPageQuerySchema, location="query")
@blp.response(200, s.KeyExportPageSchema, description="JSON pages; with `Accept: text/csv` one CSV file")
def batch_keys(query, batch_id):
    """The batch's keys in plaintext (export): JSON pages, or the whole batch as CSV with
    ``Accept: text/csv``. Every call is recorded in the export audit."""
    km, session = key_manager(), request_session()
    batch = access.batch_for(session, batch_id, Action.EXPORT)
    if batch.status not in BATCH_WITH_KEYS:
        raise ApiError(
            "CONFLICT", f"the batch is {batch.status}: its keys are not ready", {"status": batch.status}
        )
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    if wants_csv:
        audit_repo.audit_export(
            session,
            actor=actor(),
            fmt="csv",
            batch_id=batch_id,
            key_count=batch.generated_keys,
            request_id=current_request_id(),
        )
        response = Response(stream_with_context(_csv_rows(batch_id)), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="keys-{batch_id}.csv"'
        response.headers["Cache-Control"] = "no-store"
        return response
    page = keys_repo.page_batch_keys(
        session,
        batch_id,
        after=decode_cursor(query.get("cursor"), keys_repo.KEY_CURSOR),
        limit=query["limit"],
    )
    audit_repo.audit_export(
        session,
        actor=actor(),
        fmt="json",
        batch_id=batch_id,
        key_count=len(page.rows),
        cursor=query.get("cursor"),
        request_id=current_request_id(),
    )
    return exported_keys_page(km.vault, page)


def _csv_rows(batch_id: uuid.UUID):
    km = key_manager()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # ``error``: empty, or why this key could not be decrypted (its ``key`` cell is then empty).
    writer.writerow(["keyId", "key", "status", "keyType", "expiresAt", "error"])
    yield buffer.getvalue()
    query = keys_repo.batch_export_query(batch_id)
    with km.db.engine.connect() as connection:
        result = connection.execution_options(yield_per=5000).execute(query)
        for partition in result.partitions():
            buffer.seek(0)
            buffer.truncate()
            for row in partition:
                key, error = revealed(km.vault, row)
                writer.writerow(
                    [
                        row.id,
                        key or "",
                        row.status,
                        row.key_type,
                        ts(row.expires_at) or "",
                        error["details"]["reason"] if error else "",
                    ]
                )
            yield buffer.getvalue()


@blp.route("/batches/<uuid:batch_id>/cancel", methods=["POST"])
@require_roles(*WRITERS)
@transactional
@blp.arguments(s.CancelSchema)
@blp.response(200, s.BatchSchema)
def cancel_batch(body, batch_id):
    """Cancel a pending or generating batch: the worker stops at its next chunk and keeps no
    keys. A completed batch cannot be cancelled (409 with its status): revoke it instead.
    Cancelling a cancelled batch answers it as it is."""
    session = request_session()
    batch = access.batch_for(session, batch_id, Action.MODIFY, for_update=True)
    cancelled = batch_usecases.cancel_batch(
        key_manager(), session, batch, reason=body["reason"], actor=actor()
    )
    return batch_dict(cancelled)


@blp.route("/batches/<uuid:batch_id>/revoke", methods=["POST"])
@require_roles(*WRITERS)
@idempotent
@blp.arguments(s.RevokeSchema)
@blp.response(200, s.BatchRevokeResultSchema)
def revoke_batch(body, batch_id):
    """Revoke every key of the batch that is not activated (or otherwise final), in one operation."""
    session = request_session()
    batch = access.batch_for(session, batch_id, Action.MODIFY, for_update=True)
    revoked = batch_usecases.revoke_batch(
        key_manager(), session, batch, reason=body["reason"], actor=actor(), request_id=current_request_id()
    )
    return {"batchId": batch_id, "status": "revoked", "revokedKeys": revoked}


validate_rate_limit = caller_rate_limit(
    "validate", lambda settings: (settings.key_validate_rate_limit, settings.key_validate_rate_window_seconds)
)


@blp.route("/validate", methods=["POST"])
@require_auth
@validate_rate_limit
@blp.arguments(s.KeyTextSchema)
@blp.response(200, s.ValidationResultSchema)
def validate_key(body):
    """Check a key's format (and check character); its state only for callers entitled to it.

    Not activation-gateway's ``POST /api/v1/activations/validate``, which checks whether a
    player could redeem the key (state, region, lockout). Here anyone signed in learns only
    whether the text is a well-formed key; its studio, platform staff and services with
    keys:read also get its state. Limited per caller (KEY_VALIDATE_RATE_LIMIT calls per
    KEY_VALIDATE_RATE_WINDOW_SECONDS)."""
    try:
        canonical = codec.normalize(body["key"])
    except codec.InvalidKeyFormat as exc:
        return {"valid": False, "formatValid": False, "error": str(exc)}
    km, session = key_manager(), request_session()
    principal = current_principal()
    key = keys_repo.find_key_by_hash(session, km.vault.lookup_hash(canonical))
    if key is None or not access.may_read_key(session, principal, key):
        if principal.has_scope("keys:read") or principal.has_role("admin", "support"):
            return {"valid": False, "formatValid": True, "exists": False, "error": None}
        return {"valid": True, "formatValid": True, "error": None}
    expired = key.expires_at is not None and key.expires_at <= datetime.now(UTC)
    usable = KeyStatus(key.status) not in FINAL and not expired
    return {
        "valid": usable,
        "formatValid": True,
        "exists": True,
        "keyId": key.id,
        "status": "expired" if expired and key.status not in FINAL else key.status,
        "gameId": key.game_id,
        "expiresAt": ts(key.expires_at),
        "error": None,
    }


@blp.route("/check-duplicate", methods=["POST"])
@require_role_or_scope(roles=("admin",), scopes=("keys:read",))
@blp.arguments(s.KeyTextSchema)
@blp.response(200, s.DuplicateResultSchema)
def check_duplicate(body):
    """Whether this key exists already (checkDuplicate): platform admins and services only."""
    canonical = normalized_or_400(body["key"])
    km = key_manager()
    return {"duplicate": keys_repo.key_exists(request_session(), km.vault.lookup_hash(canonical))}


@blp.route("/<uuid:key_id>", methods=["GET"])
@require_roles(*READERS)
@blp.response(200, s.KeyInfoSchema)
def get_key(key_id):
    """KeyInfo with the key masked, and its history of state changes (getKeyInfo). A key whose
    stored ciphertext cannot be decrypted is 503 DATABASE_ERROR with ``details.reason``."""
    session = request_session()
    key = access.key_for(session, key_id, Action.READ)
    info = key_info(key_manager().vault, key, audit_repo.key_history(session, key_id))
    if info["keyError"] is not None:
        error = info["keyError"]
        raise ApiError(error["code"], error["message"], error["details"])
    return info


def _change_status(key_id: uuid.UUID, target: KeyStatus, reason: str | None, operation: str):
    km, session = key_manager(), request_session()
    key = access.key_for(session, key_id, Action.MODIFY, for_update=True)
    changed = key_usecases.change_status(
        km,
        session,
        key,
        target,
        reason=reason,
        operation=operation,
        actor=actor(),
        request_id=current_request_id(),
    )
    return key_info(km.vault, changed, audit_repo.key_history(session, key_id))


@blp.route("/<uuid:key_id>/status", methods=["PATCH"])
@require_roles(*WRITERS)
@transactional
@blp.arguments(s.StatusChangeSchema)
@blp.response(200, s.KeyInfoSchema)
def update_key_status(body, key_id):
    """Move a key to sold, revoked or expired, if the state machine allows it (updateKeyStatus);
    otherwise 409 with the current status."""
    return _change_status(key_id, KeyStatus(body["status"]), body.get("reason"), "status_change")


@blp.route("/<uuid:key_id>/revoke", methods=["POST"])
@require_roles(*WRITERS)
@idempotent
@blp.arguments(s.RevokeSchema)
@blp.response(200, s.KeyInfoSchema)
def revoke_key(body, key_id):
    """Revoke one key with a reason (revokeKey)."""
    return _change_status(key_id, KeyStatus.REVOKED, body["reason"], "revoke")
