"""The distribution worker: ``python -m distribution.worker``.

Runs, until SIGTERM/SIGINT: the outbox relay (distribution.events), the consumer of keys.events
(activation counts for the analytics), the consumer of developer.events (the studio projection
that says which studio may revoke its games' stock at a retailer), the release of orphaned
allocations and the platform housekeeping.
"""

from __future__ import annotations

import logging

from distribution.consumers import ACTIVATIONS_CONSUMER, apply_event
from distribution.context import SOURCE
from distribution.db.tables import metadata, studio_projection
from distribution.key_manager_client import KeyManagerClient
from distribution.reconcile import release_orphaned_allocations
from distribution.settings import Settings, get_settings
from gamekeys_platform.db import Database
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.tracing import configure_tracing
from gamekeys_platform.workers import (
    Loop,
    PeriodicTask,
    event_consumer,
    housekeeping,
    outbox_relay,
    run_until_signalled,
)

log = logging.getLogger("distribution.worker")

STUDIOS_CONSUMER = "distribution.developer-projection"


def build_loops(settings: Settings, db: Database) -> list[Loop]:
    servers = settings.kafka_servers

    key_manager = KeyManagerClient.from_settings(settings)
    return [
        outbox_relay(db, servers, source=SOURCE),
        event_consumer(
            "activations consumer",
            db,
            servers,
            group=ACTIVATIONS_CONSUMER,
            topics=[settings.keys_events_topic],
            handler=apply_event,
        ),
        event_consumer(
            "studio projection",
            db,
            servers,
            group=STUDIOS_CONSUMER,
            topics=[settings.developer_events_topic],
            handler=studio_projection.handlers(),
        ),
        PeriodicTask(
            "orphaned allocations",
            lambda: release_orphaned_allocations(
                db, key_manager, older_than_seconds=settings.orphaned_allocation_after_seconds
            ),
            settings.orphaned_allocation_interval_seconds,
        ),
        housekeeping(db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    db = Database.from_settings(settings, metadata=metadata)
    log.info("distribution worker starting")
    run_until_signalled(*build_loops(settings, db), metrics_port=settings.worker_metrics_port)
    db.dispose()


if __name__ == "__main__":
    main()
