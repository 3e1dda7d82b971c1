"""A key's timeline (access checked by the caller, on the game it returns)."""

from __future__ import annotations

import uuid

from analytics.db import timeline as store
from analytics.db.clickhouse import ClickHouse
from analytics.domain.timeline import Timeline


def key_timeline(ch: ClickHouse, key_id: uuid.UUID) -> Timeline | None:
    """Every event about the key, with its batch's and allocation's; None when no event names it."""
    own = Timeline.build(key_id, store.key_events(ch, key_id))
    if not own.events:
        return None
    related = store.batch_events(ch, own.batch_ids()) + store.allocation_events(ch, own.allocation_ids())
    return Timeline.build(key_id, own.events + related)
