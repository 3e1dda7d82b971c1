"""The analytics worker: ``python -m analytics.worker``.

Runs, until SIGTERM/SIGINT: the ingestion of every topic into ClickHouse (consumer group
``analytics.ingest``), the aggregators that keep the hourly aggregates (activations, fraud
assessments) and the funnels' per-key facts exact (two loops, so that the key passes do not
delay the hourly ones), the developer.events consumer that keeps the studio projection (the access
checks), and the platform housekeeping.
"""

from __future__ import annotations

import logging

from analytics.aggregates import HOURLY_AGGREGATES, KEY_FACTS, Aggregator
from analytics.context import Analytics
from analytics.db.tables import studio_projection
from analytics.ingest import ClickHouseSink, Ingestor, tune_garbage_collection
from analytics.settings import get_settings
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.tracing import configure_tracing
from gamekeys_platform.workers import Deferred, Loop, event_consumer, housekeeping, run_until_signalled

log = logging.getLogger("analytics.worker")

INGEST_GROUP = "analytics.ingest"
PROJECTION_CONSUMER = "analytics.developer-projection"


def build_loops(ctx: Analytics) -> list[Loop]:
    settings = ctx.settings
    servers = settings.kafka_servers
    return [
        Deferred(
            "ingestion",
            lambda: Ingestor.connect(
                ClickHouseSink(ctx.clickhouse),
                servers,
                group=INGEST_GROUP,
                topics=settings.ingest_topics,
                batch_size=settings.ingest_batch_size,
                batch_seconds=settings.ingest_batch_seconds,
                retry_backoff_seconds=settings.ingest_retry_backoff_seconds,
            ),
        ),
        Aggregator.from_settings(ctx.db, ctx.clickhouse, settings, HOURLY_AGGREGATES),
        Aggregator.from_settings(ctx.db, ctx.clickhouse, settings, (KEY_FACTS,)),
        event_consumer(
            "developer.events consumer",
            ctx.db,
            servers,
            group=PROJECTION_CONSUMER,
            topics=[settings.developer_events_topic],
            handler=studio_projection.handlers(),
        ),
        housekeeping(ctx.db),
    ]


def main() -> None:
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings)
    ctx = Analytics.from_settings(settings)
    log.info("analytics worker starting")
    loops = build_loops(ctx)
    tune_garbage_collection()
    run_until_signalled(*loops)
    ctx.db.dispose()


if __name__ == "__main__":
    main()
