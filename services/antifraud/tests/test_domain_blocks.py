from datetime import UTC, datetime, timedelta

from antifraud.domain.blocks import ActiveBlock, BlockSnapshot

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_blocked_entities_of_an_activation():
    snapshot = BlockSnapshot(
        [ActiveBlock("user", "u1", None), ActiveBlock("ip", "192.0.2.7", NOW + timedelta(hours=1))]
    )
    entities = {"user": "u1", "ip": "192.0.2.7", "device": "d1"}
    assert snapshot.blocked_types(entities, NOW) == {"user", "ip"}
    assert snapshot.blocked_types({"user": "u2", "ip": "192.0.2.8", "device": "d1"}, NOW) == set()


def test_a_block_stops_applying_when_it_expires():
    snapshot = BlockSnapshot([ActiveBlock("device", "d1", NOW + timedelta(minutes=5))])
    assert snapshot.blocked_types({"device": "d1"}, NOW + timedelta(minutes=4)) == {"device"}
    assert snapshot.blocked_types({"device": "d1"}, NOW + timedelta(minutes=5)) == set()


def test_an_entity_blocked_twice_is_blocked_until_the_later_end():
    short, long = NOW + timedelta(minutes=1), NOW + timedelta(hours=1)
    for blocks in (
        [ActiveBlock("ip", "a", short), ActiveBlock("ip", "a", long)],
        [ActiveBlock("ip", "a", long), ActiveBlock("ip", "a", short)],
    ):
        assert BlockSnapshot(blocks).blocked_types({"ip": "a"}, NOW + timedelta(minutes=30)) == {"ip"}
    for blocks in (
        [ActiveBlock("ip", "a", short), ActiveBlock("ip", "a", None)],
        [ActiveBlock("ip", "a", None), ActiveBlock("ip", "a", short)],
    ):
        assert BlockSnapshot(blocks).blocked_types({"ip": "a"}, NOW + timedelta(days=400)) == {"ip"}


def test_an_empty_value_matches_nothing():
    snapshot = BlockSnapshot([ActiveBlock("user", "", None), ActiveBlock("device", "d1", None)])
    assert snapshot.blocked_types({"user": "", "device": ""}, NOW) == set()
    assert len(snapshot) == 2
