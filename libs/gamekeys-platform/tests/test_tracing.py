"""W3C trace context through the platform (``gamekeys_platform.tracing``), with real components:
a request through a real Flask app that calls another over HTTP carries one trace id, and so do
their log lines; an event written by a request, relayed through the real broker and consumed,
keeps it (envelope, Kafka header, the handler's context, a dead letter); spans go to a real
OTLP/HTTP receiver only when an endpoint is configured."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
import requests
import sample_service
from flask import jsonify, request
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from opentelemetry import trace
from sample_service import events as sample_events
from sqlalchemy import select

from gamekeys_platform import tracing
from gamekeys_platform.app import Blueprint, create_service_app
from gamekeys_platform.consumer import EventConsumer
from gamekeys_platform.http_client import ServiceClient
from gamekeys_platform.outbox import Outbox, OutboxRelay, kafka_producer
from gamekeys_platform.request_context import current_request_id
from gamekeys_platform.settings import ConfigError, PlatformSettings, load_settings
from gamekeys_platform.testing import OtlpReceiver, consumer_in_own_group, serving

log = logging.getLogger("gamekeys.test.tracing")

GATEWAY_SPAN_ID = "00f067aa0ba902b7"


def gateway_traceparent(trace_id: str, *, sampled: bool = True) -> str:
    """What the platform's API gateway sends with a request it traces."""
    return f"00-{trace_id}-{GATEWAY_SPAN_ID}-{'01' if sampled else '00'}"


def new_trace_id() -> str:
    return uuid.uuid4().hex


# -- two real services, one calling the other -------------------------------------------------------

downstream_blp = Blueprint("trace_downstream", __name__, url_prefix="/internal/v1/echo")
front_blp = Blueprint("trace_front", __name__, url_prefix="/api/v1/front")
_front_state: dict = {}


@downstream_blp.route("", methods=["GET"])
def echo():
    log.info("downstream handled")
    return jsonify(
        traceId=tracing.current_trace_id(),
        traceparent=request.headers.get("traceparent"),
        requestId=current_request_id(),
        recording=trace.get_current_span().is_recording(),
    )


@front_blp.route("", methods=["GET"])
def front():
    log.info("front calls downstream")
    answer = _front_state["client"].get("/internal/v1/echo").json()
    return jsonify(traceId=tracing.current_trace_id(), requestId=current_request_id(), downstream=answer)


@pytest.fixture(scope="module")
def services(platform_env) -> Iterator[str]:
    """The front service's URL; it calls the downstream service over HTTP with ServiceClient."""
    settings = {
        name: load_settings(PlatformSettings, service_name=name, **platform_env) for name in ("a", "b")
    }
    downstream_app = create_service_app(settings["b"], title="downstream", blueprints=[downstream_blp])
    front_app = create_service_app(settings["a"], title="front", blueprints=[front_blp])
    with serving(downstream_app) as downstream_url, serving(front_app) as front_url:
        _front_state["client"] = ServiceClient(downstream_url, service_name="downstream")
        yield front_url
        _front_state.pop("client").close()


