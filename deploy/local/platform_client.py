"""Calls to the running platform through the local gateway, shared by the demo (`make run`), the
benchmarks under bench/ and the end-to-end tests under tests-e2e/: dev tokens, a caller that
checks statuses, and the main job's steps (a verified studio's game, a batch, a retailer with
keys, a redemption).
"""

from __future__ import annotations

import time
import uuid

import requests

from gamekeys_platform import devkeys

GATEWAY = "http://127.0.0.1:8080"
DEVELOPER_PORTAL = "http://127.0.0.1:8001"  # internal endpoints are never routed by the gateway
KEY_MANAGER = "http://127.0.0.1:8003"


def token(sub: str, *, roles=(), scopes=(), email=None) -> str:
    pair = devkeys.ensure_key_pair(devkeys.keys_dir())
    return devkeys.mint_token(
        pair.private_key_file.read_text(),
        sub=sub,
        roles=roles,
        scopes=scopes,
        email=email,
        issuer=devkeys.DEV_ISSUER,
        audience=devkeys.DEV_AUDIENCE,
    )


class UnexpectedResponse(AssertionError):
    """The platform answered a call with another status than the one expected."""


class Caller:
    def __init__(self, bearer: str, base: str = GATEWAY) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {bearer}"

    def call(self, method: str, path: str, expect: int, **kwargs) -> dict:
        response = self.session.request(method, self.base + path, timeout=30, **kwargs)
        if response.status_code != expect:
            raise UnexpectedResponse(
                f"{method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else {}


def wait_for(read, done, what: str, timeout: float = 90):
    """``read()`` again every half second until ``done(value)``; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}; last seen: {value}")
        time.sleep(0.5)


def create_verified_game(
    company: str, narrate=lambda _text: None, *, owner: str | None = None
) -> tuple[Caller, dict]:
    """A studio registers, the Admin Service verifies it, it creates a game: (studio, game).
    ``owner`` is the registering user's id (a new one by default)."""
    studio = Caller(token(owner or str(uuid.uuid4()), roles=["developer"], email="owner@studio.example"))
    admin_service = Caller(token("admin-service", scopes=["developers:verify"]), base=DEVELOPER_PORTAL)

    narrate("A studio registers")
    account = studio.call(
        "POST",
        "/api/v1/developer/accounts",
        201,
        json={"companyName": company, "legalDetails": {"legalName": f"{company} GmbH", "country": "DE"}},
    )
    developer_id = account["developerId"]
    print(f"  developer {developer_id}: {account['verificationStatus']}")

    narrate("The platform's Admin Service verifies it")
    verified = admin_service.call(
        "POST", f"/internal/v1/developers/{developer_id}/verification", 200, json={"status": "verified"}
    )
    print(f"  verification: {verified['verificationStatus']}")

    narrate("It creates a game")
    title = f"{company} Quest {uuid.uuid4().hex[:4]}"
    game = studio.call("POST", "/api/v1/developer/games", 201, json={"title": title})
    print(f"  game {game['gameId']}: {game['title']} ({game['status']})")
    return studio, game


def publish_game(studio: Caller, game_id: str, version_id: str) -> tuple[dict, dict, dict]:
    """Store page and price, the preflight passing once developer-portal has seen the build ready
    on builds.events, a submission, the Admin Service's approval (its internal call), then
    publishing: (preflight, submission, published game)."""
    path = f"/api/v1/developer/games/{game_id}"
    listing = {
        "description": "Explore, build, survive.",
        "shortDescription": "A demo game.",
        "genres": ["indie"],
    }
    studio.call("PUT", f"{path}/metadata", 200, json=listing)
    studio.call("PUT", f"{path}/pricing", 200, json={"basePrice": {"amount": "19.99", "currency": "EUR"}})
    preflight = wait_for(
        lambda: studio.call("GET", f"{path}/preflight", 200, params={"versionId": version_id}),
        lambda body: body["ready"],
        "the preflight to pass",
    )
    submission = studio.call("POST", f"{path}/versions/{version_id}/submit", 202)
    moderator = Caller(token("admin-service", scopes=["games:moderate"]), base=DEVELOPER_PORTAL)
    moderator.call(
        "POST",
        f"/internal/v1/submissions/{submission['submissionId']}/decision",
        200,
        json={"decision": "approve", "notes": "Looks good."},
    )
    return preflight, submission, studio.call("POST", f"{path}/publish", 200)


def _post_once_game_is_known(studio: Caller, path: str, body: dict, expect: int) -> dict:
    """POST to key-manager, retried for the moments it needs to learn of a new game from
    developer.events (until then the game is unknown to it)."""
    deadline = time.monotonic() + 60
    while True:
        response = studio.session.post(f"{GATEWAY}{path}", json=body, timeout=30)
        if response.status_code == expect or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if response.status_code != expect:
        raise UnexpectedResponse(f"{path} refused: {response.status_code} {response.text[:300]}")
    return response.json()


def order_batch(studio: Caller, game_id: str, quantity: int) -> dict:
    """POST /batches (generated by key-manager's worker)."""
    body = {"gameId": game_id, "keyType": "retail", "quantity": quantity}
    return _post_once_game_is_known(studio, "/api/v1/keys/batches", body, 202)


def generate_keys(studio: Caller, game_id: str, quantity: int, **options) -> dict:
    """POST /generate (synchronous, keys shown once)."""
    body = {"gameId": game_id, "keyType": "promotional", "quantity": quantity, **options}
    return _post_once_game_is_known(studio, "/api/v1/keys/generate", body, 201)


def payment_service_caller() -> Caller:
    """The platform's Payment Service: its service token (scope keys:issue), straight to
    key-manager's internal API (the gateway never routes it)."""
    return Caller(token("payment-service", scopes=["keys:issue"]), base=KEY_MANAGER)


def store_order(
    game_id: str,
    buyer_id: str,
    *,
    quantity: int = 1,
    key_type: str = "gift",
    region: str = "DE",
    order_id=None,
) -> dict:
    """The body of a paid store order for ``POST /internal/v1/keys/issue``."""
    return {
        "orderId": order_id or f"store-{uuid.uuid4().hex[:16]}",
        "gameId": game_id,
        "keyType": key_type,
        "quantity": quantity,
        "buyerId": buyer_id,
        "region": region,
    }


def retailer_with_keys(admin: Caller, name: str, game_id: str, quantity: int) -> tuple[dict, dict]:
    """A platform admin adds a retailer for the game and allocates it ``quantity`` keys."""
    retailer = admin.call(
        "POST",
        "/api/v1/distribution/retailers",
        201,
        json={
            "name": name,
            "contactInfo": {"email": "partners@shop.example"},
            "commissionRate": "0.15",
            "allowedGameIds": [game_id],
        },
    )
    allocation = admin.call(
        "POST",
        "/api/v1/distribution/allocations",
        201,
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "retailerId": retailer["id"],
            "gameId": game_id,
            "quantity": quantity,
            "keyType": "retail",
            "pricing": {"amount": "19.99", "currency": "EUR"},
        },
    )
    return retailer, allocation


