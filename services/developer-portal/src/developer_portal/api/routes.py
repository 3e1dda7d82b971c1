"""Every route of the service, on its two blueprints (importing the modules registers them)."""

from __future__ import annotations

from developer_portal.api import (  # noqa: F401  (registers the routes)
    accounts,
    admin,
    analytics,
    apikeys,
    catalog,
    finance,
    games,
    publishing,
    team,
    trusted_publishing,
)
from developer_portal.api.blueprints import internal, public

BLUEPRINTS = (public, internal)
