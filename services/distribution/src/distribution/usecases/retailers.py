"""Retailers: adding one (with its client credentials), changing its status and terms, rotating
its credentials. The client secret is returned once to the caller and stored only as a hash."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from distribution import events
from distribution.context import Distribution
from distribution.db import repository as repo
from distribution.domain import retailers as rules
from gamekeys_platform.refusals import Refusal

# The fields a retailer update may change: their names in events (changedFields) → columns.
UPDATABLE = {
    "name": "name",
    "contactInfo": "contact_info",
    "commissionRate": "commission_rate",
    "allowedGameIds": "allowed_game_ids",
    "allowedRegions": "allowed_regions",
    "status": "status",
}


def retailer_or_refuse(session: Session, retailer_id: uuid.UUID, *, for_update: bool = False):
    row = repo.get_retailer(session, retailer_id, for_update=for_update)
    if row is None:
        raise Refusal("NOT_FOUND", "retailer not found")
    return row


def add_retailer(
    dist: Distribution,
    session: Session,
    *,
    actor: str,
    name: str,
    contact_info: dict,
    commission_rate,
    allowed_game_ids,
    allowed_regions,
) -> tuple[Any, str]:
    """The new retailer (active) and its client secret in clear, for the caller to show once."""
    secret = rules.new_client_secret()
    row = repo.insert_retailer(
        session,
        id=uuid.uuid4(),
        name=name,
        contact_info=contact_info,
        commission_rate=commission_rate,
        allowed_game_ids=sorted(set(allowed_game_ids)),
        allowed_regions=rules.normalize_regions(allowed_regions),
        status=rules.RetailerStatus.ACTIVE.value,
        client_id=rules.new_client_id(),
        secret_hash=dist.hasher.hash(secret),
        created_by=actor,
    )
    dist.outbox.add(session, events.retailer_added(row, created_by=actor))
    return row, secret


def update_retailer(
    dist: Distribution,
    session: Session,
    retailer_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    actor: str,
    reason: str | None = None,
):
    """Apply ``changes`` (keyed by the names of ``UPDATABLE``): suspend (its tokens stop at
    once), reactivate, change terms. Only what really changes is written and named in the
    retailer.updated event; nothing changing writes nothing."""
    current = retailer_or_refuse(session, retailer_id, for_update=True)
    values: dict[str, Any] = {}
    if "status" in changes and rules.status_change(current.status, changes["status"]) is not None:
        values["status"] = changes["status"]
    if "commissionRate" in changes:
        values["commission_rate"] = changes["commissionRate"]
    if "name" in changes:
        values["name"] = changes["name"]
    if "contactInfo" in changes:
        values["contact_info"] = changes["contactInfo"]
    if "allowedGameIds" in changes:
        values["allowed_game_ids"] = sorted(set(changes["allowedGameIds"]))
    if "allowedRegions" in changes:
        values["allowed_regions"] = rules.normalize_regions(changes["allowedRegions"])
    changed = sorted(
        field
        for field, column in UPDATABLE.items()
        if column in values and values[column] != getattr(current, column)
    )
    if not changed:
        return current
    row = repo.update_retailer(session, retailer_id, **values)
    dist.outbox.add(
        session,
        events.retailer_updated(
            row, changed_fields=changed, previous_status=current.status, reason=reason, updated_by=actor
        ),
    )
    return row


def rotate_credentials(dist: Distribution, session: Session, retailer_id: uuid.UUID, *, actor: str):
    """A new client secret (returned in clear, once); the old secret and every token issued under
    it stop working at once (the credentials version moves). The client id stays."""
    current = retailer_or_refuse(session, retailer_id, for_update=True)
    secret = rules.new_client_secret()
    row = repo.update_retailer(
        session,
        retailer_id,
        secret_hash=dist.hasher.hash(secret),
        credentials_version=current.credentials_version + 1,
        credentials_rotated_at=func.now(),
    )
    dist.outbox.add(
        session,
        events.retailer_updated(
            row,
            changed_fields=["apiCredentials"],
            previous_status=current.status,
            reason=None,
            updated_by=actor,
        ),
    )
    return row, secret
