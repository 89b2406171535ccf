"""Layer 3: wire payloads produced by a known-good Core/Store pair must still validate under the candidate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PAYLOADS = Path(__file__).parent / "golden" / "payloads"


def _load(subject):
    path = PAYLOADS / f"{subject}.json"
    if not path.is_file():
        pytest.skip(f"no golden payloads for {subject} (run `contract-check snapshot`)")
    return json.loads(path.read_text(encoding="utf-8"))


def _validate_all(model, payloads):
    problems = []
    for i, payload in enumerate(payloads):
        try:
            model.model_validate_json(json.dumps(payload))
        except Exception as exc:  # pydantic's ValidationError, or anything a broken model raises
            problems.append(f"golden payload {i}: {str(exc).splitlines()[0]}: {exc}")
    assert not problems, "; ".join(problems)[:1500]


@pytest.mark.contract(id="payload.golden.FeedbackEvent.core", subject="FeedbackEvent", layer="payload")
def test_core_accepts_golden_feedback(CoreEvent):
    """Core's FeedbackEvent accepts every golden FeedbackEvent payload (Store-emitted ones included)."""
    _validate_all(CoreEvent, _load("FeedbackEvent") + _load("StoreFeedbackEvent"))


@pytest.mark.contract(id="payload.golden.FeedbackEvent.store", subject="FeedbackEvent", layer="payload")
def test_store_accepts_golden_feedback(StoreEvent):
    """The Store's FeedbackEvent accepts every golden FeedbackEvent payload."""
    _validate_all(StoreEvent, _load("FeedbackEvent") + _load("StoreFeedbackEvent"))


@pytest.mark.contract(id="payload.golden.HealthStatus", subject="HealthStatus", layer="payload")
def test_core_accepts_golden_health(HealthStatus):
    """HealthStatus accepts every golden HealthStatus payload."""
    _validate_all(HealthStatus, _load("HealthStatus"))


@pytest.mark.contract(id="payload.golden.HealthComponent", subject="HealthComponent", layer="payload")
def test_core_accepts_golden_components(HealthComponent):
    """HealthComponent accepts every golden HealthComponent payload."""
    _validate_all(HealthComponent, _load("HealthComponent"))
