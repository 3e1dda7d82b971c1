"""/openapi.json is complete (summaries, 4xx answers with §3's schema, Idempotency-Key, auth)
and the service answers within it: schemathesis in process, statuses included."""

from __future__ import annotations

from gamekeys_platform.testing import check_operations_in_process, openapi_problems


def test_every_operation_is_documented(app):
    assert openapi_problems(app) == []


def test_answers_stay_within_the_spec(app, make_token):
    token = make_token(roles=("developer", "admin", "support", "user"), scopes=())
    failures = check_operations_in_process(app, lambda path: {"Authorization": f"Bearer {token}"})
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
