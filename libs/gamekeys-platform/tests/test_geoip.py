"""The offline IP ranges: the most specific range wins, malformed data is refused at load."""

from __future__ import annotations

import pytest

from gamekeys_platform.geoip import IpInfo, IpRanges


def test_most_specific_range_wins():
    ranges = IpRanges(
        [("203.0.113.0/24", "RU", ""), ("203.0.113.128/25", "RU", "vpn"), ("0.0.0.0/0", "", "")]
    )
    assert ranges.lookup("203.0.113.5") == IpInfo("RU")
    assert ranges.lookup("203.0.113.200") == IpInfo("RU", vpn=True)
    assert ranges.lookup("8.8.8.8") == IpInfo()
    assert ranges.lookup("not an address") == IpInfo()


def test_the_shipped_sample_loads():
    ranges = IpRanges.from_file()
    assert ranges.lookup("198.18.1.1").datacenter
    assert ranges.lookup("2001:db8::1").country == "FR"


@pytest.mark.parametrize(
    ("row", "problem"), [(("10.0.0.0/8", "XX1", ""), "ISO"), (("10.0.0.0/8", "DE", "tor"), "kind")]
)
def test_malformed_rows_are_refused(row, problem):
    with pytest.raises(ValueError, match=problem):
        IpRanges([row])
