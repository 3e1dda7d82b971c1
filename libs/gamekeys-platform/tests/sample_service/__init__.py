"""A miniature service built on the shared library, the way real services are, for its tests."""

from __future__ import annotations

import time
import uuid

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import Column, DateTime, Integer, String, Table, Uuid, func, insert, select
from sqlalchemy.exc import IntegrityError

from gamekeys_platform.db import request_session, service_metadata, transactional
from gamekeys_platform.errors import ApiError, not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.refusals import Refusal
from sample_service.events import WidgetCreated

SCHEMA = "sample_service"
metadata = service_metadata(SCHEMA)
widgets = Table(
    "widgets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("quantity", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What the sample consumer did with each event: ``times`` must stay 1 whatever Kafka redelivers.
applied_events = Table(
    "applied_events",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("event_type", String(128), nullable=False),
    Column("times", Integer, nullable=False),
)

blp = Blueprint("widgets", __name__, url_prefix="/api/v1/widgets")


class WidgetIn(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 50))
    quantity = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 1000))
    slow = ma.fields.Boolean(load_default=False)


class WidgetOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)


# The outbox of the app under test; tests set it (it needs the Database).
app_state: dict = {}


@blp.route("", methods=["POST"])
@idempotent
@blp.arguments(WidgetIn)
@blp.response(201, WidgetOut)
def create_widget(body):
    session = request_session()
    widget = {"id": uuid.uuid4(), "name": body["name"], "quantity": body["quantity"]}
    try:
        with session.begin_nested():
            session.execute(insert(widgets).values(**widget))
    except IntegrityError:
        raise ApiError("CONFLICT", "a widget with this name exists", {"name": body["name"]}) from None
    app_state["outbox"].add(session, WidgetCreated(widget_id=widget["id"], name=widget["name"]))
    if body["slow"]:
        time.sleep(0.5)  # keeps the request in flight while duplicates arrive
    if body["name"] == "explode":
        raise RuntimeError("secret internal detail: password=hunter2")
    if body["name"] == "reserved":
        raise Refusal("FORBIDDEN", "this name is reserved", {"reason": "reserved_name"})
    return widget


@blp.route("/<uuid:widget_id>", methods=["GET"])
@blp.response(200, WidgetOut)
def get_widget(widget_id):
    row = request_session().execute(select(widgets).where(widgets.c.id == widget_id)).first()
    if row is None:
        raise not_found("widget")
    return row._asdict()


@blp.route("/<uuid:widget_id>", methods=["DELETE"])
@transactional
@blp.response(204)
def delete_widget(widget_id):
    result = request_session().execute(widgets.delete().where(widgets.c.id == widget_id))
    if result.rowcount == 0:
        raise not_found("widget")
