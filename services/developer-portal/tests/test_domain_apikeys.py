"""CI API keys and trusted publishing as plain rules: the key format and its checksum, expiry,
status, rolling, scopes and games, claim conditions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from developer_portal.domain import apikeys as keys
from developer_portal.domain import trusted_publishing as trusted
from gamekeys_platform.refusals import InvalidValue, Refusal

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
# What a leak scanner would look for.
SCANNER_PATTERN = re.compile(r"\bgkp_[0-9A-Za-z]{36}\b")


def test_a_key_is_gkp_plus_random_plus_a_checksum_scanners_can_match():
    key = keys.generate()
    assert key.startswith("gkp_") and len(key) == 40
    assert SCANNER_PATTERN.fullmatch(key)
    assert keys.well_formed(key)
    assert keys.RANDOM_LENGTH * 5.95 >= 160  # bits of randomness: log2(62) > 5.95
    assert len({keys.generate() for _ in range(1000)}) == 1000


def test_every_single_character_typo_is_refused_by_the_checksum():
    key = keys.generate()
    for position in range(len("gkp_"), len(key)):
        for replacement in "0aZ9":
            typo = key[:position] + replacement + key[position + 1 :]
            if typo != key:
                assert not keys.well_formed(typo), (position, replacement)
    swapped = key[:10] + key[11] + key[10] + key[12:]
    assert swapped == key or not keys.well_formed(swapped)


@pytest.mark.parametrize(
    "candidate",
    ["", "gkp_", "gkp_short", "ghp_" + "a" * 36, "x" * 40, None, 42],
)
def test_what_is_not_a_key(candidate):
    assert not keys.well_formed(candidate)


def test_truncated_extended_and_other_kinds_are_refused():
    key = keys.generate()
    assert not keys.well_formed(key[:-1])
    assert not keys.well_formed(key + "0")
    assert not keys.well_formed(key.replace("gkp_", "GKP_"))
    token = keys.generate(keys.UPLOAD_TOKEN_PREFIX)
    assert keys.well_formed(token, keys.UPLOAD_TOKEN_PREFIX) and not keys.well_formed(token)
    assert not keys.well_formed(key, keys.UPLOAD_TOKEN_PREFIX)


def test_what_is_stored_and_shown():
    key = keys.generate()
    assert keys.digest(key) == keys.digest(key) and len(keys.digest(key)) == 64
    assert key not in keys.digest(key)
    assert keys.display_prefix(key) == key[:8] and keys.last4(key) == key[-4:]


def test_expiry_defaults_and_limits():
    assert keys.expiry(None, NOW, default=YEAR, maximum=YEAR) == NOW + YEAR
    assert keys.expiry(None, NOW, default=YEAR, maximum=timedelta(days=30)) == NOW + timedelta(days=30)
    assert keys.expiry(NOW + timedelta(days=5), NOW, default=YEAR, maximum=YEAR) == NOW + timedelta(days=5)
    for when, reason in ((NOW, "EXPIRY_IN_PAST"), (NOW + YEAR + timedelta(seconds=1), "EXPIRY_TOO_FAR")):
        with pytest.raises(Refusal) as refused:
            keys.expiry(when, NOW, default=YEAR, maximum=YEAR)
        assert refused.value.code == "VALIDATION_ERROR" and refused.value.details["reason"] == reason


def test_status_and_rolling():
    assert keys.status(revoked_at=None, expires_at=NOW + YEAR, now=NOW) is keys.KeyStatus.ACTIVE
    assert keys.status(revoked_at=None, expires_at=NOW, now=NOW) is keys.KeyStatus.EXPIRED
    assert keys.status(revoked_at=NOW, expires_at=NOW + YEAR, now=NOW) is keys.KeyStatus.REVOKED
    keys.check_rollable(keys.KeyStatus.ACTIVE, None)
    for status, successor, reason in (
        (keys.KeyStatus.EXPIRED, None, "KEY_NOT_ACTIVE"),
        (keys.KeyStatus.REVOKED, None, "KEY_NOT_ACTIVE"),
        (keys.KeyStatus.ACTIVE, uuid.uuid4(), "ALREADY_ROLLED"),
    ):
        with pytest.raises(Refusal) as refused:
            keys.check_rollable(status, successor)
        assert refused.value.code == "CONFLICT" and refused.value.details["reason"] == reason
    assert keys.overlap_end(NOW, NOW + YEAR, timedelta(hours=2)) == NOW + timedelta(hours=2)
    assert keys.overlap_end(NOW, NOW + timedelta(hours=1), timedelta(days=7)) == NOW + timedelta(hours=1)
    with pytest.raises(InvalidValue):
        keys.overlap_end(NOW, NOW + YEAR, timedelta(days=7, seconds=1))


def test_expiry_notice_only_for_keys_meant_to_live_longer_than_the_notice():
    assert keys.needs_expiry_notice(NOW + timedelta(days=30), NOW)
    assert not keys.needs_expiry_notice(NOW + timedelta(days=7), NOW)


def test_scopes_and_games():
    assert keys.check_scopes(["builds:write", "builds:read", "builds:write"]) == [
        "builds:read",
        "builds:write",
    ]
    for bad in ([], ["builds:delete"], ["admin"]):
        with pytest.raises(InvalidValue):
            keys.check_scopes(bad)
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    assert keys.check_games([mine, mine], {mine}) == [mine]
    with pytest.raises(Refusal) as refused:
        keys.check_games([mine, theirs], {mine})
    assert refused.value.details == {"reason": "UNKNOWN_GAME", "gameIds": [str(theirs)]}
    with pytest.raises(Refusal):
        keys.check_games([], {mine})


def test_trusted_publisher_conditions_must_pin_a_repository():
    assert trusted.conditions("repo:o/g:ref:refs/heads/main", {"workflow_ref": "w"}) == {
        "sub": "repo:o/g:ref:refs/heads/main",
        "workflow_ref": "w",
    }
    assert trusted.conditions(None, {"repository": "o/g"}) == {"repository": "o/g"}
    for subject, claims in (
        (None, None),
        (None, {"workflow_ref": "w"}),  # any repository's workflow of that name
        (None, {"repository": "o/g", "aud": "x"}),
        (None, {"repository": "o/g", "Bad-Name": "x"}),
        (None, {"repository": " "}),
        ("a", {"sub": "b"}),
        (None, {f"c{i}": "v" for i in range(10)} | {"repository": "o/g"}),
    ):
        with pytest.raises(InvalidValue):
            trusted.conditions(subject, claims)


def test_claims_match_exactly():
    required = {"repository": "o/g", "ref": "refs/heads/main"}
    assert trusted.matches(required, {"repository": "o/g", "ref": "refs/heads/main", "other": 1})
    assert not trusted.matches(required, {"repository": "o/g", "ref": "refs/heads/dev"})
    assert not trusted.matches(required, {"repository": "O/G", "ref": "refs/heads/main"})
    assert not trusted.matches(required, {"repository": "o/g"})
    assert not trusted.matches({"repository_id": "1"}, {"repository_id": 1})
