"""Request id and caller of the current unit of work, for logs, error bodies and outgoing calls.

A context variable rather than flask.g so the outbox relay and consumers, which run
outside any request, can set and read the same values.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None):
    """Set the id and return the token to reset it with ``reset_request_id``."""
    return _request_id.set(request_id)


def reset_request_id(token) -> None:
    _request_id.reset(token)


def new_request_id() -> str:
    return str(uuid.uuid4())
