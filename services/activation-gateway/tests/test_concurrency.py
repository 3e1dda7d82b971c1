"""Bursts through a real threaded server: 200 players redeem one key at the same moment (exactly
one wins, the rest get KEY_ALREADY_ACTIVATED, nobody a 5xx); one player's burst of guesses stops
exactly at the lockout limit."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import requests

from key_manager.domain import codec

API = "/api/v1/activations"


def test_200_concurrent_redemptions_of_one_key(live_server, game, make_token, random_ip, rows, km_app):
    key = game.key()
    players = [str(uuid.uuid4()) for _ in range(200)]
    tokens = {p: make_token(sub=p, roles=("user",)) for p in players}
    barrier = threading.Barrier(len(players))
    results: dict[str, tuple[int, dict]] = {}
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=200))

    def redeem(player: str) -> None:
        body = {
            "key": key["key"],
            "userRegion": "DE",
            "deviceInfo": {"fingerprint": f"dev-{player}", "platform": "windows"},
        }
        headers = {"Authorization": f"Bearer {tokens[player]}", "X-Forwarded-For": random_ip()}
        barrier.wait()
        try:
            response = session.post(f"{live_server}{API}/redeem", json=body, headers=headers, timeout=60)
            results[player] = (response.status_code, response.json())
        except requests.RequestException as exc:  # counted as a failure below
            results[player] = (0, {"exception": type(exc).__name__})

    threads = [threading.Thread(target=redeem, args=(p,)) for p in players]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = Counter(status for status, _ in results.values())
    codes = Counter(
        (body.get("error") or {}).get("code") for status, body in results.values() if status != 200
    )
    assert statuses[200] == 1, (statuses, codes)
    assert statuses[409] == 199 and codes == {"KEY_ALREADY_ACTIVATED": 199}, (statuses, codes)
    [winner] = [p for p, (status, _) in results.items() if status == 200]
    activated = [r for r in rows(key_id=uuid.UUID(key["id"])) if r["status"] == "activated"]
    assert [r["user_id"] for r in activated] == [winner]
    info = km_app.test_client().get(f"/api/v1/keys/{key['id']}", headers=game.developer_auth).get_json()
    assert info["status"] == "activated"


def test_burst_of_guesses_never_overshoots_the_lockout(live_server, make_token, random_ip):
    """40 well-formed guesses by one player at the same moment (each from its own address and
    device): the attempt is counted when it is checked, so exactly the limit (10 an hour per
    account) reach key-manager and the other 30 are locked out, however they interleave."""
    player = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {make_token(sub=player, roles=('user',))}"}
    guesses = [codec.generate_keys(1)[0].decode() for _ in range(40)]
    barrier = threading.Barrier(len(guesses))
    statuses: list[int] = []
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=40))

    def guess(key: str) -> None:
        body = {"key": key, "userRegion": "DE", "deviceInfo": {"fingerprint": f"dev-{uuid.uuid4().hex}"}}
        barrier.wait()
        response = session.post(
            f"{live_server}{API}/redeem",
            json=body,
            headers={**headers, "X-Forwarded-For": random_ip()},
            timeout=60,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(key,)) for key in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(statuses) == {404: 10, 429: 30}
