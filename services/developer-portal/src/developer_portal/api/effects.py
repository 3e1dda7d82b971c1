"""What every change leaves behind, in the view's transaction: an audit entry (who, what,
when, before/after) and, where other services care, an event in the outbox."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from developer_portal.db import repository
from gamekeys_platform.auth import current_principal
from gamekeys_platform.contracts import EventData
from gamekeys_platform.request_context import current_request_id


def emit(session: Session, event: EventData) -> None:
    current_app.extensions["developer_portal"].outbox.add(session, event)


def audit(
    session: Session,
    *,
    developer_id: Any,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    principal = current_principal()
    repository.insert_audit(
        session,
        developer_id=developer_id,
        actor_type="service" if principal.is_service else "user",
        actor_id=principal.subject,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        request_id=current_request_id(),
    )
