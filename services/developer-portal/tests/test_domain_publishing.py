"""The publishing rules without Flask or SQL: the preflight matrix, what changed between two
submissions, moderation decisions, release times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from developer_portal.domain import publishing as p
from gamekeys_platform.refusals import InvalidValue, Refusal

READY = p.Build("v1", "1.0.0", "windows", "ready")
COMPLETE = p.GameFacts(
    verification_status="verified",
    title="Game",
    description="Long.",
    short_description="Short.",
    genres=["indie"],
    screenshots=[],
    base_price={"amount": "19.99", "currency": "USD"},
    builds=[READY],
)


def failing(facts, **kwargs):
    return {check.check for check in p.preflight(facts, **kwargs) if not check.ok}


def test_a_complete_game_passes_every_check():
    checks = p.preflight(COMPLETE, version_id="v1")
    assert [c.check for c in checks] == [
        "studio_verified", "title", "short_description", "description", "genres", "price",
        "ready_build", "version_ready",
    ]  # fmt: skip
    assert p.passed(checks)


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"verification_status": "pending"}, "studio_verified"),
        ({"verification_status": "rejected"}, "studio_verified"),
        ({"title": "  "}, "title"),
        ({"short_description": None}, "short_description"),
        ({"short_description": " "}, "short_description"),
        ({"description": None}, "description"),
        ({"genres": []}, "genres"),
        ({"base_price": None}, "price"),
        ({"builds": []}, "ready_build"),
        ({"builds": [replace(READY, status="processing")]}, "ready_build"),
    ],
)
def test_each_missing_piece_fails_its_own_check_with_a_message(change, check):
    facts = replace(COMPLETE, **change)
    assert failing(facts) == {check}
    message = next(c.message for c in p.preflight(facts) if c.check == check)
    assert len(message) > 20


def test_a_free_game_passes_the_price_check():
    free = replace(COMPLETE, base_price={"amount": "0.00", "currency": "USD"})
    assert next(c for c in p.preflight(free) if c.check == "price").message == "the game is free"


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (p.Build("v1", "1.0.0", "windows", "uploading"), "wait until it is ready"),
        (p.Build("v1", "1.0.0", "windows", "failed", {"reason": "malware"}), "failed (malware)"),
        (p.Build("v1", "1.0.0", "windows", "rejected", {"reason": "rejected"}), "failed"),
    ],
)
def test_the_version_submitted_must_be_ready(build, says):
    facts = replace(COMPLETE, builds=[READY, replace(build, version_id="v2")])
    checks = p.preflight(facts, version_id="v2")
    assert failing(facts, version_id="v2") == {"version_ready"}
    assert says in next(c.message for c in checks if c.check == "version_ready")
    assert failing(facts, version_id="unknown") == {"version_ready"}


def test_media_only_when_required():
    assert failing(COMPLETE) == set()
    assert failing(COMPLETE, requires_media=True) == {"media"}
    with_media = replace(COMPLETE, screenshots=["https://cdn.example/1.png"])
    assert failing(with_media, requires_media=True) == set()


def test_a_failed_preflight_refuses_with_the_failing_checks():
    with pytest.raises(Refusal) as raised:
        p.refuse_failed(p.preflight(replace(COMPLETE, genres=[], builds=[])))
    assert raised.value.code == "VALIDATION_ERROR"
    assert [c["check"] for c in raised.value.details["checks"]] == ["genres", "ready_build"]
    p.refuse_failed(p.preflight(COMPLETE))  # nothing to refuse


def test_diff_names_each_changed_field():
    before = {
        "title": "A",
        "metadata": {"description": "old", "genres": ["indie"]},
        "pricing": {"basePrice": {"amount": "10.00", "currency": "USD"}},
        "build": {"versionId": "v1", "version": "1.0.0", "platform": "windows"},
    }
    after = {
        "title": "A",
        "metadata": {"description": "new", "genres": ["indie"]},
        "pricing": {"basePrice": {"amount": "12.00", "currency": "USD"}},
        "build": {"versionId": "v2", "version": "1.0.1", "platform": "windows"},
    }
    assert [c["field"] for c in p.diff(before, after)] == [
        "build.version", "build.versionId", "metadata.description", "pricing.basePrice",
    ]  # fmt: skip
    assert p.diff(before, before) == []


def test_decisions_are_idempotent_and_final():
    assert p.decide("pending_review", "approve") == (p.SubmissionStatus.APPROVED, True)
    assert p.decide("pending_review", "reject") == (p.SubmissionStatus.REJECTED, True)
    assert p.decide("approved", "approve") == (p.SubmissionStatus.APPROVED, False)
    assert p.decide("rejected", "reject") == (p.SubmissionStatus.REJECTED, False)
    for status, decision in (("approved", "reject"), ("rejected", "approve")):
        with pytest.raises(Refusal) as raised:
            p.decide(status, decision)
        assert raised.value.code == "CONFLICT" and raised.value.details["status"] == status


def test_a_release_is_in_the_future():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert p.check_release_at(now + timedelta(seconds=1), now)
    for moment in (now, now - timedelta(days=1)):
        with pytest.raises(InvalidValue):
            p.check_release_at(moment, now)
