"""Who may see what, through the gateway: no token, another studio, another retailer; and no
plaintext key in any log."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import platform_client as pc
import pytest
import requests
import run as local_run

LOCAL = local_run.LOCAL
PATH_PARAMETER = re.compile(r"\{[^}]+\}")
# Keys as they might be logged: any case, with or without dashes.
LOGGED_KEY = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z2-9]{4}-?[A-Za-z2-9]{4}-?[A-Za-z2-9]{4}-?[A-Za-z2-9]{4}(?![A-Za-z0-9])"
)


def operations(service: local_run.Service) -> list[tuple[str, str, str]]:
    """(METHOD, path) of every operation the service documents, its path parameters filled in:
    an enum's first value (any other value is no route), a fresh UUID otherwise."""
    spec = requests.get(f"{service.url}/openapi.json", timeout=10).json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            enums = {
                p["name"]: p["schema"]["enum"][0]
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if p.get("in") == "path" and "enum" in p.get("schema", {})
            }
            filled = PATH_PARAMETER.sub(
                lambda m, enums=enums: enums.get(m.group(0)[1:-1], str(uuid.uuid4())), path
            )
            found.append((method.upper(), path, filled))
    return found


def assert_error_body(response: requests.Response, code: str | None = None) -> None:
    error = response.json()["error"]
    assert {"code", "message", "timestamp", "requestId"} <= set(error), error
    assert code is None or error["code"] == code, error
    assert response.headers.get("X-Request-Id")


@pytest.mark.parametrize("service", local_run.services(), ids=lambda service: service.name)
def test_every_endpoint_refuses_a_call_without_a_token(service):
    # The operations are read here, not at collection, when the platform may not be up yet.
    wrong = {}
    for method, path, filled in operations(service):
        url = pc.GATEWAY + filled
        if path.endswith("/oauth/token"):  # the retailers' sign-in: its credentials are the token
            response = requests.post(url, data={"grant_type": "client_credentials"}, timeout=30)
        elif path.endswith("/oidc/token"):  # trusted publishing: the CI's identity token is the credential
            response = requests.post(url, json={"token": "not-an-identity-token"}, timeout=30)
        else:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = requests.request(method, url, json=body, timeout=30)
        if path.endswith("/oauth/token"):  # RFC 6749 §5.2's body there, for OAuth client libraries
            if response.status_code != 401 or response.json().get("error") != "invalid_client":
                wrong[f"{method} {path}"] = f"{response.status_code} {response.text[:200]}"
            continue
        # Internal routes are for services only: the gateway never routes them.
        expected = ("NOT_FOUND", 404) if path.startswith("/internal/") else ("UNAUTHORIZED", 401)
        error = response.json().get("error", {})
        complete = {"message", "timestamp", "requestId"} <= set(error)
        if (error.get("code"), response.status_code) != expected or not complete:
            wrong[f"{method} {path}"] = f"{response.status_code} {response.text[:200]}"
    assert not wrong, wrong


