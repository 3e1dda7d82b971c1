"""Antifraud decisions on labelled synthetic traffic (issue 5): legitimate players plus brute
force, device farms, VPN region bypass and reseller bursts, fed through POST /analyze (the
real app in-process through its test client: this measures decisions, not speed) with the
default rules, on a fresh scratch database and a Redis key prefix of its own. Asserts nothing.

    .venv/bin/python bench/fraud_scenarios.py [--seed 7] [--scale 1.0]

A positive is a REVIEW or BLOCK. Per scenario (every request of it is labelled fraud):
recall = its requests flagged / its requests; "actors caught" = attackers with at least one
flagged request. Precision per scenario is that of its detector: of the flagged requests on
which one of the scenario's own rules fired, the share that really belong to the scenario.
The false-positive rate is flagged legitimate requests / legitimate requests.

IPs come from the sample ranges the service ships (gamekeys_platform/data/ip_ranges.csv):
192.0.2.0/24 DE, 198.51.100.0/24 US, 203.0.113.0/25 RU (residential), 203.0.113.128/25 RU VPN,
198.18.0.0/16 NL datacenter, 198.19.0.0/16 US VPN, 2001:db8::/48 FR (residential, one /64 per
household), 2001:db8:ffff::/48 FR datacenter, 10.0.0.0/8 no country. Every actor's requests keep
their order; actors are interleaved at random, so the whole run is "one busy hour" compressed
into seconds (the 1-minute windows therefore see more than they would in real time).

A second, separate phase (its own Redis prefix) puts legitimate players behind one shared /24
(a campus or carrier-grade NAT pool, one address each) with the same typo rate, to show what
the subnet-level velocity features do to them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis

from gamekeys_platform import devkeys
from gamekeys_platform.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "antifraud"
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

LEGIT = "legitimate"
SCENARIO_RULES = {
    "brute force": {"key-enumeration", "brute-force"},
    "device farm": {"device-farm"},
    "VPN region bypass": {"region-mismatch", "vpn-region-locked"},
    "reseller burst": {"key-hoarding", "instant-resale-activation"},
}
TYPO_RATE = 0.04  # legitimate players who mistype a key once before the right one


@dataclass
class Actor:
    scenario: str
    requests: list[dict] = field(default_factory=list)


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = datetime.now(UTC)

    # ------------------------------------------------------------------------------ addresses
    def ip(self, kind: str) -> str:
        r = self.rng.randint
        return {
            "DE": lambda: f"192.0.2.{r(1, 254)}",
            "US": lambda: f"198.51.100.{r(1, 254)}",
            "RU": lambda: f"203.0.113.{r(1, 127)}",
            "FR": lambda: f"2001:db8:0:{r(1, 65535):x}::{r(1, 65535):x}",
            "unknown": lambda: f"10.{r(0, 255)}.{r(0, 255)}.{r(1, 254)}",
            "datacenter-NL": lambda: f"198.18.{r(0, 255)}.{r(1, 254)}",
            "datacenter-FR": lambda: f"2001:db8:ffff:{r(1, 65535):x}::{r(1, 65535):x}",
            "vpn-US": lambda: f"198.19.{r(0, 255)}.{r(1, 254)}",
            "vpn-RU": lambda: f"203.0.113.{r(128, 254)}",
        }[kind]()

    def body(
        self,
        *,
        user: str,
        ip: str,
        device: str,
        user_region: str | None,
        key_regions: list[str],
        batch: str | None = None,
        retailer: str | None = None,
        sold_seconds_ago: float | None = None,
        outcome: str = "valid",
        account_days: int = 400,
        attempts: int = 1,
        failures: int = 0,
    ) -> dict:
        context: dict = {
            "ipAddress": ip,
            "keyRegions": key_regions,
            "gameId": str(uuid.uuid4()),
            "batchId": batch or str(uuid.uuid4()),
            "keyType": "retail",
            "platform": self.rng.choice(["windows", "windows", "steamdeck", "linux"]),
            "keyOutcome": outcome,
            "accountCreatedAt": (self.now - timedelta(days=account_days, hours=1)).isoformat(),
        }
        if user_region:
            context["userRegion"] = user_region
        if retailer:
            context["retailerId"] = retailer
        if sold_seconds_ago is not None:
            context["soldAt"] = (datetime.now(UTC) - timedelta(seconds=sold_seconds_ago)).isoformat()
        if outcome == "valid":
            key_id: str | None = str(uuid.uuid4())
        else:
            key_id = None
            context["keyFingerprint"] = uuid.uuid4().hex  # a distinct guessed / mistyped key
        return {
            "keyId": key_id,
            "userId": user,
            "activationId": str(uuid.uuid4()),
            "activationContext": context,
            "deviceFingerprint": device,
            "behaviorMetrics": {
                "attemptsInSession": attempts,
                "failedAttemptsInSession": failures,
                "sessionDurationSeconds": self.rng.randint(20, 600),
                "accountAgeDays": account_days,
            },
        }

    # ------------------------------------------------------------------------------ scenarios
    def legitimate(self, n: int, *, home: str | None = None) -> list[Actor]:
        """Single redemptions from residential IPs whose country matches the key; some players
        redeem two or three keys, some on two devices, a few households share a PC (<= 3
        accounts), some buy at a retailer and redeem at once, a few mistype a key first."""
        actors = []
        households: list[tuple[str, str, str]] = []  # (device, ip, country) shared by <= 3 accounts
        for _ in range(n):
            # The sample data has one /24 per country for DE, US and RU: kept at a plausible
            # density there (~40 players an hour); FR is IPv6, a /64 per household.
            country = home or self.rng.choices(["FR", "DE", "US", "RU", "unknown"], [55, 2, 2, 1, 40])[0]
            ip = self.ip(country)
            device = f"dev-{uuid.uuid4().hex}"
            if households and self.rng.random() < 0.05:
                device, ip, country = households.pop()
            elif self.rng.random() < 0.05:
                households.extend([(device, ip, country)] * 2)
            user, actor = str(uuid.uuid4()), Actor(LEGIT)
            region = country if country != "unknown" else self.rng.choice(["DE", "GB", "PL"])
            age = self.rng.choice([0, 2, 30, 200, 900, 2000])
            for k in range(self.rng.choices([1, 2, 3], [85, 12, 3])[0]):
                locked = self.rng.random() < 0.5
                regions = [region, "AT"] if region == "DE" else [region]
                instant = self.rng.random() < 0.15
                retail = instant or self.rng.random() < 0.4
                where = ip
                if k and self.rng.random() < 0.3:  # the same player later on a phone / laptop
                    device, where = f"dev-{uuid.uuid4().hex}", self.ip(country)
                if self.rng.random() < TYPO_RATE:
                    actor.requests.append(
                        self.body(
                            user=user,
                            ip=where,
                            device=device,
                            user_region=region,
                            key_regions=regions if locked else [],
                            outcome="not_found",
                            account_days=age,
                            attempts=1,
                            failures=1,
                        )
                    )
                actor.requests.append(
                    self.body(
                        user=user,
                        ip=where,
                        device=device,
                        user_region=region,
                        key_regions=regions if locked else [],
                        retailer=str(uuid.uuid4()) if retail else None,
                        sold_seconds_ago=self.rng.uniform(5, 50)
                        if instant
                        else (self.rng.uniform(3_600, 30 * 86_400) if retail else None),
                        account_days=age,
                    )
                )
            actors.append(actor)
        return actors

    def brute_force(self, n: int) -> list[Actor]:
        """One source guessing many non-existent keys: 30-120 guesses each. Two thirds keep one
        account, IP and device; a third rotate throw-away accounts (same IP and device)."""
        actors = []
        for i in range(n):
            actor = Actor("brute force")
            ip = self.ip(self.rng.choice(["unknown", "unknown", "datacenter-NL", "vpn-US", "FR"]))
            device, user = f"dev-{uuid.uuid4().hex}", str(uuid.uuid4())
            for attempt in range(self.rng.randint(30, 120)):
                if i % 3 == 2:
                    user = str(uuid.uuid4())
                outcome = "not_found" if self.rng.random() < 0.8 else "invalid_format"
                actor.requests.append(
                    self.body(
                        user=user,
                        ip=ip,
                        device=device,
                        user_region="US",
                        key_regions=[],
                        outcome=outcome,
                        account_days=self.rng.randint(0, 30),
                        attempts=attempt + 1,
                        failures=attempt,
                    )
                )
            actors.append(actor)
        return actors

    def device_farm(self, n: int) -> list[Actor]:
        """Many accounts (15-60) on one device fingerprint, each redeeming one valid key; the
        farm rotates IPs through a proxy pool (a new address per account)."""
        actors = []
        for _ in range(n):
            actor = Actor("device farm")
            device = f"dev-{uuid.uuid4().hex}"
            pool = self.rng.choice(["unknown", "datacenter-NL", "FR"])
            for _ in range(self.rng.randint(15, 60)):
                actor.requests.append(
                    self.body(
                        user=str(uuid.uuid4()),
                        ip=self.ip(pool),
                        device=device,
                        user_region="DE",
                        key_regions=[],
                        account_days=self.rng.randint(0, 3),
                    )
                )
            actors.append(actor)
        return actors

    def vpn_bypass(self, n: int) -> list[Actor]:
        """Region-locked keys bought cheap elsewhere (RU, US) redeemed from datacenter / VPN
        addresses or from a residential IP of another country, claiming the key's region."""
        actors = []
        for _ in range(n):
            actor = Actor("VPN region bypass")
            key_region = self.rng.choice(["RU", "US"])
            via = self.rng.choice(["datacenter-NL", "datacenter-FR", "vpn-US", "vpn-RU", "DE", "FR"])
            ip, device = self.ip(via), f"dev-{uuid.uuid4().hex}"
            actor.requests.append(
                self.body(
                    user=str(uuid.uuid4()),
                    ip=ip,
                    device=device,
                    user_region=key_region,
                    key_regions=[key_region],
                    retailer=str(uuid.uuid4()),
                    sold_seconds_ago=self.rng.uniform(600, 86_400),
                    account_days=self.rng.randint(1, 900),
                )
            )
            actors.append(actor)
        return actors

    def reseller_burst(self, n: int) -> list[Actor]:
        """A reseller's account activating 8-30 keys of one batch seconds after the retailer
        sale, from one residential IP and device."""
        actors = []
        for _ in range(n):
            actor = Actor("reseller burst")
            country = self.rng.choice(["DE", "US", "FR", "unknown"])
            user, ip, device = str(uuid.uuid4()), self.ip(country), f"dev-{uuid.uuid4().hex}"
            batch, retailer = str(uuid.uuid4()), str(uuid.uuid4())
            for _ in range(self.rng.randint(8, 30)):
                actor.requests.append(
                    self.body(
                        user=user,
                        ip=ip,
                        device=device,
                        user_region="DE",
                        key_regions=[],
                        batch=batch,
                        retailer=retailer,
                        sold_seconds_ago=self.rng.uniform(2, 40),
                        account_days=self.rng.randint(30, 900),
                    )
                )
            actors.append(actor)
        return actors


