"""The portal's composition root: what a request, the worker or a test needs besides the
session (settings, database, outbox, the verifier of CI identity tokens, the analytics client).
The app keeps it in ``app.extensions["developer_portal"]``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from developer_portal.analytics_client import AnalyticsClient
from developer_portal.oidc import IdentityVerifier, OidcVerifier
from developer_portal.settings import Settings
from gamekeys_platform.db import Database
from gamekeys_platform.outbox import Outbox

EVENT_SOURCE = "developer-portal"  # publishes to developer.events


@dataclass(frozen=True)
class PortalState:
    settings: Settings
    db: Database
    outbox: Outbox
    identity: IdentityVerifier
    analytics: AnalyticsClient

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> PortalState:
        return cls(
            settings,
            db,
            Outbox(db, source=EVENT_SOURCE),
            OidcVerifier(settings.oidc_issuers, settings.oidc_audience),
            AnalyticsClient.from_settings(settings),
        )


def portal() -> PortalState:
    return current_app.extensions["developer_portal"]