@pytest.fixture()
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """What the platform's log handler (``logs.configure_logging``) has written during the test,
    as parsed JSON lines."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_gamekeys", False))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict]:
        handler.flush()
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]

    try:
        yield lines
    finally:
        handler.setStream(previous)


def test_a_request_and_the_internal_call_it_makes_carry_the_gateways_trace_id(services):
    trace_id = new_trace_id()
    response = requests.get(
        f"{services}/api/v1/front", headers={"traceparent": gateway_traceparent(trace_id)}, timeout=10
    )
    assert response.status_code == 200
    body = response.json()
    assert body["traceId"] == trace_id
    assert body["downstream"]["traceId"] == trace_id
    # The downstream call came from a span of the caller's own (a CLIENT span), in the same trace.
    version, sent_trace_id, parent_span_id, _flags = body["downstream"]["traceparent"].split("-")
    assert (version, sent_trace_id) == ("00", trace_id)
    assert parent_span_id not in (GATEWAY_SPAN_ID, "0" * 16)
    # The request id is passed on as before, beside the trace.
    assert body["downstream"]["requestId"] == body["requestId"] == response.headers["X-Request-Id"]


def test_every_log_line_of_the_request_carries_its_trace_id(services, log_lines):
    trace_id = new_trace_id()
    requests.get(
        f"{services}/api/v1/front", headers={"traceparent": gateway_traceparent(trace_id)}, timeout=10
    )
    time.sleep(0.2)  # the servers' threads finish logging after answering
    ours = [line for line in log_lines() if line.get("traceId") == trace_id]
    messages = {(line["message"], line.get("route")) for line in ours}
    assert ("front calls downstream", None) in messages
    assert ("downstream handled", None) in messages
    assert ("request", "/api/v1/front") in messages
    assert ("request", "/internal/v1/echo") in messages
    assert all(len(line["spanId"]) == 16 for line in ours)


def test_without_a_traceparent_a_trace_starts_and_reaches_the_callee(services):
    first = requests.get(f"{services}/api/v1/front", timeout=10).json()
    second = requests.get(
        f"{services}/api/v1/front", headers={"traceparent": "00-not-a-trace-01"}, timeout=10
    ).json()
    for body in (first, second):
        assert tracing.is_trace_id(body["traceId"])
        assert body["downstream"]["traceId"] == body["traceId"]
    assert first["traceId"] != second["traceId"]


def test_outside_any_trace_nothing_is_current():
    assert tracing.current_trace_id() is None
    assert tracing.current_traceparent() is None
    assert tracing.current_ids() == (None, None)


# -- events: outbox, relay, broker, consumer ---------------------------------------------------------


def fresh_topic(kafka_servers) -> str:
    name = f"test.{uuid.uuid4().hex[:8]}.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(name, 1, 1), NewTopic(f"{name}.dlq", 1, 1)])
    admin.close()
    return name


def relay_until_sent(db, kafka_servers, event_ids) -> None:
    relay = OutboxRelay(
        db, kafka_producer(kafka_servers, client_id="test-trace-relay"), service_name="sample"
    )
    outbox = db.tables.outbox
    deadline = time.monotonic() + 30
    try:
        while True:
            relay.relay_once()
            with db.transaction() as session:
                pending = session.execute(
                    select(outbox.c.event_id).where(
                        outbox.c.event_id.in_(event_ids), outbox.c.sent_at.is_(None)
                    )
                ).all()
            if not pending:
                return
            assert time.monotonic() < deadline, f"{len(pending)} events still pending"
    finally:
        relay.producer.close(timeout=5)


def records_of(kafka_servers, topic: str, count: int) -> list:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_servers,
        group_id=f"test-trace-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=6_000,
        heartbeat_interval_ms=2_000,
    )
    found, deadline = [], time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found.extend(records)
    finally:
        consumer.close()
    assert len(found) >= count, f"{len(found)} of {count} records arrived"
    return found


def test_an_event_keeps_the_requests_trace_through_outbox_broker_and_consumer(
    db, live_server, kafka_servers, log_lines
):
    topic = fresh_topic(kafka_servers)
    previous_outbox = sample_service.app_state["outbox"]
    sample_service.app_state["outbox"] = Outbox(db, source=sample_events.SOURCE, topic=topic)
    trace_id = new_trace_id()
    try:
        response = requests.post(
            f"{live_server}/api/v1/widgets",
            json={"name": f"traced-{uuid.uuid4().hex[:8]}", "quantity": 1},
            headers={"traceparent": gateway_traceparent(trace_id)},
            timeout=10,
        )
    finally:
        sample_service.app_state["outbox"] = previous_outbox
    assert response.status_code == 201, response.text
    outbox = db.tables.outbox
    with db.transaction() as session:
        event_id, payload = session.execute(
            select(outbox.c.event_id, outbox.c.payload).where(outbox.c.topic == topic)
        ).one()
    assert payload["traceId"] == trace_id
    assert payload["traceparent"].startswith(f"00-{trace_id}-")

    relay_until_sent(db, kafka_servers, [event_id])
    (record,) = records_of(kafka_servers, topic, 1)
    headers = dict(record.headers)
    assert headers["traceparent"].decode().startswith(f"00-{trace_id}-")
    published = json.loads(record.value)
    assert published["traceId"] == trace_id
    assert "traceparent" not in published  # the envelope carries the trace id alone

    seen = []

    def handler(_session, event) -> None:
        log.info("handling the traced event")
        seen.append((event.trace_id, tracing.current_trace_id(), current_request_id()))

    consumer = consumer_in_own_group(
        db, kafka_servers, name=f"trace-{uuid.uuid4().hex[:8]}", topics=[topic], handler=handler
    )
    settle(consumer, 1)
    assert seen == [(trace_id, trace_id, trace_id)]
    handler_lines = [line for line in log_lines() if line["message"] == "handling the traced event"]
    assert [line["traceId"] for line in handler_lines] == [trace_id]


def test_a_dead_letter_keeps_the_events_trace_for_its_replay(db, kafka_servers):
    topic = fresh_topic(kafka_servers)
    outbox = Outbox(db, source=sample_events.SOURCE, topic=topic)
    with tracing.span("work that emits a poisonous event"), db.transaction() as session:
        trace_id = tracing.current_trace_id()
        event_id = outbox.add(session, sample_events.WidgetPoison(widget="widget-traced")).id
    relay_until_sent(db, kafka_servers, [event_id])

    def refuse(_session, _event) -> None:
        raise ValueError("never handled")

    consumer = consumer_in_own_group(
        db,
        kafka_servers,
        name=f"trace-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handler=refuse,
        max_attempts=1,
    )
    settle(consumer, 1)
    (letter,) = records_of(kafka_servers, f"{topic}.dlq", 1)
    headers = dict(letter.headers)
    assert headers["traceparent"].decode().startswith(f"00-{trace_id}-")
    assert json.loads(letter.value)["traceId"] == trace_id


def test_a_record_without_the_header_is_handled_in_its_envelopes_trace(db, kafka_servers):
    topic = fresh_topic(kafka_servers)
    trace_id = new_trace_id()
    event = dataclasses.replace(sample_events.WidgetCounted(widget="w", n=1).to_event(), trace_id=trace_id)
    producer = kafka_producer(kafka_servers, client_id="test-headerless")
    producer.send(topic, key=b"w", value=event.to_json()).get(timeout=10)  # a producer outside the platform
    producer.close(timeout=5)
    seen = []
    consumer = consumer_in_own_group(
        db,
        kafka_servers,
        name=f"trace-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handler=lambda _session, _event: seen.append(tracing.current_trace_id()),
    )
    settle(consumer, 1)
    assert seen == [trace_id]


def settle(consumer: EventConsumer, count: int) -> None:
    settled, deadline = 0, time.monotonic() + 60
    try:
        while settled < count:
            assert time.monotonic() < deadline, f"settled {settled} of {count}"
            settled += consumer.poll_once(timeout_ms=500)
    finally:
        consumer.consumer.close(autocommit=False)
        consumer.dead_letter_producer.close(timeout=5)


# -- export: OTLP/HTTP when configured, nothing otherwise ---------------------------------------------


@contextmanager
def tracing_configured(config: tracing.TracingConfig) -> Iterator[None]:
    try:
        tracing.configure_tracing(config)
        yield
    finally:
        tracing.configure_tracing(tracing.TracingConfig("a"))  # back to what the apps were built with


def test_with_an_endpoint_spans_are_exported_by_otlp_as_one_trace(services):
    with OtlpReceiver() as receiver, tracing_configured(tracing.TracingConfig("a", endpoint=receiver.url)):
        trace_id = new_trace_id()
        body = requests.get(
            f"{services}/api/v1/front", headers={"traceparent": gateway_traceparent(trace_id)}, timeout=10
        ).json()
        assert body["downstream"]["recording"] is True
        unsampled = new_trace_id()
        requests.get(
            f"{services}/api/v1/front",
            headers={"traceparent": gateway_traceparent(unsampled, sampled=False)},
            timeout=10,
        )
        assert tracing.force_flush()
        spans = receiver.spans_of(trace_id)
        assert receiver.spans_of(unsampled) == {}  # the gateway's decision not to sample is kept

    assert set(spans) == {"GET /api/v1/front", "GET downstream", "GET /internal/v1/echo"}
    server, client, callee = (
        spans["GET /api/v1/front"],
        spans["GET downstream"],
        spans["GET /internal/v1/echo"],
    )
    assert server.parent_span_id.hex() == GATEWAY_SPAN_ID
    assert client.parent_span_id == server.span_id
    assert callee.parent_span_id == client.span_id
    assert {service for service, span in receiver.spans if span.trace_id.hex() == trace_id} == {"a"}
    status = {a.key: a.value.int_value for a in callee.attributes}
    assert status["http.response.status_code"] == 200


def test_without_an_endpoint_nothing_is_recorded_or_exported(services, platform_env, monkeypatch):
    # Where an OpenTelemetry SDK would send spans by default (localhost:4318), a receiver listens:
    # nothing may arrive there, or anywhere, without OTEL_EXPORTER_OTLP_ENDPOINT.
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    settings = load_settings(PlatformSettings, service_name="a", **platform_env)
    with ExitStack() as stack:
        try:
            receiver = stack.enter_context(OtlpReceiver(4318))
        except OSError:
            receiver = None  # something else has the port: the other checks still hold
        with tracing_configured(tracing.TracingConfig.from_settings(settings)):
            assert not tracing.TracingConfig.from_settings(settings).exporting
            body = requests.get(
                f"{services}/api/v1/front",
                headers={"traceparent": gateway_traceparent(new_trace_id())},
                timeout=10,
            ).json()
            tracing.force_flush()
        time.sleep(0.5)
        assert body["downstream"]["recording"] is False
        assert body["downstream"]["traceId"] == body["traceId"]  # still propagated
        if receiver is not None:
            assert (receiver.requests, receiver.spans) == (0, [])


def test_the_endpoint_and_sampler_come_from_the_environment(platform_env, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318/")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    config = tracing.TracingConfig.from_settings(
        load_settings(PlatformSettings, service_name="a", **platform_env)
    )
    assert config == tracing.TracingConfig("a", endpoint="http://otel-collector:4318/", sample_ratio=0.25)
    assert tracing.traces_url(config.endpoint) == "http://otel-collector:4318/v1/traces"

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    assert (
        load_settings(PlatformSettings, service_name="a", **platform_env).otel_exporter_otlp_endpoint is None
    )

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4318")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "2")
    with pytest.raises(ConfigError) as refused:
        load_settings(PlatformSettings, service_name="a", **platform_env)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in str(refused.value)
    assert "OTEL_TRACES_SAMPLER_ARG" in str(refused.value)
