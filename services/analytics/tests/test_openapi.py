"""/openapi.json is complete (summaries, 4xx answers with §3's schema, auth) and the service
answers within it: schemathesis in process, statuses included."""

from __future__ import annotations

from gamekeys_platform.testing import check_operations_in_process, openapi_problems


def test_every_operation_is_documented(app):
    assert openapi_problems(app) == []


def test_answers_stay_within_the_spec(app, make_token):
    person = make_token(roles=("developer", "admin", "support", "user"), scopes=())
    service = make_token(sub="developer-portal", roles=(), scopes=("analytics:read",))

    def headers(path: str) -> dict[str, str]:
        token = service if path.startswith("/internal/") else person
        return {"Authorization": f"Bearer {token}"}

    failures = check_operations_in_process(app, headers)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_every_route_is_listed(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths) == {
        "/api/v1/analytics/games/{game_id}",
        "/api/v1/analytics/summary",
        "/api/v1/analytics/games/{game_id}/activations",
        "/api/v1/analytics/games/{game_id}/regions",
        "/api/v1/analytics/games/{game_id}/key-types",
        "/api/v1/analytics/games/{game_id}/trends",
        "/api/v1/analytics/games/{game_id}/forecast",
        "/api/v1/analytics/batches/{batch_id}/performance",
        "/api/v1/analytics/retailers/{retailer_id}/performance",
        "/api/v1/analytics/keys/{key_id}/timeline",
        "/api/v1/analytics/fraud/statistics",
        "/internal/v1/analytics/keys/{key_id}/timeline",
        "/internal/v1/analytics/developers/{developer_id}/games/{game_id}",
        "/internal/v1/analytics/developers/{developer_id}/summary",
    }
    assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "clickhouse": "ok"}
