import pytest

from gamekeys_platform.identities import canonical_identity


def test_a_user_id_and_an_address_take_one_spelling() -> None:
    user = "6F1C3F0E-3C57-4D55-9A53-0D4F6B1F7A10"
    assert canonical_identity("user", user) == user.lower()
    assert canonical_identity("user", "{" + user.replace("-", "") + "}") == user.lower()
    assert canonical_identity("ip", "2001:DB8:0:0::1") == "2001:db8::1"
    assert canonical_identity("ip", "192.0.2.7") == "192.0.2.7"


def test_a_device_fingerprint_is_kept_as_given() -> None:
    assert canonical_identity("device", " Device-ABC ") == " Device-ABC "


@pytest.mark.parametrize(("entity_type", "value"), [("user", "alice"), ("ip", "192.0.2.300"), ("ip", "")])
def test_a_user_that_is_no_uuid_or_an_ip_that_is_no_address_is_refused(entity_type, value) -> None:
    with pytest.raises(ValueError):
        canonical_identity(entity_type, value)
