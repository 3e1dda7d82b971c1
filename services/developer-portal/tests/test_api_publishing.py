"""Preflight, submission, moderation and publishing over HTTP: the preflight answers, a
submission racing a second one, decisions idempotent by submission, what changed since a
rejection, publishing now or at a scheduled time (exactly once), unpublishing, roles, bad input."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import requests
from dp_testkit import (
    assert_error,
    build_event,
    complete_listing,
    expect,
    moderator,
    project,
    ready_build,
)
from sqlalchemy import select

from developer_portal.usecases.publishing import release_due
from gamekeys_platform.testing import serving


def game_events(db, game_id: str) -> list[str]:
    outbox = db.tables.outbox
    with db.transaction() as session:
        rows = session.execute(
            select(outbox.c.event_type)
            .where(outbox.c.payload["data"]["gameId"].astext == game_id)
            .order_by(outbox.c.seq)
        ).all()
    return [row.event_type for row in rows]


def ready_game(portal, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    complete_listing(admin, game)
    version_id = ready_build(db, game)
    return admin, game, version_id


def submit(actor, game, version_id):
    return actor.post(f"/games/{game['gameId']}/versions/{version_id}/submit")


def decide(portal, submission_id, decision, **body):
    return moderator(portal).post(
        f"/internal/v1/submissions/{submission_id}/decision", json={"decision": decision, **body}
    )


def approved_game(portal, db):
    admin, game, version_id = ready_game(portal, db)
    submission = expect(submit(admin, game, version_id), 202)
    expect(decide(portal, submission["submissionId"], "approve"), 200)
    return admin, game, version_id


# --- preflight ------------------------------------------------------------------------------


def test_preflight_lists_what_is_missing_until_the_game_is_ready(portal, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    gid = game["gameId"]
    body = expect(admin.get(f"/games/{gid}/preflight"), 200)
    assert body["ready"] is False
    failing = {c["check"] for c in body["checks"] if not c["ok"]}
    assert failing == {"short_description", "description", "genres", "price", "ready_build"}
    assert all(c["message"] for c in body["checks"])

    complete_listing(admin, game, price="0")
    project(db, build_event("build.upload_started", game))
    body = expect(admin.get(f"/games/{gid}/preflight"), 200)
    assert [c["check"] for c in body["checks"] if not c["ok"]] == ["ready_build"]

    version_id = ready_build(db, game)
    body = expect(admin.get(f"/games/{gid}/preflight", query_string={"versionId": version_id}), 200)
    assert body["ready"] is True and body["checks"][-1]["check"] == "version_ready"
    unknown = expect(admin.get(f"/games/{gid}/preflight", query_string={"versionId": str(uuid.uuid4())}), 200)
    assert unknown["ready"] is False


def test_preflight_and_history_are_read_by_members_and_platform_admins_only(portal, db):
    admin, game, _version_id = ready_game(portal, db)
    gid = game["gameId"]
    for reader in (
        portal.member(admin, "marketing"),
        portal.member(admin, "finance"),
        portal.user(roles=("admin",)),
    ):
        expect(reader.get(f"/games/{gid}/preflight"), 200)
        expect(reader.get(f"/games/{gid}/submissions"), 200)
    stranger = portal.user()
    assert_error(stranger.get(f"/games/{gid}/preflight"), 404, "NOT_FOUND")
    assert_error(stranger.get(f"/games/{gid}/submissions"), 404, "NOT_FOUND")


# --- submission -----------------------------------------------------------------------------


def test_a_failing_preflight_is_a_422_with_the_checks_and_writes_nothing(portal, db, nothing_written):
    admin, developer = portal.studio()
    game = portal.game(admin)
    version_id = ready_build(db, game)
    with nothing_written(developer["developerId"]):
        error = assert_error(submit(admin, game, version_id), 422, "VALIDATION_ERROR", "PREFLIGHT_FAILED")
    assert {c["check"] for c in error["details"]["checks"]} == {
        "short_description",
        "description",
        "genres",
        "price",
    }
    assert expect(admin.get(f"/games/{game['gameId']}"), 200)["status"] == "draft"


def test_a_build_not_ready_cannot_be_submitted(portal, db):
    admin, game, _ready = ready_game(portal, db)
    scanning = build_event("build.scanned", game)
    project(db, scanning)
    error = assert_error(submit(admin, game, scanning.data["versionId"]), 422, "VALIDATION_ERROR")
    assert [c["check"] for c in error["details"]["checks"]] == ["version_ready"]


def test_submit_then_one_open_submission_per_game(portal, db):
    admin, game, version_id = ready_game(portal, db)
    submission = expect(submit(admin, game, version_id), 202)
    assert submission["status"] == "pending_review" and submission["changes"] is None
    assert expect(admin.get(f"/games/{game['gameId']}"), 200)["status"] == "pending_review"
    error = assert_error(submit(admin, game, version_id), 409, "CONFLICT", "SUBMISSION_OPEN")
    assert error["details"]["submissionId"] == submission["submissionId"]
    assert game_events(db, game["gameId"])[-3:] == ["game.updated", "submission.created", "game.submitted"]


def test_submitting_is_for_admins_and_developers(portal, db):
    admin, game, version_id = ready_game(portal, db)
    for role in ("marketing", "finance"):
        assert_error(submit(portal.member(admin, role), game, version_id), 403, "FORBIDDEN")
    assert_error(submit(portal.user(roles=("admin",)), game, version_id), 403, "FORBIDDEN")
    assert_error(submit(portal.user(), game, version_id), 404, "NOT_FOUND")
    expect(submit(portal.member(admin, "developer"), game, version_id), 202)


def test_two_submissions_at_once_one_wins(portal, db, app):
    admin, game, version_id = ready_game(portal, db)
    url_path = f"/api/v1/developer/games/{game['gameId']}/versions/{version_id}/submit"
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    with serving(app) as base:

        def attempt():
            barrier.wait()
            response = requests.post(
                base + url_path, headers={"Authorization": f"Bearer {admin.token}"}, timeout=30
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [202, 409, 409, 409]
    page = expect(admin.get(f"/games/{game['gameId']}/submissions"), 200)
    assert len(page["items"]) == 1
    assert game_events(db, game["gameId"]).count("submission.created") == 1


# --- moderation -----------------------------------------------------------------------------


def test_approve_is_idempotent_and_cannot_be_reversed(portal, db):
    admin, game, version_id = ready_game(portal, db)
    sid = expect(submit(admin, game, version_id), 202)["submissionId"]
    first = expect(decide(portal, sid, "approve"), 200)
    assert first["status"] == "approved" and first["decision"] == "approve"
    assert expect(decide(portal, sid, "approve"), 200) == first
    error = assert_error(
        decide(portal, sid, "reject", notes="no"), 409, "CONFLICT", "SUBMISSION_ALREADY_DECIDED"
    )
    assert error["details"]["status"] == "approved"
    assert expect(admin.get(f"/games/{game['gameId']}"), 200)["status"] == "approved"
    events = game_events(db, game["gameId"])
    assert events.count("game.approved") == 1 and events.count("submission.decided") == 1


def test_reject_with_findings_then_the_next_submission_shows_what_changed(portal, db):
    admin, game, version_id = ready_game(portal, db)
    gid = game["gameId"]
    sid = expect(submit(admin, game, version_id), 202)["submissionId"]
    findings = [{"field": "metadata.description", "message": "Describe the gameplay."}]
    rejected = expect(decide(portal, sid, "reject", notes="Needs work.", findings=findings), 200)
    assert rejected["status"] == "rejected" and rejected["findings"] == findings
    assert expect(decide(portal, sid, "reject", notes="Needs work.", findings=findings), 200) == rejected
    assert_error(decide(portal, sid, "approve"), 409, "CONFLICT")
    assert expect(admin.get(f"/games/{gid}"), 200)["status"] == "rejected"

    expect(admin.put(f"/games/{gid}/metadata", json={"description": "Explore caves with friends."}), 200)
    expect(
        admin.put(f"/games/{gid}/pricing", json={"basePrice": {"amount": "14.99", "currency": "USD"}}), 200
    )
    new_version = ready_build(db, game, version="1.0.1")
    second = expect(submit(admin, game, new_version), 202)
    assert second["previousSubmissionId"] == sid
    changed = {c["field"]: c for c in second["changes"]}
    assert set(changed) == {"metadata.description", "pricing.basePrice", "build.versionId", "build.version"}
    assert changed["metadata.description"]["after"] == "Explore caves with friends."

    history = expect(admin.get(f"/games/{gid}/submissions", query_string={"limit": 1}), 200)
    assert [s["submissionId"] for s in history["items"]] == [second["submissionId"]]
    older = expect(
        admin.get(f"/games/{gid}/submissions", query_string={"cursor": history["nextCursor"]}), 200
    )
    assert older["items"][0]["notes"] == "Needs work." and older["items"][0]["findings"] == findings
    assert older["nextCursor"] is None


def test_bad_decisions_are_refused_with_nothing_written(portal, db, nothing_written):
    admin, game, version_id = ready_game(portal, db)
    sid = expect(submit(admin, game, version_id), 202)["submissionId"]
    with nothing_written(game["developerId"]):
        error = assert_error(decide(portal, sid, "reject"), 422, "VALIDATION_ERROR")
        assert "notes" in str(error["details"])
        assert_error(decide(portal, sid, "reject", notes="  "), 422, "VALIDATION_ERROR")
        assert_error(decide(portal, sid, "approve", extra=1), 422, "VALIDATION_ERROR")
        assert_error(decide(portal, sid, "maybe"), 422, "VALIDATION_ERROR")
        assert_error(
            decide(portal, sid, "reject", notes="x", findings=[{"field": "title"}]), 422, "VALIDATION_ERROR"
        )
        assert_error(decide(portal, str(uuid.uuid4()), "approve"), 404, "NOT_FOUND")
        # the verification scope is not the moderation scope; users are not services
        assert_error(
            portal.service.post(f"/internal/v1/submissions/{sid}/decision", json={"decision": "approve"}),
            403,
            "FORBIDDEN",
        )
        assert_error(
            admin.post(f"/internal/v1/submissions/{sid}/decision", json={"decision": "approve"}),
            403,
            "FORBIDDEN",
        )
    assert expect(admin.get(f"/games/{game['gameId']}"), 200)["status"] == "pending_review"


# --- publishing -----------------------------------------------------------------------------


def test_publish_only_from_approved_then_unpublish_and_publish_again(portal, db):
    admin, _developer = portal.studio()
    draft = portal.game(admin)
    error = assert_error(admin.post(f"/games/{draft['gameId']}/publish"), 409, "CONFLICT")
    assert error["details"]["status"] == "draft"
    assert_error(admin.post(f"/games/{draft['gameId']}/unpublish"), 409, "CONFLICT")

    admin, game, version_id = approved_game(portal, db)
    gid = game["gameId"]
    assert_error(portal.member(admin, "marketing").post(f"/games/{gid}/publish"), 403, "FORBIDDEN")
    assert_error(portal.user().post(f"/games/{gid}/publish"), 404, "NOT_FOUND")
    published = expect(admin.post(f"/games/{gid}/publish"), 200)
    assert published["status"] == "published" and published["publishedVersionId"] == version_id
    assert_error(admin.post(f"/games/{gid}/publish"), 409, "CONFLICT")
    assert expect(admin.post(f"/games/{gid}/unpublish"), 200)["status"] == "removed"
    assert_error(admin.post(f"/games/{gid}/unpublish"), 409, "CONFLICT")
    assert (
        expect(portal.member(admin, "developer").post(f"/games/{gid}/publish", json={}), 200)["status"]
        == "published"
    )

    events = game_events(db, gid)
    assert events.count("game.published") == 2 and events.count("game.unpublished") == 1
    outbox = db.tables.outbox
    with db.transaction() as session:
        payload = session.execute(
            select(outbox.c.payload)
            .where(outbox.c.event_type == "game.published", outbox.c.message_key == gid)
            .order_by(outbox.c.seq)
        ).first()[0]
    data = payload["data"]
    assert data["basePrice"] == {"amount": "19.99", "currency": "USD"}
    assert data["build"] == {"versionId": version_id, "version": "1.0.0", "platform": "windows"}
    assert data["title"] == game["title"] and data["status"] == "published"


def test_a_scheduled_release_is_published_once_by_the_worker(portal, db, app):
    admin, game, _version_id = approved_game(portal, db)
    gid = game["gameId"]
    release_at = datetime.now(UTC) + timedelta(hours=1)
    scheduled = expect(admin.post(f"/games/{gid}/publish", json={"releaseAt": release_at.isoformat()}), 200)
    assert scheduled["status"] == "approved" and scheduled["releaseAt"] is not None

    state = app.extensions["developer_portal"]
    assert release_due(state, now=release_at - timedelta(minutes=1)) == 0
    assert expect(admin.get(f"/games/{gid}"), 200)["status"] == "approved"

    later = release_at + timedelta(seconds=1)
    published = [release_due(state, now=later)]
    published.append(release_due(state, now=later))  # the worker again (a restart): nothing left
    assert sum(published) >= 1
    game_now = expect(admin.get(f"/games/{gid}"), 200)
    assert game_now["status"] == "published" and game_now["releaseAt"] is None
    assert game_events(db, gid).count("game.published") == 1


def test_two_workers_publish_a_due_release_once(portal, db, app):
    admin, game, _version_id = approved_game(portal, db)
    gid = game["gameId"]
    release_at = datetime.now(UTC) + timedelta(hours=1)
    expect(admin.post(f"/games/{gid}/publish", json={"releaseAt": release_at.isoformat()}), 200)
    state = app.extensions["developer_portal"]
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        release_due(state, now=release_at + timedelta(seconds=1))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert game_events(db, gid).count("game.published") == 1


def test_unpublish_cancels_a_scheduled_release(portal, db, app):
    admin, game, _version_id = approved_game(portal, db)
    gid = game["gameId"]
    release_at = datetime.now(UTC) + timedelta(hours=1)
    expect(admin.post(f"/games/{gid}/publish", json={"releaseAt": release_at.isoformat()}), 200)
    cancelled = expect(admin.post(f"/games/{gid}/unpublish"), 200)
    assert cancelled["status"] == "approved" and cancelled["releaseAt"] is None
    release_due(app.extensions["developer_portal"], now=release_at + timedelta(days=1))
    assert expect(admin.get(f"/games/{gid}"), 200)["status"] == "approved"
    assert "game.published" not in game_events(db, gid)


def test_bad_publish_requests_are_refused_with_nothing_written(portal, db, nothing_written):
    admin, game, _version_id = approved_game(portal, db)
    gid = game["gameId"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with nothing_written(game["developerId"]):
        error = assert_error(
            admin.post(f"/games/{gid}/publish", json={"releaseAt": past}), 422, "VALIDATION_ERROR"
        )
        assert "releaseAt" in str(error["details"])
        assert_error(
            admin.post(f"/games/{gid}/publish", json={"releaseAt": "2030-01-01T10:00:00"}),
            422,
            "VALIDATION_ERROR",
        )
        assert_error(admin.post(f"/games/{gid}/publish", json={"when": "now"}), 422, "VALIDATION_ERROR")
        assert_error(
            admin.post(f"/games/{gid}/publish", data="{", content_type="application/json"),
            400,
            "VALIDATION_ERROR",
        )
    assert expect(admin.get(f"/games/{gid}"), 200)["status"] == "approved"
