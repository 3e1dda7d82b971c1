def test_openapi_lists_every_route_and_health_works(client):
    spec = client.get("/openapi.json").get_json()
    paths = set(spec["paths"])
    for path in (
        "/api/v1/antifraud/analyze",
        "/api/v1/antifraud/rules",
        "/api/v1/antifraud/rules/backtest",
        "/api/v1/antifraud/cases",
        "/api/v1/antifraud/cases/{case_id}/decision",
        "/api/v1/antifraud/blocks",
        "/api/v1/antifraud/activities/{activity_id}/block",
        "/api/v1/antifraud/users/{user_id}/suspicious-activity",
        "/api/v1/antifraud/statistics",
    ):
        assert path in paths, path
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz").get_json()
    assert ready["checks"] == {"database": "ok", "geoip": "ok"}
    assert ready["details"]["geoip"]["sources"]["registry"]["data"].startswith("iptocc ")
