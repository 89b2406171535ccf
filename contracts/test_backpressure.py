"""BackpressureLevel: its values are wire format and must never be renamed or removed."""

from __future__ import annotations

import json

import pytest

from contract_check_plugin import Rule, warn

CONTRACTED = ["ok", "soft", "hard"]


@pytest.mark.contract(id="backpressure.values", subject="BackpressureLevel")
def test_values_are_the_contracted_set(Level):
    """BackpressureLevel values are exactly ok/soft/hard (an added value is a WARN)."""
    found = [member.value for member in Level]
    missing = [v for v in CONTRACTED if v not in found]
    assert not missing, f"expected values {CONTRACTED}, found {found}: missing {missing}"
    added = [v for v in found if v not in CONTRACTED]
    if added:
        warn(Rule.ENUM_VALUE_ADDED, f"BackpressureLevel gained {added}")


@pytest.mark.contract(id="backpressure.serialises-as-string", subject="BackpressureLevel")
def test_serialises_as_plain_strings(Level, CoreEvent):
    """BackpressureLevel members are str and serialise as their plain values."""
    for value in CONTRACTED:
        level = Level(value)
        assert isinstance(level, str) and level == value
        event = CoreEvent(coordinator_id="c", queue_size=0, capacity=1, level=level, ts=0.0)
        assert json.loads(event.model_dump_json())["level"] == value
