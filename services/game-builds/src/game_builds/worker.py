"""game-builds' worker process: ``python -m game_builds.worker``.

Runs, until SIGTERM/SIGINT: the outbox relay (builds.events), the developer.events consumer (the
authorization projection), the build processor (size, SHA-256, clamd), the expiry of uploads
never completed (builds and media), and the platform housekeeping.
"""

from __future__ import annotations

import logging
import threading

from game_builds.context import SOURCE, GameBuilds
from game_builds.db.tables import studio_projection
from game_builds.settings import get_settings
from game_builds.usecases.media import expire_media_uploads
from game_builds.usecases.processing import expire_uploads, process_next
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

log = logging.getLogger("game_builds.worker")

PROJECTION_CONSUMER = "game-builds.developer-projection"


class BuildProcessor:
    """Verifies builds one after another; polls when there is nothing to do."""

    def __init__(self, gb: GameBuilds) -> None:
        self.gb = gb
        self.stop_event = threading.Event()

    def run_forever(self) -> None:
        log.info("build processor started")
        while not self.stop_event.is_set():
            try:
                if process_next(self.gb) is not None:
                    continue
            except Exception:
                log.exception("build processor cycle failed")
            self.stop_event.wait(self.gb.settings.build_poll_seconds)
        log.info("build processor stopped")

    def stop(self) -> None:
        self.stop_event.set()


def build_loops(gb: GameBuilds) -> list[Loop]:
    settings = gb.settings
    servers = settings.kafka_servers
    return [
        outbox_relay(gb.db, servers, source=SOURCE),
        event_consumer(
            "developer.events consumer",
            gb.db,
            servers,
            group=PROJECTION_CONSUMER,
            topics=[settings.developer_events_topic],
            handler=studio_projection.handlers(),
        ),
        BuildProcessor(gb),
        PeriodicTask(
            "upload-expiry",
            lambda: expire_uploads(gb) + expire_media_uploads(gb),
            settings.build_housekeeping_seconds,
        ),
        housekeeping(gb.db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    gb = GameBuilds.from_settings(settings)
    log.info("game-builds worker starting")
    run_until_signalled(*build_loops(gb), metrics_port=settings.worker_metrics_port)
    gb.db.dispose()


if __name__ == "__main__":
    main()
