"""Verification, team, game status and metadata rules, without Flask or SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from developer_portal.domain import games, metadata, team, verification
from developer_portal.domain.suspension import refuse_while_suspended
from gamekeys_platform.refusals import InvalidValue, Refusal

NOW = datetime(2030, 1, 1, tzinfo=UTC)


# --- verification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "requested", "reason", "status", "changed"),
    [
        ("pending", "verified", None, "verified", True),
        ("pending", "rejected", "no documents", "rejected", True),
        ("verified", "verified", None, "verified", False),
        ("rejected", "rejected", "again", "rejected", False),
    ],
)
def test_verification_decisions(current, requested, reason, status, changed):
    change = verification.decide_verification(current, requested, reason)
    assert (change.status.value, change.changed) == (status, changed)


@pytest.mark.parametrize(("current", "requested"), [("verified", "rejected"), ("rejected", "verified")])
def test_a_decision_cannot_be_reversed(current, requested):
    with pytest.raises(Refusal) as raised:
        verification.decide_verification(current, requested, "because")
    assert (
        raised.value.code == "CONFLICT" and raised.value.details["reason"] == "VERIFICATION_ALREADY_DECIDED"
    )


def test_rejection_needs_a_bounded_reason_and_pending_is_no_decision():
    for reason in (None, "", "   "):
        with pytest.raises(InvalidValue):
            verification.decide_verification("pending", "rejected", reason)
    with pytest.raises(InvalidValue):
        verification.decide_verification("pending", "rejected", "x" * 1001)
    with pytest.raises(InvalidValue):
        verification.decide_verification("pending", "pending", None)


def test_correcting_a_rejected_studio_resubmits_it():
    assert verification.status_after_details_update("rejected") == "pending"
    assert verification.status_after_details_update("verified") == "verified"
    assert verification.status_after_details_update("pending") == "pending"
    assert verification.may_create_games("verified")
    assert not verification.may_create_games("pending") and not verification.may_create_games("rejected")


# --- team -----------------------------------------------------------------------------------


def snapshot(status="verified", members=("a@x.com",), pending=(), count=1):
    return team.TeamSnapshot.of(status, members, pending, count)


def test_invitation_rules():
    assert team.check_invitation(snapshot(), " New@X.com ", "finance") == "new@x.com"
    cases = [
        (snapshot(status="pending"), "b@x.com", "FORBIDDEN", "DEVELOPER_NOT_VERIFIED"),
        (snapshot(), "A@X.COM", "CONFLICT", "ALREADY_A_MEMBER"),
        (snapshot(pending=("b@x.com",)), "b@X.com", "CONFLICT", "ALREADY_INVITED"),
        (snapshot(count=team.MAX_TEAM_SIZE), "c@x.com", "CONFLICT", "TEAM_FULL"),
    ]
    for snap, email, code, reason in cases:
        with pytest.raises(Refusal) as raised:
            team.check_invitation(snap, email, "developer")
        assert (raised.value.code, raised.value.details["reason"]) == (code, reason)
    with pytest.raises(InvalidValue):
        team.check_invitation(snapshot(), "b@x.com", "owner")


def accept(**overrides):
    args = {
        "invitation_email": "a@x.com",
        "invitation_status": "pending",
        "expires_at": NOW + timedelta(days=1),
        "caller_email": "A@x.com",
        "caller_studio": None,
        "now": NOW,
    } | overrides
    team.check_acceptance(**args)


def test_acceptance_rules():
    accept()
    for overrides, reason in [
        ({"caller_email": "b@x.com"}, "EMAIL_MISMATCH"),
        ({"caller_email": None}, "EMAIL_MISMATCH"),
        ({"invitation_status": "revoked"}, "INVITATION_CLOSED"),
        ({"invitation_status": "accepted"}, "INVITATION_CLOSED"),
        ({"expires_at": NOW}, "INVITATION_EXPIRED"),
        ({"caller_studio": object()}, "ALREADY_IN_A_STUDIO"),
        # the wrong address is refused before anything else is revealed
        ({"caller_email": "b@x.com", "invitation_status": "revoked"}, "EMAIL_MISMATCH"),
    ]:
        with pytest.raises(Refusal) as raised:
            accept(**overrides)
        assert raised.value.details["reason"] == reason


def test_the_last_admin_stays():
    assert team.check_role_change("admin", "developer", admin_count=2) is True
    assert team.check_role_change("finance", "finance", admin_count=1) is False
    assert team.check_role_change("developer", "admin", admin_count=1) is True
    with pytest.raises(Refusal, match="last admin"):
        team.check_role_change("admin", "finance", admin_count=1)
    team.check_removal("admin", admin_count=2)
    team.check_removal("developer", admin_count=1)
    with pytest.raises(Refusal, match="last admin"):
        team.check_removal("admin", admin_count=1)


# --- games ----------------------------------------------------------------------------------


ALLOWED = {
    ("draft", "pending_review"),
    ("pending_review", "approved"),
    ("pending_review", "rejected"),
    ("rejected", "pending_review"),
    ("approved", "published"),
    ("published", "removed"),
    ("removed", "published"),
}


@pytest.mark.parametrize("current", games.GAME_STATUSES)
@pytest.mark.parametrize("target", games.GAME_STATUSES)
def test_every_status_transition(current, target):
    if (current, target) in ALLOWED:
        assert games.check_transition(current, target) == target
    else:
        with pytest.raises(Refusal) as raised:
            games.check_transition(current, target)
        assert raised.value.code == "CONFLICT"
        assert raised.value.details["status"] == current


def test_sql_conditions_come_from_the_transition_table():
    assert set(games.sources_of(games.GameStatus.PUBLISHED)) == {"approved", "removed"}
    assert set(games.SCHEDULABLE) == {"approved", "removed"}
    assert set(games.sources_of(games.GameStatus.PENDING_REVIEW)) == {"draft", "rejected"}


@pytest.mark.parametrize("status", games.GAME_STATUSES)
def test_delete_only_drafts_and_freeze_content_under_review(status):
    if status == "draft":
        games.check_deletable(status)
    else:
        with pytest.raises(Refusal, match="draft"):
            games.check_deletable(status)
    if status in ("pending_review", "removed"):
        with pytest.raises(Refusal):
            games.check_content_editable(status)
    else:
        games.check_content_editable(status)


def test_titles_are_normalised_and_compared_without_case():
    assert games.normalize_title("  Moon\t Miners \n") == "Moon Miners"
    assert games.title_key("MOON  miners") == games.title_key("moon miners")
    assert games.title_key("Straße") == games.title_key("STRASSE")
    for bad in ("", "   ", "x" * 256, "a\u0000b", "zero\u200bwidth"):
        with pytest.raises(InvalidValue):
            games.normalize_title(bad)


# --- metadata -------------------------------------------------------------------------------


def test_tags_and_genres_are_normalised_and_bounded():
    assert metadata.normalize_tags(["Co-op", "co-op", " Space   Mining "]) == ["co-op", "space mining"]
    assert metadata.normalize_genres(["RPG", "rpg", "Indie"]) == ["rpg", "indie"]
    with pytest.raises(InvalidValue):
        metadata.normalize_tags([f"t{n}" for n in range(21)])
    with pytest.raises(InvalidValue):
        metadata.normalize_tags(["<b>"])
    with pytest.raises(InvalidValue):
        metadata.normalize_genres(["dating-sim"])
    with pytest.raises(InvalidValue):
        metadata.normalize_genres(list(metadata.GENRES[:6]))
    assert metadata.check_age_rating(" PEGI  12 ") == "PEGI 12"
    with pytest.raises(InvalidValue):
        metadata.check_age_rating("<18>")
    assert metadata.changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b"]


def test_a_suspended_studio_may_not_publish():
    refuse_while_suspended(False, "publish games")  # not suspended: nothing refused
    with pytest.raises(Refusal) as refused:
        refuse_while_suspended(True, "publish games")
    assert refused.value.code == "FORBIDDEN" and refused.value.details == {"reason": "STUDIO_SUSPENDED"}
    assert "publish games" in str(refused.value)
