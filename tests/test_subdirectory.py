"""Every command from a subdirectory of a Store checkout (18, "confusing"): from ``store/tests`` or
``store/src/...`` the tool works on the checkout it stands in, as from its root: that project is the default
Store, and its ``[tool.contract-check]`` (relative paths relative to it) is the configuration, as git, pytest
and uv find their project by looking upward; never past the checkout's root.

The checkout is the field-shaped Store (``storerepo``) configured with the fixture Core, a Core ref, its own
contracts and a golden directory. Each command runs from the root and from subdirectories; the answers are
compared (check and plan), or checked for what only the enclosing project can explain (bump, snapshot).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult
from fixturepkgs import CORE_DIST
from storerepo import StoreRepo, make_store_repo

pytestmark = pytest.mark.slow

CONFIG = f'''core-package = "{CORE_DIST}"
core-ref = ["1.50.0"]
contracts = ["tests/contracts/health"]
'''
SUBDIRECTORIES = ["tests", "tests/contracts/health", "src/market_data_store"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> StoreRepo:
    return make_store_repo(tmp_path_factory.mktemp("subdir") / "store", config=CONFIG)


def answer(result: CliResult) -> list[tuple[str, str]]:
    assert result.report is not None, result.output
    return [(c["id"], c["status"]) for run in result.report["runs"] for c in run["checks"]]


def test_check(run_cli: Callable[..., CliResult], store: StoreRepo, fixture_world: Any) -> None:
    links = ["--find-links", str(fixture_world.find_links)]
    at_root = run_cli(*links, cwd=store.root)
    assert at_root.code == 0, at_root.output
    for sub in SUBDIRECTORIES:
        result = run_cli(*links, cwd=store.root / sub)
        assert result.code == 0, (sub, result.output)
        assert result.report is not None
        reported = result.report["store"]
        assert reported["spec"] == str(Path("..", *([".."] * sub.count("/")))), reported  # ".." from tests
        assert (reported["name"], reported["version"]) == ("cc-fixture-store", "0.2.0")  # the checkout
        assert reported["origin"] == "the project enclosing the current directory"
        assert [r["core_ref"] for r in result.report["runs"]] == ["1.50.0"]  # its configured ref
        assert answer(result) == answer(at_root)  # its configured contracts too, by the same node ids
        assert any(i.startswith("tests/contracts/health/") for i, _ in answer(result))
    assert store.status() == ""


def test_plan(run_cli: Callable[..., CliResult], store: StoreRepo, fixture_world: Any) -> None:
    links = ["--find-links", str(fixture_world.find_links)]
    for args in ([], ["--since-pin"]):
        at_root = run_cli("plan", *links, *args, cwd=store.root, json_report=False)
        assert at_root.code == 0, at_root.output
        for sub in SUBDIRECTORIES:
            result = run_cli("plan", *links, *args, cwd=store.root / sub, json_report=False)
            assert (result.code, result.stdout) == (0, at_root.stdout), (sub, args, result.output)
    assert json.loads(at_root.stdout)[0] == "1.1.0"  # --since-pin: from the checkout's declared >=1.1


def test_bump_dry_run(run_cli: Callable[..., CliResult], store: StoreRepo, fixture_world: Any) -> None:
    before = store.state()
    result = run_cli(
        "bump", "--core-ref", "1.50.0", "--dry-run", "--find-links", fixture_world.find_links,
        "--allow-unpublished",  # the fixture Core is served by find-links only
        cwd=store.root / "src" / "market_data_store", json_report=False,
    )  # fmt: skip
    assert result.code == 0, result.output
    assert f'+    "{CORE_DIST}>=1.50.0,<2",' in result.stdout, result.stdout  # the checkout's own pin
    assert "dry run: nothing written" in result.stdout
    assert store.state() == before and store.status() == ""


def test_snapshot(run_cli: Callable[..., CliResult], tmp_path: Path, fixture_world: Any) -> None:
    """The golden goes where the project's config says, relative to the project, not to the directory; a check
    from another subdirectory then compares with it."""
    repo = make_store_repo(tmp_path / "store", config=CONFIG + 'golden = "contract-golden"\n')
    links = ["--find-links", str(fixture_world.find_links)]
    result = run_cli("snapshot", "--core-ref", "1.50.0", *links, cwd=repo.root / "tests")
    assert result.code == 0, result.output
    golden = repo.root / "contract-golden"
    assert f"wrote the golden contract to {golden}" in " ".join(result.stdout.split()), result.stdout
    assert not (repo.root / "tests" / "contract-golden").exists() and list(golden.rglob("*.json"))
    check = run_cli(*links, cwd=repo.root / "src")
    assert check.code == 0, check.output
    assert check.report is not None and "contract-golden" in check.report["runs"][0]["baseline"], check.report


@pytest.mark.parametrize("command", [["list"], ["cache", "info"]])
def test_list_and_cache_info(run_cli: Callable[..., CliResult], store: StoreRepo, command: list[str]) -> None:
    at_root = run_cli(*command, cwd=store.root, json_report=False)
    assert at_root.code == 0, at_root.output
    for sub in SUBDIRECTORIES:
        result = run_cli(*command, cwd=store.root / sub, json_report=False)
        assert (result.code, result.stdout) == (0, at_root.stdout), sub
