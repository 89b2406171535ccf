"""HealthStatus and HealthComponent round-trip with every state and with details."""

from __future__ import annotations

import pytest

STATES = ["healthy", "degraded", "unhealthy"]


@pytest.mark.contract(id="health.round-trip", subject="HealthStatus")
def test_health_status_round_trips(HealthStatus, HealthComponent):
    """HealthStatus with two components round-trips through JSON unchanged."""
    status = HealthStatus(
        service="market-data-store",
        state="degraded",
        version="0.6.73",
        ts=1700000000.5,
        components=[
            HealthComponent(name="db", state="healthy", details={"latency_ms": "3"}),
            HealthComponent(name="queue", state="degraded"),
        ],
    )
    again = HealthStatus.model_validate_json(status.model_dump_json())
    assert again == status
    assert [c.name for c in again.components] == ["db", "queue"]


@pytest.mark.contract(id="health.component-states", subject="HealthComponent")
@pytest.mark.parametrize("state", STATES)
def test_component_accepts_every_state(HealthComponent, state):
    """HealthComponent accepts each state: healthy, degraded, unhealthy."""
    component = HealthComponent(name="db", state=state)
    assert HealthComponent.model_validate_json(component.model_dump_json()).state == state


@pytest.mark.contract(id="health.status-states", subject="HealthStatus")
@pytest.mark.parametrize("state", STATES)
def test_status_accepts_every_state(HealthStatus, state):
    """HealthStatus accepts each aggregate state."""
    status = HealthStatus(service="s", state=state, version="1", ts=0.0)
    assert HealthStatus.model_validate(status.model_dump(mode="json")).state == state


@pytest.mark.contract(id="health.details-round-trip", subject="HealthComponent")
@pytest.mark.parametrize("details", [{}, {"connected": "true", "latency_ms": "12"}], ids=["empty", "filled"])
def test_details_round_trip(HealthComponent, details):
    """HealthComponent.details round-trips, empty and filled."""
    component = HealthComponent(name="ibkr", state="healthy", details=details)
    assert HealthComponent.model_validate_json(component.model_dump_json()).details == details


@pytest.mark.contract(id="health.ts-is-float", subject="HealthStatus")
def test_ts_is_float(HealthStatus):
    """HealthStatus.ts is a float and keeps its fraction."""
    status = HealthStatus(service="s", state="healthy", version="1", ts=1700000000.75)
    parsed = HealthStatus.model_validate_json(status.model_dump_json())
    assert isinstance(parsed.ts, float) and parsed.ts == 1700000000.75


@pytest.mark.contract(id="health.nested-components", subject="HealthStatus")
def test_nested_components_from_dicts(HealthStatus):
    """HealthStatus parses nested component dicts with details."""
    payload = {
        "service": "s",
        "state": "healthy",
        "version": "1",
        "ts": 1.0,
        "components": [{"name": n, "state": s, "details": {"k": "v"}} for n, s in zip("abc", STATES)],
    }
    parsed = HealthStatus.model_validate(payload)
    assert [c.state for c in parsed.components] == STATES
