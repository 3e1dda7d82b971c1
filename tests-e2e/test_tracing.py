"""One trace from the gateway's traceparent through the services a redemption touches: the
activation-gateway continues it, its calls carry it to key-manager and antifraud, each logs its
request with the trace id, and every event the redemption causes carries it, as the envelope's
traceId and as the record's traceparent header (gamekeys_platform.tracing)."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import platform_client as pc

ROOT = Path(__file__).resolve().parents[1]

GATEWAY_SPAN_ID = "00f067aa0ba902b7"


def api_log_lines(service: str, trace_id: str) -> list[dict]:
    """The JSON lines of a service's API log (`make run` writes .local/log/<service>-api.log)
    that carry ``trace_id``."""
    found = []
    with (ROOT / ".local" / "log" / f"{service}-api.log").open(errors="replace") as log:
        for line in log:
            if trace_id in line and line.startswith("{"):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("traceId") == trace_id:
                    found.append(entry)
    return found


def test_a_redemption_keeps_the_gateways_trace_through_calls_logs_and_events(caller, events, seen_keys):
    studio, game = pc.create_verified_game(f"E2E Trace Studio {uuid.uuid4().hex[:6]}")
    key = pc.generate_keys(studio, game["gameId"], 1)["keys"][0]
    seen_keys.add(key["key"])
    trace_id = uuid.uuid4().hex
    player = caller(roles=["user"])
    response = player.session.post(
        f"{pc.GATEWAY}/api/v1/activations/redeem",
        json={"key": key["key"], "userRegion": "DE", "deviceInfo": {"fingerprint": uuid.uuid4().hex}},
        headers={
            "traceparent": f"00-{trace_id}-{GATEWAY_SPAN_ID}-01",
            "X-Forwarded-For": "10." + ".".join(str(random.randint(1, 254)) for _ in range(3)),
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "activated"

    caused = [
        events.wait("activations.events", "activation.succeeded", keyId=key["id"])[0],
        events.wait("keys.events", "key.activated", subject=key["id"])[0],  # key-manager, called over HTTP
        events.wait("antifraud.events", "fraud.assessed", keyId=key["id"])[0],  # antifraud, called over HTTP
    ]
    for event in caused:
        assert event["traceId"] == trace_id, event
        traceparent = events.header(event, "traceparent")
        assert traceparent is not None and traceparent.startswith(f"00-{trace_id}-"), (
            event["type"],
            traceparent,
        )
        assert traceparent.split("-")[2] != GATEWAY_SPAN_ID  # the relay's own span, a child in the trace

    for service, route in (
        ("activation-gateway", "/api/v1/activations/redeem"),
        ("key-manager", None),
        ("antifraud", "/api/v1/antifraud/analyze"),
    ):
        requests_logged = [
            line for line in api_log_lines(service, trace_id) if line.get("message") == "request"
        ]
        assert requests_logged, f"{service} logged no request of the trace"
        if route is not None:
            assert route in {line.get("route") for line in requests_logged}, requests_logged
