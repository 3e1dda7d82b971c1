"""Plain domain rules: part plans, the verdict, the state machine, role and CI key rules, clamd answers."""

from __future__ import annotations

import uuid

import pytest

from game_builds.domain.access import (
    Action,
    key_covers_game,
    key_scope_for,
    key_scopes_allow,
    platform_role_allows,
    team_role_allows,
)
from game_builds.domain.states import BuildStatus, TransitionRefused, check_transition
from game_builds.domain.uploads import MAX_PARTS, ScanResult, missing_parts, plan_parts, verdict
from game_builds.scanner import ScannerUnavailable, parse_answer

GIB = 1024**3


def test_the_largest_build_fits_in_ten_thousand_parts():
    plan = plan_parts(64 * GIB, max_size=64 * GIB, min_part_size=5 * 1024**2)
    assert plan.part_count <= MAX_PARTS and plan.part_size * plan.part_count >= 64 * GIB
    assert plan_parts(1, max_size=64 * GIB, min_part_size=64 * 1024**2).part_count == 1
    with pytest.raises(ValueError):
        plan_parts(0, max_size=10, min_part_size=1)
    assert missing_parts(4, {1, 3}) == [2, 4]


def test_verdict_checks_size_then_hash_then_scan():
    ok = {"declared_size": 5, "declared_sha256": "a" * 64, "size": 5, "sha256": "a" * 64}
    assert verdict(**ok, scan=ScanResult("clean")) is None
    assert verdict(**{**ok, "size": 4}, scan=None).reason == "size_mismatch"
    assert verdict(**{**ok, "sha256": "b" * 64}, scan=ScanResult("clean")).reason == "checksum_mismatch"
    assert verdict(**ok, scan=ScanResult("incomplete", detail="limits")).reason == "scan_incomplete"
    malware = verdict(**ok, scan=ScanResult("infected", signature="Eicar"))
    assert malware.as_dict() == {"reason": "malware", "signature": "Eicar"}


def test_state_machine():
    check_transition(BuildStatus.UPLOADING, BuildStatus.UPLOADED)
    with pytest.raises(TransitionRefused):
        check_transition(BuildStatus.READY, BuildStatus.FAILED)


def test_roles():
    assert team_role_allows("developer", Action.WRITE) and team_role_allows("marketing", Action.READ)
    assert not team_role_allows("finance", Action.WRITE) and not team_role_allows(None, Action.READ)
    assert platform_role_allows(frozenset({"support"}), Action.READ)
    assert not platform_role_allows(frozenset({"support"}), Action.WRITE)


def test_clamd_answers():
    assert parse_answer("stream: OK").outcome == "clean"
    assert parse_answer("stream: Eicar-Test-Signature FOUND").signature == "Eicar-Test-Signature"
    assert parse_answer("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND").outcome == "incomplete"
    assert parse_answer("INSTREAM size limit exceeded. ERROR").outcome == "incomplete"
    with pytest.raises(ScannerUnavailable):
        parse_answer("garbage")


def test_a_ci_key_reaches_only_its_own_studios_named_games():
    studio, game, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert key_covers_game(studio, [game], game_id=game, developer_id=studio)
    assert not key_covers_game(studio, [game], game_id=other, developer_id=studio)
    # A game named by the key that another studio owns now (it changed hands) is not the key's.
    assert not key_covers_game(studio, [game], game_id=game, developer_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ({"builds:write"}, {Action.READ, Action.WRITE, Action.WRITE_MEDIA}),
        ({"builds:read"}, {Action.READ}),
        ({"builds:read", "builds:write"}, {Action.READ, Action.WRITE, Action.WRITE_MEDIA}),
        (set(), set()),
        ({"keys:read"}, set()),
    ],
)
def test_a_ci_keys_scopes_bound_what_it_does(scopes, allowed):
    assert {action for action in Action if key_scopes_allow(scopes, action)} == allowed
    assert key_scope_for(Action.READ) == "builds:read"
    assert key_scope_for(Action.WRITE) == key_scope_for(Action.WRITE_MEDIA) == "builds:write"
