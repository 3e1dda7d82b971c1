"""The app factory: §3 error bodies for every failure, request ids, health, metrics, OpenAPI."""

from __future__ import annotations

import uuid

import pytest
import sample_service
from sqlalchemy import func, select


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["timestamp"].endswith("Z")
    assert error["requestId"] == response.headers["X-Request-Id"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return error


def widget_count(db) -> int:
    with db.transaction() as session:
        return session.execute(select(func.count()).select_from(sample_service.widgets)).scalar_one()


def test_created_widget_can_be_read_back(client):
    created = client.post("/api/v1/widgets", json={"name": f"w-{uuid.uuid4().hex[:8]}", "quantity": 3})
    assert created.status_code == 201
    fetched = client.get(f"/api/v1/widgets/{created.get_json()['id']}")
    assert fetched.status_code == 200
    assert fetched.get_json() == created.get_json()


def test_request_id_is_taken_from_the_request_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    generated = client.get("/healthz")
    assert uuid.UUID(generated.headers["X-Request-Id"])
    hostile = client.get("/healthz", headers={"X-Request-Id": "bad id <script>" + "x" * 200})
    assert uuid.UUID(hostile.headers["X-Request-Id"])


def test_unknown_route_is_not_found(client):
    assert_error(client.get("/nope"), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(client):
    response = client.put("/api/v1/widgets")
    error = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in error["details"]["allowed"]
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400_and_writes_nothing(client, db):
    before = widget_count(db)
    response = client.post("/api/v1/widgets", data='{"name": ', content_type="application/json")
    assert_error(response, 400, "VALIDATION_ERROR")
    assert widget_count(db) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1}, "name"),
        ({"name": "x" * 51, "quantity": 1}, "name"),
        ({"name": "ok", "quantity": 0}, "quantity"),
        ({"name": "ok", "quantity": "many"}, "quantity"),
        ({"name": "ok", "quantity": 1, "colour": "red"}, "colour"),
    ],
)
def test_schema_violations_are_422_naming_the_field(client, db, body, field):
    before = widget_count(db)
    error = assert_error(client.post("/api/v1/widgets", json=body), 422, "VALIDATION_ERROR")
    assert field in error["details"]["fields"]["json"]
    assert widget_count(db) == before


def test_oversized_body_is_413(client):
    response = client.post("/api/v1/widgets", data="x" * 2_000_000, content_type="application/json")
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_unhandled_error_is_500_without_internals_and_rolls_back(client, db):
    before = widget_count(db)
    response = client.post("/api/v1/widgets", json={"name": "explode", "quantity": 1})
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.get_data(as_text=True)
    assert error["message"] == "internal error"
    assert widget_count(db) == before


def test_a_domain_refusal_is_its_codes_error_and_rolls_back(client, db):
    before = widget_count(db)
    error = assert_error(
        client.post("/api/v1/widgets", json={"name": "reserved", "quantity": 1}), 403, "FORBIDDEN"
    )
    assert (error["message"], error["details"]) == ("this name is reserved", {"reason": "reserved_name"})
    assert widget_count(db) == before


def test_api_error_rolls_back_and_keeps_its_status(client):
    name = f"dup-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/v1/widgets", json={"name": name, "quantity": 1}).status_code == 201
    error = assert_error(client.post("/api/v1/widgets", json={"name": name, "quantity": 1}), 409, "CONFLICT")
    assert error["details"] == {"name": name}


def test_delete_missing_is_404(client):
    assert_error(client.delete(f"/api/v1/widgets/{uuid.uuid4()}"), 404, "NOT_FOUND")


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok"}


def test_readiness_shows_what_a_check_reports(settings):
    from gamekeys_platform.app import create_service_app

    app = create_service_app(
        settings, title="details", ready_checks={"data": lambda: {"builtAt": "2026-01-01"}}
    )
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "checks": {"data": "ok"},
        "details": {"data": {"builtAt": "2026-01-01"}},
    }


def test_readiness_fails_with_503_when_a_dependency_is_down(settings):
    from gamekeys_platform.app import create_service_app
    from gamekeys_platform.db import Database

    broken = Database("postgresql://postgres@127.0.0.1:1/none", metadata=sample_service.metadata)
    app = create_service_app(settings, title="broken", ready_checks={"database": broken.ping})
    error = assert_error(app.test_client().get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    assert error["details"]["checks"]["database"].startswith("unavailable")


def test_database_outage_during_a_request_is_503_database_error(settings):
    from gamekeys_platform.app import create_service_app
    from gamekeys_platform.db import Database

    broken = Database("postgresql://postgres@127.0.0.1:1/none", metadata=sample_service.metadata)
    app = create_service_app(settings, title="broken", blueprints=[sample_service.blp])
    broken.init_app(app)
    response = app.test_client().get(f"/api/v1/widgets/{uuid.uuid4()}")
    assert_error(response, 503, "DATABASE_ERROR")


def test_exhausted_connection_pool_is_503_database_error(settings):
    from gamekeys_platform.app import create_service_app
    from gamekeys_platform.db import Database

    busy = Database(
        settings.database_url, metadata=sample_service.metadata, pool_size=1, pool_timeout_seconds=0.2
    )
    app = create_service_app(settings, title="busy", blueprints=[sample_service.blp])
    busy.init_app(app)
    held = [busy.engine.connect(), busy.engine.connect()]  # the pool and its overflow
    try:
        response = app.test_client().get(f"/api/v1/widgets/{uuid.uuid4()}")
        assert_error(response, 503, "DATABASE_ERROR")
    finally:
        for connection in held:
            connection.close()
        busy.dispose()
    assert response.headers["Retry-After"]


def test_metrics_count_requests_by_route_and_status(client):
    client.get("/nope")
    client.get(f"/api/v1/widgets/{uuid.uuid4()}")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'route="/api/v1/widgets/<uuid:widget_id>"' in metrics
    assert 'status="404"' in metrics
    assert "http_request_duration_seconds_bucket" in metrics


def test_openapi_describes_routes_errors_and_bearer_auth(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/api/v1/widgets"]["post"]
    assert "201" in post["responses"] and "422" in post["responses"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "error" in spec["components"]["schemas"]["ErrorResponse"]["properties"]
