"""Hand the host what layers 2 and 3 need: each subject's JSON Schema and enum values, and wire payloads
produced by the candidate Core/Store pair. The host compares them with contracts/golden/."""

from __future__ import annotations

import importlib
import time

import pytest

SUBJECT_MODELS = ("FeedbackEvent", "HealthStatus", "HealthComponent")
SUBJECT_ENUMS = ("BackpressureLevel",)


def _payloads(core, store_event):
    level = core.BackpressureLevel
    events = [
        dict(coordinator_id="bars-coord", queue_size=q, capacity=c, level=level(v), ts=t)
        for q, c, v, t in [
            (0, 1, "ok", 1700000000.0),
            (850, 1000, "soft", 1700000000.25),
            (5, 5, "hard", 1.5),
        ]
    ]
    health = core.HealthStatus(
        service="market-data-store",
        state="degraded",
        version="0.6.73",
        ts=1700000000.5,
        components=[
            core.HealthComponent(name="db", state="healthy", details={"latency_ms": "3"}),
            core.HealthComponent(name="queue", state="unhealthy"),
        ],
    )
    out = {
        "FeedbackEvent": [core.FeedbackEvent(**e).model_dump(mode="json") for e in events],
        "HealthStatus": [health.model_dump(mode="json")],
        "HealthComponent": [c.model_dump(mode="json") for c in health.components],
    }
    if store_event is not None:
        out["StoreFeedbackEvent"] = [
            store_event.create(
                coordinator_id="c", queue_size=0, capacity=1, level=level("ok"), reason="drained"
            ).model_dump(mode="json"),
            store_event(**events[1], source="store", reason=None).model_dump(mode="json"),
        ]
    return out


@pytest.mark.contract(id="schema.snapshot", subject="*", layer="schema")
def test_snapshot(core, contract_artifact):
    """The candidate's schemas and enum values are dumped for comparison with the golden schemas."""
    try:
        store_event = importlib.import_module("market_data_store.coordinator").FeedbackEvent
    except Exception:
        store_event = None  # reported by the assertion layer; the schema layer then lacks StoreFeedbackEvent
    models = {name: getattr(core, name).model_json_schema() for name in SUBJECT_MODELS if hasattr(core, name)}
    if store_event is not None:
        models["StoreFeedbackEvent"] = store_event.model_json_schema()
    enums = {name: [m.value for m in getattr(core, name)] for name in SUBJECT_ENUMS if hasattr(core, name)}
    contract_artifact("snapshot", {"models": models, "enums": enums})
    try:
        payloads = _payloads(core, store_event)
    except Exception as exc:  # the assertions say why; the payload layer just has nothing to validate
        payloads = {}
        contract_artifact("payload_error", f"{type(exc).__name__}: {exc}")
    contract_artifact("payloads", payloads)
    contract_artifact("produced_at", time.time())
    assert models, "no subject could be found in market_data_core.telemetry"
