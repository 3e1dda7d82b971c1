"""The one spelling of an identity that block lists store and compare: antifraud writes a block
in it and activation-gateway matches redemptions against its projection of the blocks in it, so
both must spell a user id or an address the same way whatever form it arrived in."""

from __future__ import annotations

import ipaddress
import uuid


def canonical_identity(entity_type: str, value: str) -> str:
    """A ``user`` as its UUID's canonical text, an ``ip`` as its address's, anything else (a
    device fingerprint) as given; ValueError when a user is not a UUID or an ip not an address."""
    if entity_type == "user":
        return str(uuid.UUID(value))
    if entity_type == "ip":
        return str(ipaddress.ip_address(value))
    return value
