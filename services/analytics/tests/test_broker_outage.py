"""Ingestion through a broker outage (the local broker paused with SIGSTOP, ARCHITECTURE.md §8):
the consumer waits for it, and every event lands once, with its offset committed."""

from __future__ import annotations

import threading
import time
import uuid

from analytics_testkit import CommittedOffsets, activation, at, ingestor_for, new_group, publish, wait_for

from gamekeys_platform.testing import local_broker_paused, require_local_broker


def test_a_broker_outage_mid_ingestion_loses_nothing_and_counts_nothing_twice(ctx, kafka_servers, own_topics):
    require_local_broker()
    topic, game = own_topics["activations_events_topic"], uuid.uuid4()
    events = [activation(game, "activated", at(f"2026-04-{1 + n % 28:02d}T12:00:00")) for n in range(600)]
    group = new_group()
    ingestor = ingestor_for(ctx, kafka_servers, own_topics, group=group, batch_size=100)
    committed = CommittedOffsets(kafka_servers, group, topic)
    worker = threading.Thread(target=ingestor.run_forever, daemon=True)
    worker.start()
    try:
        publish(kafka_servers, [(topic, e) for e in events[:300]])
        wait_for(lambda: committed() > 0, 60, "the first committed batch", every=0.05)
        # Away for longer than the group's session (6 s): fetches, commits and heartbeats fail
        # meanwhile, and the consumer goes on once the broker answers again.
        with local_broker_paused():
            time.sleep(8)
        assert worker.is_alive()
        publish(kafka_servers, [(topic, e) for e in events[300:]])
        wait_for(lambda: committed() == 600, 90, "every event after the outage")
    finally:
        ingestor.stop()
        worker.join(timeout=30)
        committed.close()

    (row,) = ctx.clickhouse.execute(
        "SELECT count(), uniqExact(event_id) FROM events FINAL WHERE game_id = %(g)s", {"g": game}
    )
    assert row == (600, 600)