def retailer_session(retailer: dict) -> Caller:
    """The retailer's API client, signed in with its OAuth 2.0 client credentials."""
    credentials = retailer["apiCredentials"]
    grant = requests.post(
        f"{GATEWAY}/api/v1/distribution/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["clientId"], credentials["clientSecret"]),
        timeout=30,
    )
    if grant.status_code != 200:
        raise UnexpectedResponse(f"token refused: {grant.status_code} {grant.text[:300]}")
    return Caller(grant.json()["access_token"])


def redeem(key: str, ip: str, region: str, *, caller: Caller | None = None, device: str | None = None):
    """A player redeems ``key`` from address ``ip``; returns (outcome, body), the outcome being the
    redemption's status or the error code. Locally the demo runs beside the gateway, a trusted
    proxy, so it may say which address a player uses."""
    caller = caller or Caller(token(str(uuid.uuid4()), roles=["user"]))
    response = caller.session.post(
        f"{GATEWAY}/api/v1/activations/redeem",
        json={"key": key, "userRegion": region, "deviceInfo": {"fingerprint": device or uuid.uuid4().hex}},
        headers={"X-Forwarded-For": ip},
        timeout=30,
    )
    body = response.json()
    outcome = body.get("status") if response.status_code < 300 else body["error"]["code"]
    return outcome, body
