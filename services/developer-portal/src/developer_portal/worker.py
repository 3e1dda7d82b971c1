"""The developer portal's worker: ``python -m developer_portal.worker``.

Runs the outbox relay (developer.events), the builds.events consumer (the projection of builds
the preflight reads), the finance consumer (distribution.events sales and returns, the Payment
Service's payments.events), the release of revenue holds and the scheduled payouts, the
scheduled releases, the price changes scheduled discounts make (pricing.updated as one starts
or ends), apikey.expiring notices and the deletion of spent upload tokens, the
platform housekeeping (expired idempotency keys, old published events) and the expiry of
overdue invitations, until SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging

from developer_portal.context import PortalState
from developer_portal.db import repository
from developer_portal.db.builds_projection import apply_builds_event
from developer_portal.db.tables import metadata
from developer_portal.settings import Settings
from developer_portal.usecases.apikeys import delete_spent_upload_tokens, notify_expiring
from developer_portal.usecases.catalog import announce_price_changes
from developer_portal.usecases.finance import finance_events, make_scheduled_payouts, release_holds
from developer_portal.usecases.publishing import release_due
from gamekeys_platform.db import Database
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.settings import load_settings
from gamekeys_platform.tracing import configure_tracing
from gamekeys_platform.workers import (
    Loop,
    PeriodicTask,
    event_consumer,
    housekeeping,
    outbox_relay,
    run_until_signalled,
)

log = logging.getLogger("developer_portal.worker")

BUILDS_CONSUMER = "developer-portal.builds-projection"
FINANCE_CONSUMER = "developer-portal.finance"


def expire_invitations(db: Database) -> int:
    with db.transaction() as session:
        return repository.expire_stale_invitations(session)


def build_loops(settings: Settings, db: Database) -> list[Loop]:
    portal = PortalState.from_settings(settings, db)
    return [
        outbox_relay(db, settings.kafka_servers, source=settings.service_name),
        event_consumer(
            "builds.events consumer",
            db,
            settings.kafka_servers,
            group=BUILDS_CONSUMER,
            topics=[settings.builds_events_topic],
            handler=apply_builds_event,
        ),
        event_consumer(
            "finance consumer",
            db,
            settings.kafka_servers,
            group=FINANCE_CONSUMER,
            topics=[settings.distribution_events_topic, settings.payments_events_topic],
            handler=finance_events(portal),
        ),
        PeriodicTask(
            "finance",
            lambda: (release_holds(portal), make_scheduled_payouts(portal)),
            interval_seconds=settings.finance_interval_seconds,
        ),
        PeriodicTask(
            "scheduled-releases",
            lambda: release_due(portal),
            interval_seconds=settings.release_interval_seconds,
        ),
        PeriodicTask(
            "price-changes",
            lambda: announce_price_changes(portal),
            interval_seconds=settings.price_change_interval_seconds,
        ),
        PeriodicTask(
            "apikeys",
            lambda: (notify_expiring(portal), delete_spent_upload_tokens(portal)),
            interval_seconds=settings.apikeys_interval_seconds,
        ),
        housekeeping(db),
        PeriodicTask(
            "expire-invitations",
            lambda: expire_invitations(db),
            interval_seconds=settings.invitation_expiry_interval_seconds,
        ),
    ]


def main() -> None:
    settings = load_settings(Settings)
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    db = Database.from_settings(settings, metadata=metadata)
    loops = build_loops(settings, db)
    log.info("worker started", extra={"loops": [type(loop).__name__ for loop in loops]})
    try:
        run_until_signalled(*loops, metrics_port=settings.worker_metrics_port)
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
