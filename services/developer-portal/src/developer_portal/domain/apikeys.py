"""CI API keys: their format, scopes, lifetime and status (plain Python, no I/O).

A key is ``gkp_`` + 30 random base62 characters (≈178 bits from ``secrets``) + 6 base62
characters of the CRC32 of everything before them: 40 characters in all, the shape GitHub's
tokens made common, so secret scanners can match ``gkp_[0-9A-Za-z]{36}`` and a mistyped or
truncated key is refused without a database look-up. Only its SHA-256 is stored (the random
part makes a slow hash pointless), with the prefix and last four characters for display.

Upload tokens from trusted publishing have the same shape with their own prefix, ``gkpt_``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from datetime import datetime, timedelta
from enum import StrEnum

from gamekeys_platform.refusals import InvalidValue, Refusal

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
API_KEY_PREFIX = "gkp_"
UPLOAD_TOKEN_PREFIX = "gkpt_"  # noqa: S105  (a prefix, not a secret)
RANDOM_LENGTH = 30  # 30 * log2(62) ≈ 178.6 bits
CHECKSUM_LENGTH = 6  # 62^6 > 2^32: any CRC32 fits
DISPLAY_PREFIX_LENGTH = 4  # random characters shown after the prefix
MAX_KEY_LENGTH = 64  # anything longer is not a key, whatever it says

# The scopes a key (or a trusted publisher) may carry: what it lets CI do with the games it names.
SCOPES: dict[str, str] = {
    "builds:read": "list the game's builds and download them",
    "builds:write": "create builds of the game and upload them",
}

MAX_NAME_LENGTH = 100
MAX_GAMES = 100
# A rolled key keeps working this long at most beside its successor (Stripe's roll allows 7 days).
MAX_ROLL_OVERLAP = timedelta(days=7)
# apikey.expiring goes out this long before a key expires.
EXPIRY_NOTICE = timedelta(days=7)


class KeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


KEY_STATUSES: tuple[str, ...] = tuple(status.value for status in KeyStatus)


class RevokedReason(StrEnum):
    REVOKED = "revoked"  # by a studio admin
    CREATOR_LEFT = "creator_left"  # its creator left the studio (see revoke_on_departure)


REVOKED_REASONS: tuple[str, ...] = tuple(reason.value for reason in RevokedReason)


# --- format ---------------------------------------------------------------------------------


def _base62(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate(prefix: str = API_KEY_PREFIX) -> str:
    """A new secret of ``prefix``'s kind, from the CSPRNG."""
    body = prefix + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + _checksum(body)


def well_formed(secret: str, prefix: str = API_KEY_PREFIX) -> bool:
    """Whether ``secret`` has the prefix, length, alphabet and checksum of one: a typo, a
    truncated paste or a guess fails here, before any database look-up."""
    if not isinstance(secret, str) or not secret.startswith(prefix):
        return False
    if len(secret) != len(prefix) + RANDOM_LENGTH + CHECKSUM_LENGTH:
        return False
    body, checksum = secret[:-CHECKSUM_LENGTH], secret[-CHECKSUM_LENGTH:]
    if any(character not in ALPHABET for character in secret[len(prefix) :]):
        return False
    return hmac.compare_digest(_checksum(body), checksum)


def digest(secret: str) -> str:
    """What is stored and looked up: the SHA-256 of the secret, in hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str, prefix: str = API_KEY_PREFIX) -> str:
    return secret[: len(prefix) + DISPLAY_PREFIX_LENGTH]


def last4(secret: str) -> str:
    return secret[-4:]


# --- what a key may be created with ---------------------------------------------------------


def check_scopes(scopes: list[str]) -> list[str]:
    """At least one scope, every one from ``SCOPES``; returned de-duplicated in a stable order."""
    if not scopes:
        raise InvalidValue("give at least one scope")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidValue(f"unknown scopes {unknown}; the scopes are {sorted(SCOPES)}")
    return sorted(set(scopes))


def check_games(requested: list, studio_games: set) -> list:
    """The games a key may touch: at least one, at most ``MAX_GAMES``, each one of the studio's
    (VALIDATION_ERROR UNKNOWN_GAME otherwise, naming them: ids of other studios' games are
    refused exactly like ids of none). Returned de-duplicated in request order."""
    games = list(dict.fromkeys(requested))
    if not games:
        raise Refusal("VALIDATION_ERROR", "give at least one game", {"reason": "NO_GAMES"})
    if len(games) > MAX_GAMES:
        raise Refusal("VALIDATION_ERROR", f"at most {MAX_GAMES} games", {"reason": "TOO_MANY_GAMES"})
    unknown = [game for game in games if game not in studio_games]
    if unknown:
        raise Refusal(
            "VALIDATION_ERROR",
            "every game must be one of the studio's",
            {"reason": "UNKNOWN_GAME", "gameIds": [str(game) for game in unknown]},
        )
    return games


def expiry(requested: datetime | None, now: datetime, *, default: timedelta, maximum: timedelta) -> datetime:
    """When a new key expires: ``requested`` if in the future and at most ``maximum`` away, else
    VALIDATION_ERROR (reason EXPIRY_IN_PAST or EXPIRY_TOO_FAR); ``now + default`` without one."""
    if requested is None:
        return now + min(default, maximum)
    if requested <= now:
        raise Refusal("VALIDATION_ERROR", "expiresAt must be in the future", {"reason": "EXPIRY_IN_PAST"})
    if requested > now + maximum:
        raise Refusal(
            "VALIDATION_ERROR",
            f"a key lives at most {maximum.days} days",
            {"reason": "EXPIRY_TOO_FAR", "maxDays": maximum.days},
        )
    return requested


def needs_expiry_notice(expires_at: datetime, now: datetime) -> bool:
    """A key created to live no longer than the notice period gets no apikey.expiring: its
    creator chose the short life a moment ago."""
    return expires_at - now > EXPIRY_NOTICE


# --- status ---------------------------------------------------------------------------------


def status(*, revoked_at: datetime | None, expires_at: datetime, now: datetime) -> KeyStatus:
    if revoked_at is not None:
        return KeyStatus.REVOKED
    if expires_at <= now:
        return KeyStatus.EXPIRED
    return KeyStatus.ACTIVE


def check_rollable(current: KeyStatus, rolled_to) -> None:
    """Only an active key that has no successor yet can be rolled (CONFLICT otherwise)."""
    if current is not KeyStatus.ACTIVE:
        raise Refusal(
            "CONFLICT", f"a key that is {current.value} cannot be rolled", {"reason": "KEY_NOT_ACTIVE"}
        )
    if rolled_to is not None:
        raise Refusal(
            "CONFLICT",
            "the key was rolled already; roll its successor",
            {"reason": "ALREADY_ROLLED", "successorKeyId": str(rolled_to)},
        )


def overlap_end(now: datetime, expires_at: datetime, overlap: timedelta) -> datetime:
    """When a rolled key stops working: after the chosen overlap (0 to 7 days), never later than
    it would have expired anyway."""
    if overlap < timedelta(0) or overlap > MAX_ROLL_OVERLAP:
        raise InvalidValue("the overlap is 0 to 7 days")
    return min(now + overlap, expires_at)
