"""analytics' PostgreSQL tables (schema ``analytics``): the platform's outbox, inbox and
idempotency tables, the projection of developer.events (studios, members, games) that says
who may read a game's figures, and where the aggregator's passes have got to. The events
themselves live in ClickHouse."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Sequence, String, Table, func

from gamekeys_platform.db import service_metadata
from gamekeys_platform.studios import StudioProjection

SCHEMA = "analytics"
metadata = service_metadata(SCHEMA)

studio_projection = StudioProjection.define(metadata)

# Per aggregate, the ClickHouse server time from which its change log is still to be read
# (aggregates.py). The row is locked for the length of a pass: one pass at a time, whichever
# worker runs it.
aggregate_positions = Table(
    "aggregate_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("changes_since", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)

# The versions aggregate rows are written with: never reused, even by a pass rolled back after
# its rows were written, so a later pass's rows always win.
aggregate_versions = Sequence("aggregate_versions", metadata=metadata)
