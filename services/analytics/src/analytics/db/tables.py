"""analytics' PostgreSQL tables (schema ``analytics``): the platform's outbox, inbox and
idempotency tables, and the projection of developer.events (studios, members, games) that says
who may read a game's figures. The events themselves live in ClickHouse."""

from __future__ import annotations

from gamekeys_platform.db import service_metadata
from gamekeys_platform.studios import StudioProjection

SCHEMA = "analytics"
metadata = service_metadata(SCHEMA)

studio_projection = StudioProjection.define(metadata)