def interleave(rng: random.Random, actors: list[Actor]) -> list[tuple[int, dict]]:
    """All requests, each actor's in order, actors interleaved at random."""
    cursors = [0] * len(actors)
    tickets = [i for i, actor in enumerate(actors) for _ in actor.requests]
    rng.shuffle(tickets)
    out = []
    for i in tickets:
        out.append((i, actors[i].requests[cursors[i]]))
        cursors[i] += 1
    return out


def run(client, headers: dict, rng: random.Random, actors: list[Actor]) -> list[tuple[int, str, list[str]]]:
    """(actor index, action, active rules hit) per request, in the order sent."""
    out = []
    for i, body in interleave(rng, actors):
        response = client.post("/api/v1/antifraud/analyze", json=body, headers=headers)
        if response.status_code != 200:
            code = ((response.get_json(silent=True) or {}).get("error") or {}).get("code", "")
            out.append((i, f"HTTP {response.status_code} {code}".rstrip(), []))
            continue
        score = response.get_json()
        out.append((i, score["recommendedAction"], [h["id"] for h in score["rulesHit"] if not h["shadow"]]))
    return out


def report(actors: list[Actor], results: list[tuple[int, str, list[str]]]) -> None:
    by_scenario: dict[str, Counter] = defaultdict(Counter)
    caught: dict[str, set[int]] = defaultdict(set)
    fired_on: dict[str, Counter] = defaultdict(Counter)  # detector -> scenario of flagged requests
    legit_rules: Counter = Counter()
    errors: Counter = Counter()
    for i, action, rules in results:
        scenario = actors[i].scenario
        if action.startswith("HTTP"):
            errors[action] += 1
            continue
        positive = action in ("REVIEW", "BLOCK")
        by_scenario[scenario]["requests"] += 1
        by_scenario[scenario][action] += 1
        if positive:
            by_scenario[scenario]["flagged"] += 1
            caught[scenario].add(i)
            for detector, own in SCENARIO_RULES.items():
                if own & set(rules):
                    fired_on[detector][scenario] += 1
            if scenario == LEGIT:
                legit_rules.update(rules)
    actor_counts = Counter(actor.scenario for actor in actors)
    print(f"{'scenario':20} {'requests':>8} {'ALLOW':>6} {'REVIEW':>6} {'BLOCK':>6} {'recall':>7} "
          f"{'precision':>9} {'actors caught':>14}")  # fmt: skip
    for scenario in SCENARIO_RULES:
        c = by_scenario[scenario]
        detector = fired_on[scenario]
        precision = detector[scenario] / sum(detector.values()) if detector else float("nan")
        print(
            f"{scenario:20} {c['requests']:8,} {c['ALLOW']:6,} {c['REVIEW']:6,} {c['BLOCK']:6,} "
            f"{c['flagged'] / max(1, c['requests']):7.3f} {precision:9.3f} "
            f"{len(caught[scenario]):>6}/{actor_counts[scenario]:<7}"
        )
    legit = by_scenario[LEGIT]  # positive = REVIEW or BLOCK
    fraud = sum(by_scenario[s]["flagged"] for s in SCENARIO_RULES)
    print(
        f"{LEGIT:20} {legit['requests']:8,} {legit['ALLOW']:6,} {legit['REVIEW']:6,} {legit['BLOCK']:6,}"
        f"   false-positive rate {legit['flagged'] / max(1, legit['requests']):.4f} "
        f"({legit['flagged']} requests, {len(caught[LEGIT])}/{actor_counts[LEGIT]} players)"
    )
    print(f"overall precision (fraud / all flagged): {fraud / max(1, fraud + legit['flagged']):.3f}"
          f"   errors: {sum(errors.values())} {dict(errors) if errors else ''}".rstrip())  # fmt: skip
    if legit_rules:
        print(f"rules behind the legitimate false positives: {dict(legit_rules.most_common())}")


