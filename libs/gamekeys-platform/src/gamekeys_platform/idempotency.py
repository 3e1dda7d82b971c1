"""Idempotency-Key handling (§3), backed by the service's own PostgreSQL schema.

The key's record is written in the same transaction as the view's effect, so either both
exist or neither does: a crash can never leave an effect whose key would let it run twice.
A transaction-scoped advisory lock on (caller, key) makes concurrent duplicates answer
409 at once instead of queueing behind the first; after it commits they replay it.
4xx outcomes are stored (the view's own writes are rolled back to a savepoint first), whether
the view raised an ``ApiError`` or a domain ``Refusal``; 5xx outcomes are not, so a retry runs
again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from flask import Response, current_app, make_response, request
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from gamekeys_platform.auth import optional_principal
from gamekeys_platform.db import delete_in_batches, request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.openapi import declare
from gamekeys_platform.refusals import Refusal

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_STORED_HEADERS = ("Content-Type", "Location")


def idempotent(view: Callable | None = None, *, required: bool = False) -> Callable:
    """Make a POST view honour Idempotency-Key. Place it above ``blp.response`` (it needs the
    final response) and below the auth decorators (the caller scopes the key). With
    ``required=True`` (where a blind retry could move money twice: ``@idempotent(required=True)``)
    a request without the header is refused, 400 VALIDATION_ERROR, before anything runs."""
    if view is None:
        return functools.partial(idempotent, required=required)
    plain = transactional(view)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None and required:
            raise ApiError(
                "VALIDATION_ERROR",
                f"this operation needs an {HEADER} header, so that a retry can never repeat it",
                {"header": HEADER, "reason": "IDEMPOTENCY_KEY_REQUIRED"},
                status=400,
            )
        if key is None:
            return plain(*args, **kwargs)
        if not _VALID_KEY.match(key):
            raise ApiError(
                "VALIDATION_ERROR",
                f"{HEADER} must be 1-255 visible ASCII characters",
                {"header": HEADER},
                status=400,
            )
        session = request_session()
        try:
            return _run_once(session, _caller_scope(), key, _fingerprint(), lambda: view(*args, **kwargs))
        except BaseException:
            session.rollback()
            raise

    declare(wrapper, idempotent="required" if required else True)
    return wrapper


def _run_once(session: Session, scope: str, key: str, fingerprint: str, run_view: Callable) -> Response:
    table = current_app.extensions["gamekeys_db"].tables.idempotency_keys
    locked = session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_name, 0))"),
        {"lock_name": f"idempotency|{scope}|{key}"},
    ).scalar_one()
    if not locked:
        raise ApiError(
            "CONFLICT",
            "a request with this Idempotency-Key is still in progress",
            {"reason": "IDEMPOTENCY_IN_PROGRESS"},
            headers={"Retry-After": "1"},
        )
    where = (table.c.scope == scope) & (table.c.key == key)
    live = (table.c.expires_at > func.now()).label("live")
    stored = session.execute(select(table, live).where(where)).first()
    if stored is not None and stored.live:
        session.rollback()
        if stored.request_fingerprint != fingerprint:
            raise ApiError("IDEMPOTENCY_CONFLICT", f"this {HEADER} was used with a different request")
        return _replay(stored)
    if stored is not None:
        session.execute(delete(table).where(where))

    savepoint = session.begin_nested()
    try:
        response = make_response(run_view())
        savepoint.commit()
    except (ApiError, Refusal) as exc:
        savepoint.rollback()
        # A domain refusal is stored and replayed like any other client error.
        error = exc.as_api_error() if isinstance(exc, Refusal) else exc
        if error.status >= 500:
            raise
        response = make_response((error.body(), error.status, error.headers))
    if response.status_code >= 500:
        session.rollback()
        return response
    ttl = timedelta(hours=current_app.extensions["gamekeys_settings"].idempotency_ttl_hours)
    session.execute(
        insert(table).values(
            scope=scope,
            key=key,
            request_fingerprint=fingerprint,
            response_status=response.status_code,
            response_body=response.get_data(as_text=True),
            response_headers={h: response.headers[h] for h in _STORED_HEADERS if h in response.headers},
            expires_at=func.now() + ttl,
        )
    )
    session.commit()
    return response


def _replay(stored) -> Response:
    response = Response(stored.response_body, status=stored.response_status, headers=stored.response_headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _caller_scope() -> str:
    principal = optional_principal()
    if principal is not None:
        return principal.subject
    return f"anonymous:{request.remote_addr}"


def _fingerprint() -> str:
    """Same request = same method, path, query and JSON body (key order and spacing ignored)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.full_path}\n".encode())
    digest.update(_canonical_body(request.get_data()))
    return digest.hexdigest()


def _canonical_body(body: bytes) -> bytes:
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:  # empty or not JSON: compare the raw bytes
        return body


def purge_expired(session: Session, table) -> int:
    """Delete expired keys; returns how many went."""
    return delete_in_batches(session, table, table.c.expires_at < func.now())
