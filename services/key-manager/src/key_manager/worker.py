"""The key manager's worker process: ``python -m key_manager.worker``.

Runs, until SIGTERM/SIGINT: the outbox relay (keys.events), the developer.events consumer (the
authorization projection), the batch generator, the expiry job and the platform housekeeping.
"""

from __future__ import annotations

import logging

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
from key_manager.context import SOURCE, KeyManager
from key_manager.db.tables import studio_projection
from key_manager.generator import BatchGenerator, expire_due_batches
from key_manager.settings import get_settings

log = logging.getLogger("key_manager.worker")

PROJECTION_CONSUMER = "key-manager.developer-projection"


def build_loops(km: KeyManager) -> list[Loop]:
    settings = km.settings
    servers = settings.kafka_servers

    return [
        outbox_relay(km.db, servers, source=SOURCE),
        event_consumer(
            "developer.events consumer",
            km.db,
            servers,
            group=PROJECTION_CONSUMER,
            topics=[settings.developer_events_topic],
            handler=studio_projection.handlers(),
        ),
        BatchGenerator(km),
        PeriodicTask("key-expiry", lambda: expire_due_batches(km), settings.key_expiry_interval_seconds),
        housekeeping(km.db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    km = KeyManager.from_settings(settings)
    log.info("key-manager worker starting")
    run_until_signalled(*build_loops(km), metrics_port=settings.worker_metrics_port)
    km.db.dispose()


if __name__ == "__main__":
    main()