def test_another_studio_sees_nothing_of_a_studio(caller, seen_keys):
    studio, game = pc.create_verified_game(f"E2E Owner {uuid.uuid4().hex[:6]}")
    game_id = game["gameId"]
    batch = pc.order_batch(studio, game_id, 5)
    key = pc.generate_keys(studio, game_id, 1)["keys"][0]
    seen_keys.add(key["key"])
    rival, _ = pc.create_verified_game(f"E2E Rival {uuid.uuid4().hex[:6]}")

    attempts = [
        ("GET", f"/api/v1/developer/games/{game_id}", None),
        ("PUT", f"/api/v1/developer/games/{game_id}", {"title": "Taken over"}),
        ("DELETE", f"/api/v1/developer/games/{game_id}", None),
        ("GET", f"/api/v1/developer/games/{game_id}/metadata", None),
        ("GET", f"/api/v1/developer/games/{game_id}/pricing", None),
        ("GET", f"/api/v1/keys/batches/{batch['batchId']}", None),
        ("GET", f"/api/v1/keys/batches/{batch['batchId']}/keys", None),
        ("POST", f"/api/v1/keys/batches/{batch['batchId']}/revoke", {"reason": "mine now"}),
        ("POST", "/api/v1/keys/batches", {"gameId": game_id, "keyType": "retail", "quantity": 5}),
        ("POST", "/api/v1/keys/generate", {"gameId": game_id, "keyType": "promotional", "quantity": 1}),
        ("GET", f"/api/v1/keys/{key['id']}", None),
        ("POST", f"/api/v1/keys/{key['id']}/revoke", {"reason": "mine now"}),
        ("PATCH", f"/api/v1/keys/{key['id']}/status", {"status": "revoked", "reason": "mine now"}),
        ("GET", f"/api/v1/activations/keys/{key['id']}/status", None),
    ]
    for method, path, body in attempts:
        response = rival.session.request(method, pc.GATEWAY + path, json=body, timeout=30)
        assert response.status_code in (403, 404), (method, path, response.status_code, response.text[:300])
        assert_error_body(response)

    # The owner still has all of it.
    assert studio.call("GET", f"/api/v1/developer/games/{game_id}", 200)["title"] == game["title"]
    assert studio.call("GET", f"/api/v1/keys/{key['id']}", 200)["status"] == "generated"


def test_a_retailer_cannot_touch_another_retailers_keys(caller, seen_keys):
    studio, game = pc.create_verified_game(f"E2E Supplier {uuid.uuid4().hex[:6]}")
    batch = pc.order_batch(studio, game["gameId"], 20)
    while batch["status"] not in ("completed", "failed"):
        batch = studio.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 200)
    admin = caller(roles=["admin"])
    first, _ = pc.retailer_with_keys(admin, f"E2E Shop A {uuid.uuid4().hex[:6]}", game["gameId"], 5)
    second, _ = pc.retailer_with_keys(admin, f"E2E Shop B {uuid.uuid4().hex[:6]}", game["gameId"], 5)
    shop_a, shop_b = pc.retailer_session(first), pc.retailer_session(second)
    keys_a = shop_a.call("GET", "/api/v1/distribution/retailer/keys", 200)["items"]
    keys_b = shop_b.call("GET", "/api/v1/distribution/retailer/keys", 200)["items"]
    seen_keys.add(*(item["key"] for item in keys_a + keys_b))
    ids_a = [item["keyId"] for item in keys_a]
    assert not set(ids_a) & {item["keyId"] for item in keys_b}

    sale = {
        "orderId": f"e2e-steal-{uuid.uuid4().hex[:8]}",
        "keyIds": ids_a[:2],
        "price": {"amount": "9.99", "currency": "EUR"},
        "soldAt": datetime.now(UTC).isoformat(),
    }
    response = shop_b.session.post(f"{pc.GATEWAY}/api/v1/distribution/retailer/sales", json=sale, timeout=30)
    assert response.status_code == 404, response.text[:300]
    assert_error_body(response)
    returned = {"orderId": sale["orderId"], "keyIds": ids_a[:2], "reason": "not mine"}
    response = shop_b.session.post(
        f"{pc.GATEWAY}/api/v1/distribution/retailer/returns", json=returned, timeout=30
    )
    assert response.status_code == 404, response.text[:300]


@pytest.mark.e2e_last
def test_no_plaintext_key_in_any_log_file(seen_keys):
    assert seen_keys.keys, "the suite saw no key, so this check would mean nothing"
    wanted = {key.replace("-", "") for key in seen_keys.keys}
    leaks = {}
    log_files = {*LOCAL.glob("log/**/*"), *LOCAL.glob("**/*.log")}
    for path in sorted(file for file in log_files if file.is_file()):
        text = path.read_text(errors="replace")
        found = {match.replace("-", "").upper() for match in LOGGED_KEY.findall(text)} & wanted
        if found:
            leaks[str(path.relative_to(LOCAL))] = len(found)
    assert not leaks, f"plaintext keys in logs: {leaks}"
