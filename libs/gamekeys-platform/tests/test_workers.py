"""Background loops: housekeeping purges what has expired, and workers stop cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import requests
from sample_service import events as sample_events
from sqlalchemy import func, insert, select

from gamekeys_platform.events import Event
from gamekeys_platform.testing import free_port, wait_until_answering
from gamekeys_platform.workers import Deferred, housekeeping


def test_housekeeping_purges_expired_keys_and_old_sent_events(db):
    outbox, keys = db.tables.outbox, db.tables.idempotency_keys
    old_event, fresh_event, unsent_event = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    expired_key, live_key = f"k-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
    week_ago = func.now() - func.make_interval(0, 0, 0, 8)
    with db.transaction() as session:
        for event_id, sent_at in ((old_event, week_ago), (fresh_event, func.now()), (unsent_event, None)):
            session.execute(
                insert(outbox).values(
                    event_id=event_id,
                    topic="t",
                    message_key="k",
                    event_type="widget.renamed",
                    payload=Event(
                        id=event_id,
                        type="widget.renamed",
                        source=sample_events.SOURCE,
                        subject="k",
                        data=sample_events.WidgetRenamed(widget="k").to_data(),
                    ).to_dict(),
                    sent_at=sent_at,
                    created_at=week_ago,
                )
            )
        for key, expires_at in (
            (expired_key, func.now() - func.make_interval(0, 0, 0, 0, 1)),
            (live_key, func.now() + func.make_interval(0, 0, 0, 1)),
        ):
            session.execute(
                insert(keys).values(
                    scope="s",
                    key=key,
                    request_fingerprint="f",
                    response_status=201,
                    response_body="{}",
                    response_headers={},
                    expires_at=expires_at,
                )
            )

    result = housekeeping(db).task()
    assert result["idempotencyKeys"] >= 1 and result["outboxEvents"] >= 1

    with db.transaction() as session:
        events = set(
            session.execute(
                select(outbox.c.event_id).where(outbox.c.event_id.in_([old_event, fresh_event, unsent_event]))
            ).scalars()
        )
        kept_keys = set(
            session.execute(select(keys.c.key).where(keys.c.key.in_([expired_key, live_key]))).scalars()
        )
    assert events == {fresh_event, unsent_event}
    assert kept_keys == {live_key}


def test_worker_process_stops_cleanly_on_sigterm(tmp_path):
    started, stopped = tmp_path / "started", tmp_path / "stopped"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from gamekeys_platform.workers import PeriodicTask, run_until_signalled

        class Recording(PeriodicTask):
            def stop(self):
                super().stop()
                Path({str(stopped)!r}).write_text("stopped")

        # The task first runs once the signal handlers are in place.
        tick = lambda: Path({str(started)!r}).write_text("started")
        run_until_signalled(Recording("tick", tick, interval_seconds=0.05))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists() and process.poll() is None, "the worker should run until signalled"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert stopped.read_text() == "stopped"


def test_worker_process_serves_its_metrics_on_the_port_it_is_given():
    port = free_port()
    script = textwrap.dedent(
        f"""
        from prometheus_client import Counter
        from gamekeys_platform.workers import PeriodicTask, run_until_signalled

        ticks = Counter("test_worker_ticks", "ticks")
        run_until_signalled(PeriodicTask("tick", ticks.inc, interval_seconds=0.05), metrics_port={port})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/metrics", process, timeout=30)
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "test_worker_ticks_total" in body
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_deferred_loop_is_built_once_its_dependency_answers():
    attempts = []

    class Ready:
        ran = threading.Event()

        def run_forever(self):
            self.ran.set()

        def stop(self):
            pass

    def build():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("broker not there yet")
        return Ready()

    deferred = Deferred("flaky", build, retry_seconds=0.05)
    thread = threading.Thread(target=deferred.run_forever, daemon=True)
    thread.start()
    assert Ready.ran.wait(5)
    thread.join(5)
    assert len(attempts) == 3


def test_deferred_loop_stops_while_waiting():
    deferred = Deferred("never", lambda: (_ for _ in ()).throw(ConnectionError()), retry_seconds=30)
    thread = threading.Thread(target=deferred.run_forever, daemon=True)
    thread.start()
    time.sleep(0.2)
    deferred.stop()
    thread.join(5)
    assert not thread.is_alive()
