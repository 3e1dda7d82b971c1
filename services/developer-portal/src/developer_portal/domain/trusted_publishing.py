"""Trusted publishing: which CI identities a studio trusts, and whether an identity token's
claims are one of them (plain Python, no I/O; the token's signature, issuer, audience and expiry
are checked before this, in usecases/trusted_publishing.py).

A trusted publisher names an issuer the platform knows (``OIDC_ISSUERS``) and claim conditions,
each an exact string match: ``sub`` (GitHub: ``repo:org/game:ref:refs/heads/main``), or
``repository``, ``workflow_ref``, ``environment``, GitLab's ``project_path``, ``ref``... At least
one condition must pin the repository or project, so "anything this issuer signs" (every
repository on GitHub) can never be trusted by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from gamekeys_platform.refusals import InvalidValue

MAX_CONDITIONS = 10
MAX_CLAIM_VALUE_LENGTH = 255
CLAIM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# One of these must be a condition: each names one repository or project of the issuer.
IDENTIFYING_CLAIMS = frozenset({"sub", "repository", "repository_id", "project_path", "project_id"})
# Checked by the token verification itself, or different for every run: never conditions.
RESERVED_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})
# Upload tokens live at most this long (the 15 minutes).
MAX_UPLOAD_TOKEN_LIFETIME = timedelta(minutes=15)


def conditions(subject: str | None, claims: Mapping[str, str] | None) -> dict[str, str]:
    """The claim conditions of a new trusted publisher, from ``subject`` (the ``sub`` claim) and
    the other ``claims``; InvalidValue when they could match tokens of repositories nobody chose."""
    result = dict(claims or {})
    if subject is not None:
        if "sub" in result and result["sub"] != subject:
            raise InvalidValue("subject and claims.sub disagree; give one")
        result["sub"] = subject
    if not result:
        raise InvalidValue("give a subject or claim conditions")
    if len(result) > MAX_CONDITIONS:
        raise InvalidValue(f"at most {MAX_CONDITIONS} claim conditions")
    for name, value in result.items():
        if not CLAIM_NAME.match(name):
            raise InvalidValue(f"{name!r} is not a claim name (lower case letters, digits, _)")
        if name in RESERVED_CLAIMS:
            raise InvalidValue(f"{name} is checked by the token verification, not a condition")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLAIM_VALUE_LENGTH:
            raise InvalidValue(f"{name} must be 1-{MAX_CLAIM_VALUE_LENGTH} characters")
    if IDENTIFYING_CLAIMS.isdisjoint(result):
        raise InvalidValue(f"one condition must name the repository or project: {sorted(IDENTIFYING_CLAIMS)}")
    return dict(sorted(result.items()))


def matches(required: Mapping[str, str], claims: Mapping[str, Any]) -> bool:
    """Whether a verified token's ``claims`` meet every condition (exact, case-sensitive: a
    repository renamed or a branch of another case is not the one trusted)."""
    return all(
        isinstance(claims.get(name), str) and claims[name] == value for name, value in required.items()
    )
