"""Every route of the service, on its two blueprints (importing the modules registers them)."""

from __future__ import annotations

from developer_portal.api import accounts, finance, games, publishing, team  # noqa: F401  (registers the routes)
from developer_portal.api.blueprints import internal, public

BLUEPRINTS = (public, internal)
