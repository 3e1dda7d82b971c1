"""The sample service's event contracts, as a real service's live in gamekeys_platform.contracts."""

from __future__ import annotations

import uuid
from typing import ClassVar

from gamekeys_platform.contracts.base import EventData, Text

SOURCE = "sample-service"
TOPIC = "sample.events"


class SampleEvent(EventData):
    SOURCE: ClassVar[str] = SOURCE


class WidgetCreated(SampleEvent):
    TYPE: ClassVar[str] = "widget.created"
    SUBJECT: ClassVar[str] = "widget_id"

    widget_id: uuid.UUID
    name: Text


class _Widget(SampleEvent):
    SUBJECT: ClassVar[str] = "widget"

    widget: Text


class WidgetCounted(_Widget):
    TYPE: ClassVar[str] = "widget.counted"

    n: int


class WidgetStep(_Widget):
    TYPE: ClassVar[str] = "widget.step"

    step: int


class WidgetRenamed(_Widget):
    TYPE: ClassVar[str] = "widget.renamed"


class WidgetPoison(_Widget):
    """A type the sample consumer can never handle."""

    TYPE: ClassVar[str] = "widget.poison"
