"""Velocity counters in Redis: sliding windows as sorted sets (member -> last seen time).

Every set belongs to one entity, a source (user, IP, /24 subnet, device) or a retailer, and
its name carries the entity as a Redis Cluster hash tag: ``{prefix}{user:<id>}:attempts``.
So all sets of one entity live in one hash slot, and each script call touches only the keys
of one entity (the keys it declares): the calls are cluster-safe. ``observe`` sends one call
per entity (at most six) in one pipelined round trip; each call adds the attempt's members and
counts every window of the entity's sets server-side, so the current attempt counts itself.

Members are attempt ids (attempts, failures) or key ids / key fingerprints (distinct keys,
invalid keys), so a redelivered event or a retried call adds nothing. Entries older than 24 h
are trimmed on write and every set expires 25 h after its last write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from antifraud.domain.features import COUNTERS, WINDOWS, subnet_of

DAY = 86_400
TTL = DAY + 3_600
SALE_TTL = 90 * DAY
# What chargebacks reveal, kept longer: disputed activations per account, network and device
# (90 days), a retailer's sold and charged-back keys (30 days), the countries an order's keys
# were redeemed from (10 minutes).
DISPUTE_WINDOW = 90 * DAY
RETAILER_WINDOW = 30 * DAY
ORDER_WINDOW = 600
# The sources a disputed activation counts against, and the feature each one feeds.
DISPUTED_FEATURES = {
    "user": "account_disputed_activations_90d",
    "subnet": "subnet_disputed_activations_90d",
    "device": "device_disputed_activations_90d",
}
# One entity per call. KEYS: the entity's sets. ARGV[1] now, ARGV[2] 1 to read back, ARGV[3]
# how many leading KEYS are windowed counters, counted over the windows of features.WINDOWS
# (60 s, 1 h, 24 h: written out below); the rest are 24 h sets, counted once. ARGV[3 + i]: the
# member KEYS[i] gets ('' = none). Trimmed to a day (86400 s), kept 25 h (90000 s). The counts
# come back as one space-separated string: redis-py parses a reply element by element in
# Python, and one string instead of ~14 integers per call saves a fifth of the client's CPU.
_SCRIPT = """
local now, read, windowed = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])
for i = 1, #KEYS do
  local member = ARGV[3 + i]
  if member ~= '' then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - 86400)
    redis.call('EXPIRE', KEYS[i], 90000)
  end
