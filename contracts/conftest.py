"""Fixtures shared by the built-in contracts. Runs inside the sandbox, next to the Store and the candidate Core.

Imports happen in fixtures, not at module level, so a Core that lost a name fails the checks that need it
(as IMPORT_FAILED / MODEL_MISSING error rows) instead of hiding the whole file behind a collection error.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CORE_MODULE = "market_data_core.telemetry"
STORE_MODULE = "market_data_store.coordinator"
GOLDEN = Path(__file__).parent / "golden"


class ContractImportError(Exception):
    """The candidate cannot even be imported: the message starts with the rule ID the host reports."""


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except Exception as exc:  # any failure at import time is a broken contract
        raise ContractImportError(f"IMPORT_FAILED: import {module} failed: {type(exc).__name__}: {exc}") from None


def _attr(module: ModuleType, name: str) -> Any:
    try:
        return getattr(module, name)
    except AttributeError:
        raise ContractImportError(f"MODEL_MISSING: {module.__name__} no longer exports {name}") from None


@pytest.fixture(scope="session")
def core() -> ModuleType:
    return _import(CORE_MODULE)


@pytest.fixture(scope="session")
def CoreEvent(core: ModuleType) -> Any:
    return _attr(core, "FeedbackEvent")


@pytest.fixture(scope="session")
def Level(core: ModuleType) -> Any:
    return _attr(core, "BackpressureLevel")


@pytest.fixture(scope="session")
def HealthStatus(core: ModuleType) -> Any:
    return _attr(core, "HealthStatus")


@pytest.fixture(scope="session")
def HealthComponent(core: ModuleType) -> Any:
    return _attr(core, "HealthComponent")


@pytest.fixture(scope="session")
def StoreEvent(core: ModuleType) -> Any:
    return _attr(_import(STORE_MODULE), "FeedbackEvent")


@pytest.fixture(scope="session")
def golden_schemas() -> dict[str, Any]:
    path = GOLDEN / "schemas.json"
    if not path.is_file():
        pytest.skip("no golden schemas committed (run `contract-check snapshot`)")
    return json.loads(path.read_text(encoding="utf-8"))
