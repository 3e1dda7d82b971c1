"""/openapi.json is complete (summaries, 4xx answers with §3's schema, Idempotency-Key, auth,
the retailer API's own OAuth scheme) and the service answers within it: schemathesis in
process, statuses included."""

from __future__ import annotations

from gamekeys_platform.testing import check_operations_in_process, openapi_problems


def test_every_operation_is_documented(app):
    assert openapi_problems(app) == []


def test_retailer_routes_name_their_oauth_scheme(app):
    spec = app.test_client().get("/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["retailerOAuth"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/distribution/oauth/token"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected = [{"retailerOAuth": ["retailer"]}] if "/retailer/" in path else None
            if method != "parameters" and not path.endswith("/oauth/token"):
                assert operation.get("security") == expected, (method, path)


def test_answers_stay_within_the_spec(app, make_token, make_retailer, retailer_token):
    platform = {"Authorization": f"Bearer {make_token(roles=('admin', 'support'))}"}
    retailer = retailer_token(make_retailer())
    failures = check_operations_in_process(app, lambda path: retailer if "/retailer/" in path else platform)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
