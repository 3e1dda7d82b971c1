"""Races decided by the database, over a real threaded HTTP server: two admins demoting each
other at once leave one admin, concurrent creations of one title leave one game."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from dp_testkit import PREFIX, expect

from gamekeys_platform.testing import serving


@pytest.fixture(scope="module")
def live_url(app):
    with serving(app) as url:
        yield url + PREFIX


def race(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def auth(actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {actor.token}"}


def test_two_admins_demoting_each_other_leave_one_admin(portal, live_url):
    for _ in range(5):
        first, _developer = portal.studio()
        second = portal.member(first, "admin")
        responses = race(
            [
                lambda a=first, b=second: requests.put(
                    f"{live_url}/accounts/me/team/{b.user_id}",
                    json={"role": "developer"},
                    headers=auth(a),
                    timeout=10,
                ),
                lambda a=second, b=first: requests.put(
                    f"{live_url}/accounts/me/team/{b.user_id}",
                    json={"role": "developer"},
                    headers=auth(a),
                    timeout=10,
                ),
            ]
        )
        assert sorted(r.status_code for r in responses) in ([200, 403], [200, 409]), [
            r.text for r in responses
        ]
        team = expect(first.get("/accounts/me/team"), 200)["items"]
        assert [m["role"] for m in team].count("admin") == 1


def test_concurrent_creations_of_one_title_make_one_game(portal, live_url):
    admin, _developer = portal.studio()
    title = f"Race {uuid.uuid4().hex[:6]}"
    responses = race(
        [
            lambda: requests.post(f"{live_url}/games", json={"title": title}, headers=auth(admin), timeout=10)
            for _ in range(8)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    assert all(r.json()["error"]["code"] == "CONFLICT" for r in responses if r.status_code == 409)
    titles = [g["title"] for g in expect(admin.get("/games"), 200)["items"]]
    assert titles == [title]
