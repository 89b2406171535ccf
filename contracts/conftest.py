"""Fixtures shared by the market-data suite's contracts. Runs inside the sandbox, next to the Store and the
candidate Core.

The subjects come from suite.toml through the plugin's ``subject`` fixture. Imports happen in fixtures, not
at module level, so a Core that lost a name fails the checks that need it (as IMPORT_FAILED / MODEL_MISSING
error rows) instead of hiding the whole file behind a collection error.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def CoreEvent(subject: Any) -> Any:
    return subject("FeedbackEvent")


@pytest.fixture(scope="session")
def Level(subject: Any) -> Any:
    return subject("BackpressureLevel")


@pytest.fixture(scope="session")
def HealthStatus(subject: Any) -> Any:
    return subject("HealthStatus")


@pytest.fixture(scope="session")
def HealthComponent(subject: Any) -> Any:
    return subject("HealthComponent")


@pytest.fixture(scope="session")
def StoreEvent(subject: Any) -> Any:
    return subject("StoreFeedbackEvent")
