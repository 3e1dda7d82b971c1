"""The antifraud worker process: ``python -m antifraud.worker``.

Runs, until SIGTERM/SIGINT: the outbox relay (antifraud.events), the activations.events +
keys.events consumer that feeds the velocity store, and the platform housekeeping.
"""

from __future__ import annotations

import logging

from antifraud.consumers import make_handler
from antifraud.context import SOURCE, Antifraud
from antifraud.settings import get_settings
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.tracing import configure_tracing
from gamekeys_platform.workers import Loop, event_consumer, housekeeping, outbox_relay, run_until_signalled

log = logging.getLogger("antifraud.worker")

VELOCITY_CONSUMER = "antifraud.velocity"


def build_loops(af: Antifraud) -> list[Loop]:
    settings = af.settings
    servers = settings.kafka_servers

    return [
        outbox_relay(af.db, servers, source=SOURCE),
        event_consumer(
            "activations/keys consumer",
            af.db,
            servers,
            group=VELOCITY_CONSUMER,
            topics=[settings.activations_events_topic, settings.keys_events_topic],
            handler=make_handler(af.velocity),
        ),
        housekeeping(af.db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    af = Antifraud.from_settings(settings)
    log.info("antifraud worker starting")
    run_until_signalled(*build_loops(af), metrics_port=settings.worker_metrics_port)
    af.db.dispose()


if __name__ == "__main__":
    main()
