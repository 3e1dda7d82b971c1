"""/openapi.json is complete (summaries, 4xx answers with §3's schema, Idempotency-Key, auth)
and the service answers within it: schemathesis in process, statuses included."""

from __future__ import annotations

from gamekeys_platform.testing import check_operations_in_process, openapi_problems

# This app's ANALYTICS_URL answers nothing (a 503 schemathesis counts as a server error):
# test_api_analytics fuzzes these against a portal wired to the real analytics service.
ANALYTICS_OPERATIONS = frozenset(
    {
        ("GET", "/api/v1/developer/analytics/summary"),
        ("GET", "/api/v1/developer/analytics/games/{game_id}"),
        ("GET", "/api/v1/developer/analytics/reports"),
    }
)


def test_every_operation_is_documented(app):
    assert openapi_problems(app) == []


def test_answers_stay_within_the_spec(app, make_token):
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    assert all(method.lower() in paths.get(path, {}) for method, path in ANALYTICS_OPERATIONS)
    token = make_token(roles=("developer", "admin", "support", "user"))
    failures = check_operations_in_process(
        app, lambda path: {"Authorization": f"Bearer {token}"}, exclude=ANALYTICS_OPERATIONS
    )
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
