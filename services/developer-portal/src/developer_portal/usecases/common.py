"""Who acts, and what every change leaves behind in the caller's transaction: an audit entry (who,
what, when, before/after, request id) and, where other services care, an event in the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from developer_portal.context import PortalState
from developer_portal.db import repository
from gamekeys_platform.contracts import EventData
from gamekeys_platform.refusals import Refusal


@dataclass(frozen=True)
class Actor:
    """The caller: a user (``subject`` its user id) or a service, and the request it came with."""

    subject: str
    is_service: bool = False
    email: str | None = None
    request_id: str | None = None

    @property
    def user_id(self) -> uuid.UUID:
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            raise Refusal("FORBIDDEN", "this operation needs a user token whose sub is a user id") from None


def emit(portal: PortalState, session: Session, event: EventData) -> None:
    portal.outbox.add(session, event)


def audit(
    session: Session,
    actor: Actor,
    *,
    developer_id: Any,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    repository.insert_audit(
        session,
        developer_id=developer_id,
        actor_type="service" if actor.is_service else "user",
        actor_id=actor.subject,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        request_id=actor.request_id,
    )