end
if not read then return '' end
local out = {}
for i = 1, #KEYS do
  if i <= windowed then
    out[#out + 1] = redis.call('ZCOUNT', KEYS[i], now - 60, '+inf')
    out[#out + 1] = redis.call('ZCOUNT', KEYS[i], now - 3600, '+inf')
  end
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], now - 86400, '+inf')
end
return table.concat(out, ' ')
"""
if tuple(WINDOWS.values()) != (60, 3_600, 86_400) or TTL != 90_000:  # the script's literals
    raise RuntimeError("velocity windows changed: update the Lua script")
_COUNTERS = tuple(COUNTERS)
# The 24 h sets each source keeps besides its counters: (set, feature) pairs.
_SETS: dict[str, tuple[tuple[str, str], ...]] = {
    "user": (("ips", "user_distinct_ips_24h"), ("countries", "user_distinct_countries_24h")),
    "ip": (("users", "ip_distinct_users_24h"),),
    "subnet": (),
    "device": (("users", "device_distinct_users_24h"), ("subnets", "device_distinct_subnets_24h")),
}
# Features read from sets that only some observations have (a batch, a retailer, an order).
EXTRA_FEATURES = (
    "user_batch_keys_24h",
    "retailer_revoked_keys_24h",
    *DISPUTED_FEATURES.values(),
    "retailer_sold_keys_30d",
    "retailer_charged_back_keys_30d",
    "retailer_chargeback_percent_30d",
    "order_distinct_countries_10m",
)


@dataclass(frozen=True)
class Observation:
    attempt_id: str  # activation id when known (so analyze + its event count once), else a fresh id
    user_id: str = ""
    ip: str = ""
    device: str = ""
    key_id: str = ""
    key_token: str = ""  # what identifies an invalid key: its fingerprint, else the attempt id
    batch_id: str = ""
    retailer_id: str = ""
    country: str = ""
    failed: bool = False
    invalid: bool = False
    counts_attempt: bool = True

    def sources(self) -> dict[str, str]:
        return {
            "user": self.user_id,
            "ip": self.ip,
            "subnet": subnet_of(self.ip) if self.ip else "",
            "device": self.device,
        }


@dataclass(frozen=True)
class Observed:
    features: dict[str, int]
    sold_at: datetime | None  # when a key.sold event said the key was sold
    blocks_version: str | None  # the block list's version token (None: Redis has none)


@dataclass(frozen=True)
class _Call:
    """One script call: the sets of one entity, the member each gets, which features it reads."""

    keys: list[str]
    members: list[str]
    windowed: int
    features: list[str]


class VelocityStore:
    def __init__(self, client: redis.Redis, prefix: str = "af:") -> None:
        self.client = client
        self.prefix = prefix
        self._sha: str | None = None  # loaded on first use: Redis may be down at start-up

    def _entity(self, kind: str, value: str) -> str:
        return f"{self.prefix}{{{kind}:{value}}}:"

    def _calls(self, obs: Observation) -> list[_Call]:
        calls: list[_Call] = []
        sources = obs.sources()
        for dimension, value in sources.items():
            if not value:
                continue
            base = self._entity(dimension, value)
            members = {
                "attempts": obs.attempt_id if obs.counts_attempt else "",
                "failures": obs.attempt_id if obs.failed else "",
                "distinct_keys": obs.key_id,
                "invalid_keys": (obs.key_token or obs.attempt_id) if obs.invalid else "",
            }
            keys = [base + counter for counter in _COUNTERS]
            row = [members[counter] for counter in _COUNTERS]
            features = [f"{dimension}_{counter}_{window}" for counter in _COUNTERS for window in WINDOWS]
            set_members = {
                "ips": obs.ip,
                "subnets": sources["subnet"],
                "users": obs.user_id,
                "countries": obs.country,
            }
            for name, feature in _SETS[dimension]:
                keys.append(base + name)
                row.append(set_members[name])
                features.append(feature)
            if dimension == "user" and obs.batch_id:
                keys.append(f"{base}batch:{obs.batch_id}")
                row.append(obs.key_id)
                features.append("user_batch_keys_24h")
            calls.append(_Call(keys, row, len(_COUNTERS), features))
        return calls

    def _send(self, calls: list[_Call], now: float, *, read: bool, extra=None) -> list:
        """Run the calls (and ``extra(pipe)`` commands) in one pipelined round trip; loads the
        script once if Redis does not know it yet (first call, or after a Redis restart)."""
        for attempt in (1, 2):
            if self._sha is None:
                self._sha = self.client.script_load(_SCRIPT)
            pipe = self.client.pipeline(transaction=False)
            flag = "1" if read else "0"
            for call in calls:
                pipe.evalsha(self._sha, len(call.keys), *call.keys, now, flag, call.windowed, *call.members)
            if extra is not None:
                extra(pipe)
            try:
                return pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                self._sha = None
        return []  # not reached

    def observe(self, obs: Observation, now: float | None = None) -> Observed:
        """Record ``obs`` and return its velocity features (the current attempt counts itself),
        the key's sale time if a key.sold said, and the block list's version, all in one round
        trip."""
        now = now if now is not None else datetime.now(UTC).timestamp()
        calls = self._calls(obs)
        retailer = self._entity("retailer", obs.retailer_id) if obs.retailer_id else None
        disputed = {
            feature: self._entity(source, value) + "disputed"
            for source, value in obs.sources().items()
            if (feature := DISPUTED_FEATURES.get(source)) and value
        }

        def extra(pipe) -> None:
            # Plain commands of one key each: cluster-safe like the script calls.
            pipe.get(self._blocks_version_key)
            for key in disputed.values():
                pipe.zcount(key, now - DISPUTE_WINDOW, "+inf")
            if retailer:
                pipe.zcount(retailer + "revoked", now - DAY, "+inf")
                pipe.zcount(retailer + "sold", now - RETAILER_WINDOW, "+inf")
                pipe.zcount(retailer + "charged_back", now - RETAILER_WINDOW, "+inf")
            if obs.key_id:
                pipe.get(self._sold_key(obs.key_id))
                pipe.get(self._order_key(obs.key_id))

        results = self._send(calls, now, read=True, extra=extra)
        counts: dict[str, int] = dict.fromkeys(ALL_FEATURES, 0)
        for call, values in zip(calls, results, strict=False):
            for name, value in zip(call.features, values.split(), strict=True):
                counts[name] = int(value)
        blocks_version, *rest = results[len(calls) :]
        for feature in disputed:
            counts[feature] = int(rest.pop(0))
        if retailer:
            counts["retailer_revoked_keys_24h"] = int(rest.pop(0))
            sold, charged_back = int(rest.pop(0)), int(rest.pop(0))
            counts["retailer_sold_keys_30d"] = sold
            counts["retailer_charged_back_keys_30d"] = charged_back
            counts["retailer_chargeback_percent_30d"] = 100 * charged_back // sold if sold else 0
        sold_raw = order = None
        if obs.key_id:
            sold_raw, order = rest.pop(0), rest.pop(0)
        sold_at = datetime.fromtimestamp(float(sold_raw), UTC) if sold_raw else None
        if order and obs.country and not obs.failed:
            counts["order_distinct_countries_10m"] = self._order_countries(order, obs.country, now)
        return Observed(counts, sold_at, blocks_version)

    def _order_countries(self, order: str | bytes, country: str, now: float) -> int:
        """Add this redemption's country to its order's and count the order's countries in the
        last 10 minutes (a second round trip, only for keys sold in a retailer's order)."""
        order = order.decode() if isinstance(order, bytes) else order
        key = f"{self._entity('order', order)}countries"
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {country: now})
        pipe.zremrangebyscore(key, "-inf", now - ORDER_WINDOW)
        pipe.expire(key, ORDER_WINDOW + 60)
        pipe.zcount(key, now - ORDER_WINDOW, "+inf")
        return int(pipe.execute()[-1])

    # The block list's version: a token that changes whenever a block is added or lifted
    # (antifraud.blocklist). Absent after Redis lost its data: the first instance to notice
    # sets one.

    @property
    def _blocks_version_key(self) -> str:
        return f"{self.prefix}blocks:version"

    def new_blocks_version(self) -> None:
        self.client.set(self._blocks_version_key, uuid.uuid4().hex)

    def blocks_version(self) -> str:
        """The current token, set first if there is none."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._blocks_version_key, uuid.uuid4().hex, nx=True)
        pipe.get(self._blocks_version_key)
        return pipe.execute()[1]

    def record_event(self, obs: Observation, now: float) -> None:
        self._send(self._calls(obs), now, read=False)

    def _sold_key(self, key_id: str) -> str:
        return f"{self.prefix}sold:{key_id}"

    def _order_key(self, key_id: str) -> str:
        return f"{self.prefix}order-of:{key_id}"

    def record_sale(
        self,
        key_ids: list[str],
        sold_at: datetime,
        *,
        retailer_id: str | None = None,
        order_id: str | None = None,
    ) -> None:
        """When each key was sold; for a retailer's order also which order (for the countries its
        keys are redeemed from) and the retailer's sold keys (for its chargeback rate)."""
        pipe = self.client.pipeline(transaction=False)
        for key_id in key_ids:
            pipe.set(self._sold_key(key_id), str(sold_at.timestamp()), ex=SALE_TTL)
            if retailer_id and order_id:
                pipe.set(self._order_key(key_id), f"{retailer_id}|{order_id}", ex=SALE_TTL)
        if retailer_id:
            self._add_windowed(
                pipe,
                f"{self._entity('retailer', retailer_id)}sold",
                key_ids,
                sold_at.timestamp(),
                RETAILER_WINDOW,
            )
        pipe.execute()

    @staticmethod
    def _add_windowed(pipe, key: str, members: list[str], now: float, window: int) -> None:
        pipe.zadd(key, dict.fromkeys(members, now))
        pipe.zremrangebyscore(key, "-inf", now - window)
        pipe.expire(key, window + 3_600)

    def record_dispute(self, obs: Observation, at: datetime) -> None:
        """A disputed activation (``obs.attempt_id`` the activation) counts against its account,
        network and device for 90 days."""
        pipe = self.client.pipeline(transaction=False)
        for source, value in obs.sources().items():
            if source in DISPUTED_FEATURES and value:
                self._add_windowed(
                    pipe,
                    self._entity(source, value) + "disputed",
                    [obs.attempt_id],
                    at.timestamp(),
                    DISPUTE_WINDOW,
                )
        pipe.execute()

    def record_chargebacks(self, retailer_id: str, key_ids: list[str], at: datetime) -> None:
        """Keys of a retailer's orders charged back, for its chargeback rate (30 days)."""
        pipe = self.client.pipeline(transaction=False)
        self._add_windowed(
            pipe,
            f"{self._entity('retailer', retailer_id)}charged_back",
            key_ids,
            at.timestamp(),
            RETAILER_WINDOW,
        )
        pipe.execute()

    def record_revocations(self, retailer_id: str, key_ids: list[str], at: datetime) -> None:
        """Keys of a retailer's sales that were returned or revoked (chargebacks, refunds), for
        ``retailer_revoked_keys_24h``: one set per retailer, members are key ids."""
        key = f"{self._entity('retailer', retailer_id)}revoked"
        now = at.timestamp()
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, dict.fromkeys(key_ids, now))
        pipe.zremrangebyscore(key, "-inf", now - DAY)
        pipe.expire(key, TTL)
        pipe.execute()


ALL_FEATURES: tuple[str, ...] = (
    *(f"{d}_{c}_{w}" for d in ("user", "ip", "subnet", "device") for c in COUNTERS for w in WINDOWS),
    *(feature for sets in _SETS.values() for _, feature in sets),
    *EXTRA_FEATURES,
)