def first_flag_positions(actors: list[Actor], results, scenario: str) -> str:
    """For multi-request attackers: at which of their own requests the first flag came."""
    seen: Counter = Counter()
    first: dict[int, int] = {}
    for i, action, _ in results:
        if actors[i].scenario != scenario:
            continue
        seen[i] += 1
        if action in ("REVIEW", "BLOCK") and i not in first:
            first[i] = seen[i]
    positions = Counter(first.values())
    return ", ".join(f"#{k}: {v}" for k, v in sorted(positions.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every population")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    name = f"gk_bench_{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:8]
    prefixes = [f"afbench:{tag}:a:", f"afbench:{tag}:b:"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    keys_dir = Path(tempfile.mkdtemp(prefix="gk-bench-keys-"))
    app = None
    try:
        upgrade_to_head(SERVICE / "alembic.ini", url)
        devkeys.ensure_key_pair(keys_dir)
        from antifraud.app import create_app
        from antifraud.settings import get_settings

        settings = get_settings(
            service_name="antifraud", environment="local", log_level="ERROR", database_url=url,
            redis_url=REDIS_URL, kafka_bootstrap_servers=KAFKA, jwt_issuer=devkeys.DEV_ISSUER,
            jwt_audience=devkeys.DEV_AUDIENCE, jwt_public_key_file=keys_dir / devkeys.PUBLIC_KEY_FILE,
            antifraud_velocity_prefix=prefixes[0], antifraud_events_topic=f"bench.{tag}.antifraud.events",
            activations_events_topic=f"bench.{tag}.activations.events",
            keys_events_topic=f"bench.{tag}.keys.events", geoip_sample_ranges=True,
        )  # fmt: skip
        app = create_app(settings)
        client = app.test_client()
        token = devkeys.mint_token(
            (keys_dir / devkeys.PRIVATE_KEY_FILE).read_text(), sub="activation-gateway",
            scopes=["fraud:analyze"], issuer=devkeys.DEV_ISSUER, audience=devkeys.DEV_AUDIENCE,
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        gen = Generator(rng)

        def scaled(n: int) -> int:
            return max(1, round(n * args.scale))

        actors = (
            gen.legitimate(scaled(1_500))
            + gen.brute_force(scaled(15))
            + gen.device_farm(scaled(15))
            + gen.vpn_bypass(scaled(150))
            + gen.reseller_burst(scaled(15))
        )
        started = time.perf_counter()
        results = run(client, headers, rng, actors)
        elapsed = time.perf_counter() - started
        print(f"phase 1: {len(results):,} analyses in {elapsed:.1f} s, default rules")
        report(actors, results)
        for scenario in ("brute force", "device farm", "reseller burst"):
            positions = first_flag_positions(actors, results, scenario)
            print(f"  {scenario}: first flagged at the attacker's own request {positions}")

        # Phase 2: legitimate players behind one shared /24, one address each, same typo rate.
        app.extensions["antifraud"].velocity.prefix = prefixes[1]
        shared = gen.legitimate(scaled(200), home="unknown")
        subnet = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        for n, actor in enumerate(shared):
            for body in actor.requests:
                body["activationContext"]["ipAddress"] = f"{subnet}.{n % 254 + 1}"
        results = run(client, headers, rng, shared)
        flagged = [r for r in results if r[1] in ("REVIEW", "BLOCK")]
        rules = Counter(rule for r in flagged for rule in r[2])
        typos = sum(1 for a in shared for b in a.requests if b["activationContext"]["keyOutcome"] != "valid")
        print(
            f"phase 2: {len(shared)} legitimate players behind one shared /24 ({len(results)} requests, "
            f"{typos} mistyped keys): false-positive rate {len(flagged) / max(1, len(results)):.4f} "
            f"({sum(1 for r in flagged if r[1] == 'BLOCK')} BLOCK); rules: {dict(rules.most_common())}"
        )
    finally:
        if app is not None:
            app.extensions["antifraud"].db.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client_redis = redis.Redis.from_url(REDIS_URL)
        batch = []
        for key in client_redis.scan_iter(f"afbench:{tag}:*", count=5000):
            batch.append(key)
            if len(batch) >= 1000:
                client_redis.unlink(*batch)
                batch.clear()
        if batch:
            client_redis.unlink(*batch)
        shutil.rmtree(keys_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
