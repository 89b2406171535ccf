"""Suites: any Core/Store pair, declared in a ``suite.toml``, checked without touching contract-check's code.

A second, unrelated pair (``acme-core`` with a pydantic ``Order``; ``acme-app`` subclassing it) is checked
with a suite that holds nothing but ``suite.toml``; and a subject is added to a copy of the built-in suite
with one line. Both record their golden with ``snapshot`` first. Real uv venvs (``slow``).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from contract_check import suite
from contract_check.errors import UsageError
from fixturepkgs import CORE_DIST, PYDANTIC_REQUIREMENT, write_wheel

ORDER = '''
from pydantic import BaseModel, Field


class Order(BaseModel):
    """An order as every service sends it."""

    id: str
    qty: int = Field(..., {qty})
{extra}'''
ACME_CORE = {
    "1.0.0": ORDER.format(qty="ge=0", extra=""),
    "1.1.0": ORDER.format(qty="gt=0", extra=""),  # "an order of nothing is no order": qty=0 is now rejected
    "1.2.0": ORDER.format(qty="ge=0", extra="    note: str | None = None\n"),  # back, plus an optional field
}
ACME_APP = '''
from acme_core import Order


class StoreOrder(Order):
    """The app's order: where it came from."""

    channel: str = "web"
'''
SUITE_TOML = """
[suite]
name = "acme"
core-package = "acme-core"
store-package = "acme-app"

[subjects]
Order = "acme_core:Order"
StoreOrder = "acme_app:StoreOrder"
"""


@pytest.fixture
def acme(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(find-links directory with acme-core 1.0/1.1/1.2, the acme-app wheel, a suite with only suite.toml)."""
    links = tmp_path / "acme-links"
    for version, source in ACME_CORE.items():
        write_wheel(
            links, "acme-core", version, {"acme_core/__init__.py": textwrap.dedent(source)}, [PYDANTIC_REQUIREMENT]
        )
    app = write_wheel(
        tmp_path / "app",
        "acme-app",
        "0.3.0",
        {"acme_app/__init__.py": ACME_APP},
        ["acme-core>=1.0,<2", PYDANTIC_REQUIREMENT],
    )
    folder = tmp_path / "acme-suite"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE_TOML)
    return links, app, folder


@pytest.mark.slow
def test_an_unrelated_pair_with_a_suite_of_only_suite_toml(run_cli, acme) -> None:
    links, app, folder = acme
    common = ["--suite", folder, "--find-links", links, "--store", app]
    recorded = run_cli("snapshot", "--core-ref", "1.0.0", *common, json_report=False)
    assert recorded.code == 0, recorded.output
    assert f"wrote the golden contract to {folder / 'golden'}" in recorded.stdout
    schemas = json.loads((folder / "golden" / "schemas.json").read_text())
    assert set(schemas["models"]) == {"Order", "StoreOrder"}
    boundary = json.loads((folder / "golden" / "payloads" / "Order.json").read_text())
    assert {"id": "x", "qty": 0} in boundary  # the smallest order 1.0 accepts, which 1.1 must still accept

    broken = run_cli("--core-ref", "1.1.0", *common)
    assert broken.code == 1, broken.output
    (run,) = broken.report["runs"]
    assert run["core_version"] == "1.1.0"
    failing = {c["id"]: c for c in run["checks"] if c["status"] == "failed"}
    assert "schema.Order.qty.CONSTRAINT_TIGHTENED" in failing
    assert "schema.StoreOrder.qty.CONSTRAINT_TIGHTENED" in failing
    assert "payload.golden.Order" in failing  # the recorded boundary payload is rejected too

    fine = run_cli("--core-ref", "1.2.0", *common)
    assert fine.code == 0, fine.output
    (run,) = fine.report["runs"]
    rules = {c["rule"] for c in run["checks"] if c["rule"]}
    assert "OPTIONAL_FIELD_ADDED" in rules and "CONSTRAINT_TIGHTENED" not in rules
    assert {c["id"] for c in run["checks"]} >= {"schema.snapshot", "payload.golden.Order", "payload.golden.StoreOrder"}
    assert "market" not in json.dumps(fine.report).lower()  # nothing of the built-in pair leaks in


@pytest.mark.slow
def test_a_suite_without_a_golden_says_to_record_one(run_cli, acme) -> None:
    links, app, folder = acme
    result = run_cli("--core-ref", "1.1.0", "--suite", folder, "--find-links", links, "--store", app)
    assert result.code == 2, result.output
    assert "no golden snapshot" in result.stderr and "contract-check snapshot" in result.stderr


@pytest.mark.slow
def test_adding_a_subject_is_one_line_plus_snapshot(run_cli, fixture_world, tmp_path: Path) -> None:
    copy = tmp_path / "suite"
    shutil.copytree(suite.builtin_dir(), copy)
    toml = copy / "suite.toml"  # the Store re-exports Core's enum: now a subject of its own, in one line
    line = 'StoreBackpressureLevel = "market_data_store.coordinator:BackpressureLevel"\n'
    toml.write_text(toml.read_text().replace("[subjects]\n", "[subjects]\n" + line, 1))
    common = ["--suite", copy, "--core-package", CORE_DIST, "--find-links", fixture_world.find_links]
    common += ["--store", fixture_world.store_wheel]
    recorded = run_cli("snapshot", "--core-ref", fixture_world.variant_versions["baseline"], *common, json_report=False)
    assert recorded.code == 0, recorded.output
    assert "StoreBackpressureLevel" in json.loads((copy / "golden" / "schemas.json").read_text())["enums"]
    removed = run_cli("--core-ref", fixture_world.variant_versions["enum_value_removed"], *common)
    assert removed.code == 1, removed.output
    ids = {c["id"] for r in removed.report["runs"] for c in r["checks"] if c["status"] == "failed"}
    assert "schema.StoreBackpressureLevel.ENUM_VALUE_REMOVED" in ids
    listed = run_cli("list", "--suite", copy, json_report=False)
    assert listed.code == 0 and "schema.snapshot" in listed.stdout


def test_suite_toml_mistakes_are_usage_errors(tmp_path: Path) -> None:
    for body, says in [
        ("[suite]\nname = 'x'\n", "needs core-package"),
        ("[suite]\ncore-package = 'c'\n[subjects]\nOrder = 'acme_core.Order'\n", "is not Name ="),
        ("[suite]\ncore-package = 'c'\n[extra]\n", "unknown table"),
        ("[suite]\ncore-package = 'c'\n[examples]\nOrder = [{}]\n", "names no subject"),
    ]:
        (tmp_path / "suite.toml").write_text(body)
        with pytest.raises(UsageError, match=says):
            suite.load(tmp_path)
