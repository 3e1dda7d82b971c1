"""What tracing costs a request, in one process (no running platform needed): a platform app (the
lib's app factory) that calls a second one over HTTP with the lib's ServiceClient, driven by
Flask's test client, with tracing off (the trace context propagated and logged, nothing recorded:
the default) and on (every span recorded and exported by OTLP/HTTP to a receiver in a process of
its own, so receiving costs nothing here). CPU is this process's (both apps, the HTTP server's
threads, the client, the span exporter's thread), per request, from time.process_time(); the
modes alternate over several rounds and the median round is printed. Then the hooks' own costs,
one at a time. The whole platform's figure, per redemption over every process, is
`bench/redeem.py --tracing-cost`'s.

    .venv/bin/python bench/tracing_overhead.py
"""

from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from flask import jsonify

from gamekeys_platform import devkeys, tracing
from gamekeys_platform.app import Blueprint, create_service_app
from gamekeys_platform.http_client import ServiceClient
from gamekeys_platform.settings import PlatformSettings, load_settings
from gamekeys_platform.testing import OtlpReceiver, serving

REQUESTS = 1_000  # per round and mode
WARMUP = 200
ROUNDS = 5

downstream = Blueprint("bench_downstream", __name__, url_prefix="/internal/v1/echo")
front = Blueprint("bench_front", __name__, url_prefix="/api/v1/front")
_state: dict = {}


@downstream.route("", methods=["GET"])
def echo():
    return jsonify(traceId=tracing.current_trace_id())


@front.route("", methods=["GET"])
def call_downstream():
    answer = _state["client"].get("/internal/v1/echo").json()
    return jsonify(traceId=tracing.current_trace_id(), downstream=answer["traceId"])


def settings(name: str, keys: Path) -> PlatformSettings:
    return load_settings(
        PlatformSettings,
        service_name=name,
        environment="test",
        database_url="postgresql://bench@127.0.0.1:5432/unused",  # never connected to
        redis_url="redis://127.0.0.1:6379/0",
        kafka_bootstrap_servers="127.0.0.1:9092",
        jwt_issuer=devkeys.DEV_ISSUER,
        jwt_audience=devkeys.DEV_AUDIENCE,
        jwt_public_key_file=keys / devkeys.PUBLIC_KEY_FILE,
        log_level="WARNING",  # the access log's cost is the same in both modes; keep it out
    )


def cpu_per_request(client, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        response = client.get(
            "/api/v1/front", headers={"traceparent": f"00-{tracing.new_trace_id()}-00f067aa0ba902b7-01"}
        )
        if response.status_code != 200:
            raise SystemExit(f"bench: {response.status_code} {response.get_data(as_text=True)[:300]}")
    tracing.force_flush()  # the exporter's work for these spans happens inside the measurement
    return (time.process_time() - started) / count


def receiver() -> int:
    """Run an OTLP/HTTP receiver until stdin closes; print its URL, then the spans it got."""
    with OtlpReceiver() as running:
        print(running.url, flush=True)
        sys.stdin.read()
        print(len(running.spans), flush=True)
    return 0


def hook_costs() -> list[tuple[str, float]]:
    """Microseconds per call of each hook, tracing off."""
    tracing.configure_tracing(tracing.TracingConfig("bench"))
    headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    record = logging.LogRecord("bench", logging.INFO, __file__, 1, "message", None, None)
    from gamekeys_platform.logs import _ContextFilter

    log_filter = _ContextFilter("bench")

    def span_with_parent():
        with tracing.span(
            "GET /x", kind=tracing.SpanKind.SERVER, parent=tracing.context_from_headers(headers)
        ):
            pass

    def inject_in_span():
        with tracing.span("GET callee", kind=tracing.SpanKind.CLIENT):
            tracing.inject({})

    def log_line_fields():
        with tracing.span("x"):
            log_filter.filter(record)

    cases = [
        ("server span from a traceparent", span_with_parent),
        ("client span + traceparent injected", inject_in_span),
        ("span + a log line's trace fields", log_line_fields),
    ]
    results = []
    for label, function in cases:
        runs = timeit.repeat(function, number=20_000, repeat=5)
        results.append((label, min(runs) / 20_000 * 1e6))
    return results


def main() -> int:
    if sys.argv[1:] == ["--receive"]:
        return receiver()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="gk-bench-tracing-") as workdir:
        keys = Path(workdir)
        devkeys.ensure_key_pair(keys)
        callee = create_service_app(settings("b", keys), title="downstream", blueprints=[downstream])
        app = create_service_app(settings("a", keys), title="front", blueprints=[front])
        sink = subprocess.Popen(  # noqa: S603 - this script, as its receiver
            [sys.executable, __file__, "--receive"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        url = sink.stdout.readline().strip()
        modes = {"off": tracing.TracingConfig("a"), "on": tracing.TracingConfig("a", endpoint=url)}
        results: dict[str, list[float]] = {mode: [] for mode in modes}
        with serving(callee) as callee_url:
            _state["client"] = ServiceClient(callee_url, service_name="downstream")
            client = app.test_client()
            for config in modes.values():
                tracing.configure_tracing(config)
                cpu_per_request(client, WARMUP)
            for _round in range(ROUNDS):
                for mode, config in modes.items():
                    tracing.configure_tracing(config)
                    results[mode].append(cpu_per_request(client, REQUESTS))
            tracing.configure_tracing(modes["off"])  # flushes and stops the exporter
            _state.pop("client").close()
        sink.stdin.close()
        spans = int(sink.stdout.readline() or 0)
        sink.wait(timeout=10)

    off, on = (statistics.median(results[mode]) * 1e6 for mode in ("off", "on"))
    print(
        "one request through a platform app that calls another over HTTP (ServiceClient): 3 spans "
        f"(server, client, callee's server); {REQUESTS:,} requests x {ROUNDS} rounds per mode"
    )
    print(
        f"  CPU per request, this process: tracing off {off:.0f} µs, on (exported) {on:.0f} µs; "
        f"on - off {on - off:+.0f} µs ({(on - off) / off * 100:+.1f} %)"
    )
    rounds = {mode: [round(value * 1e6) for value in values] for mode, values in results.items()}
    print(f"  rounds, µs: off {rounds['off']}, on {rounds['on']}")
    expected = 3 * (REQUESTS * ROUNDS + WARMUP)
    print(f"  spans received by the OTLP receiver: {spans:,} (3 per traced request: {expected:,})")
    print("\nthe hooks, tracing off (µs per call, best of 5 x 20,000)")
    for label, micros in hook_costs():
        print(f"  {label:<40}{micros:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
