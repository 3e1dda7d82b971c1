"""Report shapes without a store: periods, zero-filled days, shares, outcomes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from analytics.domain.access import Verdict, game_access
from analytics.domain.reports import (
    ActivationReport,
    DayCountryCount,
    GameCount,
    GameInScope,
    InvalidPeriod,
    Period,
    Summary,
    share,
)

NOW = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)


def test_the_default_period_is_the_last_30_days_up_to_today_in_the_zone():
    period = Period.of(None, None, "Asia/Tokyo", now=NOW)  # 07:30 on the 11th in Tokyo
    assert (period.first, period.last) == (date(2026, 2, 10), date(2026, 3, 11))
    assert period.start == datetime(2026, 2, 9, 15, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
    assert len(period.days()) == 30


@pytest.mark.parametrize(
    ("first", "last", "zone", "field"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), None, "to"),
        (date(2025, 1, 1), date(2026, 3, 1), None, "to"),
        (None, None, "Mars/Olympus_Mons", "tz"),
        (date(1999, 12, 31), None, None, "from"),
    ],
)
def test_periods_that_cannot_be_answered_name_the_parameter(first, last, zone, field):
    with pytest.raises(InvalidPeriod) as refused:
        Period.of(first, last, zone, now=NOW)
    assert refused.value.field == field


def test_a_report_has_every_day_and_the_countries_by_activations():
    period = Period.of(date(2026, 3, 1), date(2026, 3, 3), "UTC", now=NOW)
    game = uuid.uuid4()
    rows = [
        DayCountryCount(date(2026, 3, 1), "DE", "activation.succeeded", 3),
        DayCountryCount(date(2026, 3, 1), "DE", "activation.failed", 1),
        DayCountryCount(date(2026, 3, 3), "FR", "activation.succeeded", 1),
        DayCountryCount(date(2026, 3, 3), "", "activation.pending_review", 2),
    ]
    body = ActivationReport.build(game, period, rows).to_dict()
    assert [point["t"] for point in body["series"]] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert body["series"][1]["attempts"] == 0
    assert body["totals"] == {
        "attempts": 7,
        "activations": 4,
        "failed": 1,
        "blocked": 0,
        "pendingReview": 2,
        "disputed": 0,
    }
    assert [(c["country"], c["activations"], c["share"]) for c in body["countries"]] == [
        ("DE", 3, "0.7500"),
        ("FR", 1, "0.2500"),
        (None, 0, "0.0000"),
    ]


def test_a_summary_ranks_games_by_activations():
    period = Period.of(date(2026, 3, 1), date(2026, 3, 3), "UTC", now=NOW)
    quiet, busy = uuid.uuid4(), uuid.uuid4()
    summary = Summary.build(
        None,
        period,
        [GameInScope(quiet, "Quiet"), GameInScope(busy, "Busy")],
        [GameCount(quiet, "activation.succeeded", 1), GameCount(busy, "activation.succeeded", 5)],
        keys_generated=100,
    ).to_dict()
    assert [game["title"] for game in summary["topGames"]] == ["Busy", "Quiet"]
    assert summary["totals"]["activations"] == 6 and summary["games"] == 2 and summary["keysGenerated"] == 100


def test_share_rounds_half_even():
    assert share(1, 3) == "0.3333"
    assert share(0, 0) == "0.0000"


@pytest.mark.parametrize(
    ("roles", "team_role", "verdict"),
    [
        ({"developer"}, "finance", Verdict.ALLOWED),
        ({"admin"}, None, Verdict.ALLOWED),
        ({"support"}, None, Verdict.FORBIDDEN),
        ({"developer"}, None, Verdict.HIDDEN),
    ],
)
def test_who_reads_a_games_figures(roles, team_role, verdict):
    assert game_access(frozenset(roles), team_role) is verdict


@pytest.mark.parametrize(
    ("zone", "whole"),
    [
        ("UTC", True),
        ("Europe/Berlin", True),  # +01:00 and +02:00, changing at 01:00 UTC
        ("America/New_York", True),
        ("Asia/Kolkata", False),  # +05:30
        ("America/St_Johns", False),  # -03:30 and -02:30
        ("Australia/Lord_Howe", False),  # +10:30 and +11:00
        ("Asia/Kathmandu", False),  # +05:45
    ],
)
def test_a_period_is_in_whole_utc_hours_when_its_zone_offsets_are_whole_hours(zone, whole):
    year = Period.of(date(2026, 1, 1), date(2026, 12, 31), zone, now=NOW)
    assert year.in_whole_utc_hours() is whole


def test_a_period_is_judged_on_its_own_days():
    # Lord Howe is +11:00 in its summer (to 5 April 2026) and +10:30 after: a January period is whole.
    assert Period.of(date(2026, 1, 5), date(2026, 1, 25), "Australia/Lord_Howe", now=NOW).in_whole_utc_hours()
    # Samoa skipped 30 December 2011 going from -10:00 to +14:00, on a whole hour.
    assert Period.of(date(2011, 12, 25), date(2012, 1, 5), "Pacific/Apia", now=NOW).in_whole_utc_hours()
