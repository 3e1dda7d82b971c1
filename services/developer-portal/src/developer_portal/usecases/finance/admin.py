"""The platform admins' levers on a studio's money: its revenue share and manual adjustments,
each audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from developer_portal.context import PortalState
from developer_portal.db import finance as repo
from developer_portal.db import ledger
from developer_portal.domain.ledger import (
    PLATFORM_ADJUSTMENTS,
    Bucket,
    EntryKind,
    move,
    studio_account,
)
from developer_portal.domain.revenue import (
    DEFAULT_TIERS,
    Tier,
)
from developer_portal.usecases.common import Actor, audit
from developer_portal.usecases.finance.entries import entry_documents, post
from developer_portal.usecases.finance.sales import tiers_of


def set_revenue_share(
    session: Session, actor: Actor, developer_id: uuid.UUID, tiers: Iterable[Tier]
) -> dict[str, Any]:
    """A platform admin's revenue share for one studio, for sales from now on (audited)."""
    before = [t.as_dict() for t in tiers_of(session, developer_id)]
    tiers = tuple(tiers)
    repo.set_tiers(session, developer_id, tiers, actor.subject)
    document = {"developerId": str(developer_id), "tiers": [t.as_dict() for t in tiers], "default": False}
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="revenue_share.updated",
        entity_type="revenue_share",
        entity_id=developer_id,
        before={"tiers": before},
        after=document,
    )
    return document


def revenue_share_document(session: Session, developer_id: uuid.UUID) -> dict[str, Any]:
    tiers = repo.get_tiers(session, developer_id)
    return {
        "developerId": str(developer_id),
        "tiers": [t.as_dict() for t in (tiers or DEFAULT_TIERS)],
        "default": tiers is None,
    }


def adjust(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    *,
    amount: Decimal,
    currency: str,
    reason: str,
) -> dict[str, Any]:
    """A platform admin's correction of a studio's available balance (positive: credit), with a
    reason; an entry like any other, audited."""
    entry = move(
        developer_id,
        EntryKind.ADJUSTMENT,
        f"adjustment:{uuid.uuid4()}",
        amount,
        currency,
        source=PLATFORM_ADJUSTMENTS,
        to=studio_account(developer_id, Bucket.AVAILABLE),
        occurred_at=datetime.now(UTC),
        memo={"reason": reason, "by": actor.subject},
    )
    post(portal, session, entry)
    row = ledger.entry_by_source(session, entry.source_id)
    [document] = entry_documents(session, developer_id, [row])
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="ledger.adjusted",
        entity_type="ledger_entry",
        entity_id=entry.entry_id,
        before=None,
        after=document,
    )
    return document
