"""The antifraud worker process: ``python -m antifraud.worker``.

Runs, until SIGTERM/SIGINT: the outbox relay (antifraud.events), the activations.events +
keys.events consumer that feeds the velocity store, and the platform housekeeping.
"""

from __future__ import annotations

import logging

from antifraud.consumers import HANDLED_EVENTS, make_handler
from antifraud.context import SOURCE, Antifraud
from antifraud.settings import get_settings
from gamekeys_platform.consumer import EventConsumer, kafka_consumer
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.outbox import OutboxRelay, kafka_producer
from gamekeys_platform.workers import Deferred, Loop, housekeeping, run_until_signalled

log = logging.getLogger("antifraud.worker")

VELOCITY_CONSUMER = "antifraud.velocity"


def build_loops(af: Antifraud) -> list[Loop]:
    settings = af.settings
    servers = settings.kafka_servers

    def relay() -> OutboxRelay:
        return OutboxRelay(af.db, kafka_producer(servers, client_id=f"{SOURCE}-relay"), service_name=SOURCE)

    def consumer() -> EventConsumer:
        topics = [settings.activations_events_topic, settings.keys_events_topic]
        return EventConsumer(
            af.db,
            kafka_consumer(servers, group_id=VELOCITY_CONSUMER, topics=topics),
            kafka_producer(servers, client_id=f"{SOURCE}-dlq"),
            name=VELOCITY_CONSUMER,
            handler=make_handler(af.velocity),
            event_types=HANDLED_EVENTS,
        )

    return [
        Deferred("outbox relay", relay),
        Deferred("activations/keys consumer", consumer),
        housekeeping(af.db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    af = Antifraud.from_settings(settings)
    log.info("antifraud worker starting")
    run_until_signalled(*build_loops(af))
    af.db.dispose()


if __name__ == "__main__":
    main()
