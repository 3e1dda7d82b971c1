"""The worker process (outbox relay, housekeeping, invitation expiry) and the migrations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from dp_testkit import expect
from sqlalchemy import create_engine, select, update

from developer_portal.db.tables import SCHEMA, metadata, team_invitations
from developer_portal.worker import expire_invitations


def test_worker_relays_the_outbox_and_stops_cleanly_on_sigterm(portal, db, portal_env, kafka_servers):
    _founder, developer = portal.studio()
    outbox = db.tables.outbox
    mine = outbox.c.message_key == developer["developerId"]
    env = {
        **os.environ,
        **{
            name.upper(): json.dumps(value) if isinstance(value, dict) else str(value)
            for name, value in portal_env.items()
        },
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(kafka_servers),
        "INVITATION_EXPIRY_INTERVAL_SECONDS": "1",
    }
    env.pop("SERVICE_NAME", None)  # the service's default name
    worker = subprocess.Popen(
        [sys.executable, "-m", "developer_portal.worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with db.transaction() as session:
                unsent = session.execute(select(outbox.c.seq).where(mine, outbox.c.sent_at.is_(None))).all()
            if not unsent:
                break
            assert worker.poll() is None, worker.stdout.read().decode()[-2000:]
            time.sleep(0.25)
        assert not unsent, "the worker did not relay the studio's events"
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=40)[0].decode()
    assert worker.returncode == 0, output[-2000:]
    assert '"worker started"' in output and "outbox relay stopped" in output


def test_overdue_invitations_are_marked_expired(portal, db):
    admin, _developer = portal.studio()
    invitation = portal.invite(admin, f"late-{uuid.uuid4().hex[:6]}@example.com", "finance")
    key = team_invitations.c.invitation_id == uuid.UUID(invitation["invitationId"])
    with db.transaction() as session:
        session.execute(update(team_invitations).where(key).values(expires_at=team_invitations.c.created_at))
    assert expire_invitations(db) >= 1
    with db.transaction() as session:
        assert session.execute(select(team_invitations.c.status).where(key)).scalar_one() == "expired"
    assert expect(admin.get("/accounts/me/team/invitations"), 200)["items"] == []


def test_the_migrations_build_exactly_the_tables_the_code_uses(db):
    not_ours = {"outbox", "inbox", "idempotency_keys", "alembic_version"}
    # A plain engine: the service's own sets search_path to its schema, which hides the schema
    # name from the comparison.
    engine = create_engine(db.engine.url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, kind, _parent: kind != "schema" or name == SCHEMA,
                "compare_type": True,
            },
        )
        differences = compare_metadata(context, metadata)
    engine.dispose()

    def table_of(diff) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:]:
            table = getattr(part, "table", None)
            if table is not None:
                return table.name
            if hasattr(part, "name") and hasattr(part, "columns") and not hasattr(part, "table"):
                return part.name
        return None

    # The platform's own tables are the lib's business (its unique constraint on outbox.event_id
    # is named differently by create_platform_tables and by the naming convention).
    assert [d for d in differences if table_of(d) not in not_ours] == []
