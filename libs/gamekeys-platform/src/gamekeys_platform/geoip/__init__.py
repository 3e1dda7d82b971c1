"""IP -> country and VPN / datacenter flags, offline (nothing is downloaded at run time).

Sources, in order of authority: an operator's CSV of ranges (``ranges``), MaxMind's GeoIP2 /
GeoLite2 databases when ops mount them (``maxmind``, reloaded when geoipupdate replaces them),
and the data sets installed as packages, which make a deployment with no configuration know
the country of every public address and the published hosting / VPN / Tor ranges
(``packaged``). ``resolver.IpIntelligence`` combines them; ``settings.GeoipSettings`` is the
configuration the services that use it inherit. Private, loopback, documentation and other
non-routable addresses answer unknown.
"""

from gamekeys_platform.geoip.info import IpInfo
from gamekeys_platform.geoip.ranges import SAMPLE_RANGES, IpRanges
from gamekeys_platform.geoip.resolver import IpIntelligence
from gamekeys_platform.geoip.settings import GeoipSettings

__all__ = ["SAMPLE_RANGES", "GeoipSettings", "IpInfo", "IpIntelligence", "IpRanges"]
