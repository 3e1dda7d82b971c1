"""The activation gateway's worker: ``python -m activation_gateway.worker``.

Runs, until SIGTERM/SIGINT: the outbox relay (activations.events), the antifraud.events
consumers (fraud.case_decided → complete or reject pending activations; fraud.block_added /
fraud.block_lifted → the projection of blocks in force), the keys.events consumer (key.disputed
→ the activation disputed), the re-assessment of holds made while
antifraud was unavailable, the purge of expired blocks, and the platform housekeeping.
"""

from __future__ import annotations

import logging

from activation_gateway.consumers import (
    BLOCKS_CONSUMER,
    CASES_CONSUMER,
    DISPUTES_CONSUMER,
    block_list_handler,
    case_decision_handler,
    dispute_handler,
)
from activation_gateway.context import SOURCE, Gateway
from activation_gateway.db import repository as repo
from activation_gateway.settings import Settings, get_settings
from activation_gateway.usecases.reviews import reassess_holds
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

log = logging.getLogger("activation_gateway.worker")


def build_loops(settings: Settings, gw: Gateway) -> list[Loop]:
    servers = settings.kafka_servers

    def purge_expired_blocks() -> int:
        with gw.db.transaction() as session:
            return repo.purge_expired_blocks(session)

    return [
        outbox_relay(gw.db, servers, source=SOURCE),
        event_consumer(
            "case decisions consumer",
            gw.db,
            servers,
            group=CASES_CONSUMER,
            topics=[settings.antifraud_events_topic],
            handler=case_decision_handler(gw),
        ),
        event_consumer(
            "block list consumer",
            gw.db,
            servers,
            group=BLOCKS_CONSUMER,
            topics=[settings.antifraud_events_topic],
            handler=block_list_handler(),
        ),
        event_consumer(
            "disputes consumer",
            gw.db,
            servers,
            group=DISPUTES_CONSUMER,
            topics=[settings.keys_events_topic],
            handler=dispute_handler(gw),
        ),
        PeriodicTask("reassess holds", lambda: reassess_holds(gw), interval_seconds=30),
        PeriodicTask("purge expired blocks", purge_expired_blocks, interval_seconds=600),
        housekeeping(gw.db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    gw = Gateway.from_settings(settings)
    log.info("activation-gateway worker starting")
    run_until_signalled(*build_loops(settings, gw), metrics_port=settings.worker_metrics_port)
    gw.db.dispose()


if __name__ == "__main__":
    main()
