"""Region restrictions, batch planning limits, roles, and the vault (HMAC, AES-GCM, rotation)."""

from __future__ import annotations

import base64
import hmac
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from gamekeys_platform.settings import ConfigError
from key_manager.domain import codec
from key_manager.domain.access import Action, platform_role_allows, team_role_allows
from key_manager.domain.batches import PlanRefused, end_of_day, key_id_range, plan_batch
from key_manager.domain.regions import RegionPolicy
from key_manager.domain.vault import DecryptionFailed, KeyVault, UnknownEncryptionKey
from key_manager.settings import Settings, parse_encryption_keys


def test_an_expiration_date_is_the_end_of_that_day_utc():
    assert end_of_day(date(2027, 1, 1)) == datetime(2027, 1, 1, 23, 59, 59, 999999, tzinfo=UTC)


def test_region_policy():
    policy = RegionPolicy.from_rules(
        [{"type": "allow", "countries": ["de", "FR", "RU"]}, {"type": "deny", "countries": ["RU"]}]
    )
    assert policy.permits("DE") and policy.permits("fr")
    assert not policy.permits("RU")  # deny wins
    assert not policy.permits("US")
    deny_only = RegionPolicy.from_rules([{"type": "deny", "countries": ["CN"]}])
    assert deny_only.permits("US") and not deny_only.permits("CN")
    assert RegionPolicy.from_rules([]).unrestricted
    assert RegionPolicy.from_columns(*_columns(policy)) == policy
    with pytest.raises(ValueError):
        RegionPolicy.from_rules([{"type": "allow", "countries": ["GER"]}])
    with pytest.raises(ValueError, match="XX"):
        RegionPolicy.from_rules([{"type": "deny", "countries": ["XX"]}])


def _columns(policy):
    return sorted(policy.allowed), sorted(policy.denied)


def _plan(**overrides):
    args = {
        "game_id": uuid.uuid4(),
        "developer_id": uuid.uuid4(),
        "key_type": "retail",
        "quantity": 10,
        "regional_restrictions": [],
        "expiration_date": None,
        "metadata": {},
        "synchronous": True,
        "metadata_max_bytes": 100,
    }
    return plan_batch(**{**args, **overrides})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1001}, "quantity"),
        ({"quantity": 100_001, "synchronous": False}, "quantity"),
        ({"key_type": "bogus"}, "keyType"),
        ({"expiration_date": datetime.now(UTC) - timedelta(days=1)}, "expirationDate"),
        ({"expiration_date": datetime(2030, 1, 1)}, "expirationDate"),
        ({"expiration_date": datetime(2999, 1, 1, tzinfo=UTC)}, "expirationDate"),
        ({"metadata": {"x": "y" * 200}}, "metadata"),
        ({"regional_restrictions": [{"type": "allow", "countries": ["DE"]},
                                    {"type": "deny", "countries": ["DE"]}]}, "regionalRestrictions"),
    ],
)  # fmt: skip
def test_plan_refusals(overrides, field):
    with pytest.raises(PlanRefused) as refused:
        _plan(**overrides)
    assert refused.value.field == field


def test_plan_limits_and_key_id_range():
    assert _plan(quantity=1000).quantity == 1000
    assert _plan(quantity=100_000, synchronous=False).quantity == 100_000
    plan = _plan()
    low, high = key_id_range(plan.batch_id)
    assert low.bytes[:8] == high.bytes[:8] == plan.batch_id.bytes[:8] and low < high


def test_roles():
    assert team_role_allows("developer", Action.MODIFY, "retail")
    assert team_role_allows("marketing", Action.GENERATE, "promotional")
    assert not team_role_allows("marketing", Action.GENERATE, "retail")
    assert team_role_allows("marketing", Action.EXPORT, "retail")
    assert team_role_allows("finance", Action.READ, "retail")
    assert not team_role_allows("finance", Action.EXPORT, "retail")
    assert not team_role_allows(None, Action.READ, "retail")
    assert platform_role_allows(frozenset({"admin"}), Action.MODIFY)
    assert platform_role_allows(frozenset({"support"}), Action.READ)
    assert not platform_role_allows(frozenset({"support"}), Action.EXPORT)


def _vault(keys=None, active="k1"):
    keys = keys or {"k1": secrets.token_bytes(32)}
    return KeyVault(pepper=b"p" * 32, encryption_keys=keys, active_key_id=active)


def test_lookup_hash_is_hmac_sha256_with_the_pepper():
    vault = _vault()
    keys = codec.generate_keys(50)
    expected = [hmac.digest(b"p" * 32, k, "sha256") for k in keys]
    assert vault.lookup_hashes(keys) == expected
    assert vault.lookup_hash(keys[0]) == expected[0]
    assert "p" * 32 not in repr(vault)


def test_encryption_round_trip_is_bound_to_the_row_and_rotation_keeps_old_keys_readable():
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    old = _vault({"k1": k1})
    row, key = uuid.uuid4().bytes, codec.generate_keys(1)[0]
    blob = old.encrypt(row, key)
    assert key not in blob
    rotated = _vault({"k1": k1, "k2": k2}, active="k2")
    assert rotated.decrypt("k1", row, blob) == key
    fresh = rotated.encrypt_many([row], [key])[0]
    assert rotated.decrypt("k2", row, fresh) == key
    with pytest.raises(DecryptionFailed):
        rotated.decrypt("k1", uuid.uuid4().bytes, blob)  # moved to another row
    with pytest.raises(UnknownEncryptionKey):
        _vault({"k2": k2}, active="k2").decrypt("k1", row, blob)


def test_encryption_key_configuration_is_validated(platform_env):
    good = base64.b64encode(secrets.token_bytes(32)).decode()
    assert set(parse_encryption_keys(f"a:{good}, b:{good}")) == {"a", "b"}
    for bad in (
        "",
        "nocolon",
        f"a:{good},a:{good}",
        "a:not-base64!",
        "a:" + base64.b64encode(b"short").decode(),
    ):
        with pytest.raises(ValueError):
            parse_encryption_keys(bad)
    with pytest.raises(ConfigError) as refused:
        from gamekeys_platform.settings import load_settings

        load_settings(
            Settings,
            **platform_env,
            key_encryption_keys=f"a:{good}",
            key_encryption_active_key_id="b",
            key_lookup_pepper="x" * 32,
        )
    assert good not in str(refused.value)
