"""FeedbackEvent: the Store's subclass and Core's model must keep understanding each other on the wire."""

from __future__ import annotations

import json
import time

import pytest

from contract_check_plugin import Rule, warn

FIELDS = ("coordinator_id", "queue_size", "capacity", "level", "source", "ts")


def _store_event(StoreEvent, Level, **over):
    data = dict(
        coordinator_id="bars-coord",
        queue_size=850,
        capacity=1000,
        level=Level("soft"),
        source="store",
        ts=1700000000.25,
        reason="queue_high",
    )
    data.update(over)
    return StoreEvent(**data)


@pytest.mark.contract(id="feedback.store-subclasses-core", subject="FeedbackEvent")
def test_store_event_subclasses_core(StoreEvent, CoreEvent):
    """The Store's FeedbackEvent is a subclass of Core's FeedbackEvent."""
    assert issubclass(StoreEvent, CoreEvent), (
        f"expected the Store's FeedbackEvent to subclass Core's; its bases are {StoreEvent.__mro__[1:]}"
    )


@pytest.mark.contract(id="feedback.isinstance-both-ways", subject="FeedbackEvent")
def test_isinstance_both_ways(StoreEvent, CoreEvent, Level):
    """A Store event is-a Core event; Core parsing it yields a plain Core event."""
    event = _store_event(StoreEvent, Level)
    assert isinstance(event, CoreEvent), "a Store event is not an instance of Core's FeedbackEvent"
    parsed = CoreEvent.model_validate_json(event.model_dump_json())
    assert isinstance(parsed, CoreEvent) and not isinstance(parsed, StoreEvent)


@pytest.mark.contract(id="feedback.core-parses-store-json", subject="FeedbackEvent")
def test_core_parses_store_json(StoreEvent, CoreEvent, Level):
    """Core parses Store JSON: every Core field kept, the extra 'reason' ignored, source 'store'."""
    event = _store_event(StoreEvent, Level)
    parsed = CoreEvent.model_validate_json(event.model_dump_json())
    for name in FIELDS:
        assert getattr(parsed, name) == getattr(event, name), f"{name}: expected {getattr(event, name)!r}"
    assert parsed.source == "store"
    assert not hasattr(parsed, "reason"), "Core kept the Store-only field 'reason' instead of ignoring it"


@pytest.mark.contract(id="feedback.core-parses-store-dict", subject="FeedbackEvent")
def test_core_parses_store_dict(StoreEvent, CoreEvent, Level):
    """Core parses a Store event dumped to a dict (extra keys ignored)."""
    data = _store_event(StoreEvent, Level).model_dump(mode="json")
    assert data["reason"] == "queue_high"
    parsed = CoreEvent.model_validate(data)
    assert parsed.coordinator_id == "bars-coord" and parsed.queue_size == 850


@pytest.mark.contract(id="feedback.store-parses-core-json", subject="FeedbackEvent")
def test_store_parses_core_json(StoreEvent, CoreEvent, Level):
    """The Store's FeedbackEvent parses JSON produced by Core's model."""
    core_event = CoreEvent(coordinator_id="c1", queue_size=3, capacity=10, level=Level("hard"), ts=1.5)
    parsed = StoreEvent.model_validate_json(core_event.model_dump_json())
    assert parsed.level == Level("hard") and parsed.reason is None and parsed.source == core_event.source


@pytest.mark.contract(id="feedback.round-trip", subject="FeedbackEvent")
def test_store_event_round_trips(StoreEvent, Level):
    """A Store event round-trips through JSON with every field, 'reason' included."""
    event = _store_event(StoreEvent, Level)
    again = StoreEvent.model_validate_json(event.model_dump_json())
    assert again == event, f"round trip changed the event: {event!r} -> {again!r}"
    wire = json.loads(event.model_dump_json())
    assert set(FIELDS) | {"reason"} <= set(wire), f"fields missing on the wire: {set(FIELDS) - set(wire)}"


@pytest.mark.contract(id="feedback.factory-fills-ts-source", subject="FeedbackEvent")
def test_factory_fills_ts_and_source(StoreEvent, Level):
    """FeedbackEvent.create() fills ts (between before and after) and source='store'."""
    before = time.time()
    event = StoreEvent.create(coordinator_id="c", queue_size=1, capacity=2, level=Level("ok"))
    after = time.time()
    assert before <= event.ts <= after, f"ts {event.ts} not between {before} and {after}"
    assert event.source == "store", f"expected source 'store', found {event.source!r}"


@pytest.mark.contract(id="feedback.drained-queue", subject="FeedbackEvent")
def test_drained_queue_and_tiny_capacity(StoreEvent, CoreEvent, Level):
    """Boundary events the Store really emits (queue_size=0 when drained, capacity=1) validate in Core."""
    for level in ("ok", "soft", "hard"):
        event = StoreEvent.create(coordinator_id="c", queue_size=0, capacity=1, level=Level(level))
        parsed = CoreEvent.model_validate_json(event.model_dump_json())
        assert parsed.queue_size == 0 and parsed.capacity == 1


@pytest.mark.contract(id="feedback.fractional-ts", subject="FeedbackEvent")
def test_fractional_timestamp(StoreEvent, CoreEvent, Level):
    """A fractional ts survives Core parsing as a float."""
    event = _store_event(StoreEvent, Level, ts=1700000000.123456)
    parsed = CoreEvent.model_validate_json(event.model_dump_json())
    assert parsed.ts == pytest.approx(1700000000.123456) and isinstance(parsed.ts, float)


@pytest.mark.contract(id="feedback.source-default", subject="FeedbackEvent")
def test_source_default_is_store(CoreEvent, Level):
    """Core's FeedbackEvent still defaults source to 'store' (a changed default is a WARN: the Store sets it)."""
    event = CoreEvent(coordinator_id="c", queue_size=0, capacity=1, level=Level("ok"), ts=0.0)
    assert isinstance(event.source, str), f"source is no longer a string: {event.source!r}"
    if event.source != "store":
        warn(Rule.DEFAULT_CHANGED, f"FeedbackEvent.source defaults to {event.source!r}, expected 'store'")
