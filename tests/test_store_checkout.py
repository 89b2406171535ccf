"""In a real Store checkout (issue 12): the user's tree is never touched, the Store's own contracts run with
their test dependencies, and the verdicts are right.

The checkout is ``storerepo.make_store_repo``: setuptools, ``src/`` layout, tracked egg-info, a ``[dev]`` extra
with a third-party test dependency, its own ``tests/contracts`` and pytest settings. Every kind of run (pass,
break, usage error after the Store was resolved, timeout, interrupt, ``--core-range``) leaves ``git status`` and
every file's content and mtime as they were, for the local Store and for a local Core project given as a ref.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import cli_env, leftovers
from fixturepkgs import CORE_DIST, STORE_DIST
from storerepo import TEST_DEPENDENCY, Checkout, StoreRepo, make_core_repo, make_store_repo

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Workspace:
    root: Path  # holds store/, core/ and core-broken/
    store: StoreRepo
    core: Checkout  # a Core project (setuptools, tracked egg-info) that keeps the contract
    core_broken: Checkout  # one that drops FeedbackEvent.source
    links: Path

    @property
    def checkouts(self) -> list[Checkout]:
        return [self.store, self.core, self.core_broken]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, fixture_world: Any) -> Workspace:
    root = tmp_path_factory.mktemp("workspace")
    return Workspace(
        root,
        make_store_repo(root / "store"),
        make_core_repo(root / "core", "1.60.0"),
        make_core_repo(root / "core-broken", "1.60.1", "field_removed_source"),
        fixture_world.find_links,
    )


@pytest.fixture
def untouched(ws: Workspace) -> Iterator[None]:
    """Every checkout of the workspace is clean before the test and exactly as it was after it."""
    before = [(c.status(), c.state()) for c in ws.checkouts]
    assert all(status == "" for status, _ in before), before
    yield
    after = [(c.status(), c.state()) for c in ws.checkouts]
    for checkout, (status, state), (status_was, state_was) in zip(ws.checkouts, after, before, strict=True):
        assert status == status_was, f"{checkout.root}: git status now says\n{status}"
        changed = sorted(k for k in state.keys() | state_was.keys() if state.get(k) != state_was.get(k))
        assert not changed, f"{checkout.root}: changed {changed}"


# The two setups: the local Store with Core from the index (find-links), and a local Core project as the ref.
SETUPS = {
    "local-store": {
        "cwd": "store",
        "pass": "1.50.0",
        "break": "1.50.1",
        "store": ".[dev]",
        "contracts": "tests/contracts",
    },
    "local-core": {
        "cwd": ".",
        "pass": "./core",
        "break": "./core-broken",
        "store": "./store[dev]",
        "contracts": "store/tests/contracts",
    },
}  # fmt: skip


def argv(ws: Workspace, setup: str, *, ref: str = "pass", store: str | None = None) -> tuple[list[str], Path]:
    s = SETUPS[setup]
    args = ["--core-ref", s.get(ref, ref), "--core-package", CORE_DIST, "--find-links", str(ws.links)]
    args += ["--store", store or s["store"], "--contracts", s["contracts"]]
    return args, ws.root / s["cwd"]


def result_tmp(tmp_path: Path) -> Path:
    """The TMPDIR ``run_cli`` made (tmp_path/tmp), for a test that passes its own environment."""
    return tmp_path / "tmp"


def user_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for run in report["runs"] for c in run["checks"] if c["layer"] == "user"]


# ------------------------------------------------------------------------------ every kind of run


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_compatible_run(run_cli, ws: Workspace, untouched: None, setup: str, tmp_path: Path) -> None:
    args, cwd = argv(ws, setup)
    # an empty cache: the Store is built and the shared environment made in this run (with this ref's Core)
    result = run_cli(*args, cwd=cwd, env=cli_env(result_tmp(tmp_path), CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "c")))
    assert result.code == 0, result.output
    assert result.report is not None
    ids = [c["id"] for c in user_checks(result.report)]
    assert sorted(ids) == sorted(ws.store.contract_ids)  # pytest node ids relative to the Store, each once
    assert len(set(ids)) == len(ids)
    assert result.report["store"]["name"] == STORE_DIST and result.report["store"]["version"] == "0.2.0"
    assert leftovers(result.tmpdir) == []


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_broken_run(run_cli, ws: Workspace, untouched: None, setup: str) -> None:
    args, cwd = argv(ws, setup, ref="break")
    result = run_cli(*args, cwd=cwd)
    assert result.code == 1, result.output
    assert "FIELD_REMOVED" in result.rules()


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_usage_error_after_the_store_was_resolved(
    run_cli, ws: Workspace, untouched: None, setup: str, tmp_path: Path
) -> None:
    args, cwd = argv(ws, setup)
    cache, empty = tmp_path / "cache", tmp_path / "no-golden"  # an empty cache: the Store is built in this run
    empty.mkdir()
    env = cli_env(result_tmp(tmp_path), CONTRACT_CHECK_CACHE_DIR=str(cache))
    result = run_cli(*args, "--golden", empty, cwd=cwd, env=env)
    assert result.code == 2, result.output
    assert "there is no golden snapshot in" in result.stderr
    assert list(cache.glob("wheels/*/*.whl")), "the Store was not built before the usage error"


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_timeout(run_cli, ws: Workspace, untouched: None, setup: str, tmp_path: Path) -> None:
    args, cwd = argv(ws, setup)
    env = cli_env(result_tmp(tmp_path), CC_STORE_SLEEP="300")
    result = run_cli(*args, "--timeout", "30", "--no-cache", cwd=cwd, env=env)  # no earlier result answers
    assert result.code == 3, result.output
    assert result.report is not None and result.report["runs"][0]["error_kind"] == "timeout"
    assert "test_timing.py::test_sleeps_when_asked" in result.output
    assert leftovers(result.tmpdir) == []


@pytest.mark.parametrize("setup", list(SETUPS))
def test_an_interrupt_while_the_contracts_run(ws: Workspace, untouched: None, setup: str, tmp_path: Path) -> None:
    args, cwd = argv(ws, setup)
    tmpdir, marker = tmp_path / "tmp", tmp_path / "sleeping"
    tmpdir.mkdir()
    env = cli_env(tmpdir, CC_STORE_SLEEP="300", CC_STORE_MARKER=str(marker))
    code, out = interrupt_when(marker, [sys.executable, "-m", "contract_check", *args, "--no-cache"], cwd, env)
    assert code == 130, out
    assert leftovers(tmpdir) == []


def test_an_interrupt_while_the_store_builds(ws: Workspace, untouched: None, tmp_path: Path) -> None:
    """The build runs on a copy: interrupted there, the checkout is untouched too (a fresh cache forces it)."""
    real_uv = subprocess.run(
        [sys.executable, "-c", "import uv; print(uv.find_uv_bin())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    marker, wrapper = tmp_path / "building", tmp_path / "uv"
    wrapper.write_text(
        f'#!/bin/sh\ncase " $* " in *" build "*) touch {marker}; sleep 600; exit 1 ;; esac\nexec {real_uv} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = cli_env(tmpdir, UV=str(wrapper), CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "cache"))
    args, cwd = argv(ws, "local-store")
    code, out = interrupt_when(marker, [sys.executable, "-m", "contract_check", *args], cwd, env)
    assert code == 130, out
    assert not list(tmpdir.glob("contract-check-build-*"))


def interrupt_when(marker: Path, command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Start *command*, send SIGINT once *marker* exists, and return its exit code and output."""
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), child.communicate()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    return child.returncode, out + err


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_core_range(run_cli, ws: Workspace, untouched: None, setup: str) -> None:
    args, cwd = argv(ws, setup)
    result = run_cli(*args, "--core-range", ">=1.0,<1.2", cwd=cwd)
    assert result.code == 0, result.output
    assert result.report is not None
    assert [r["core_version"] for r in result.report["runs"]] == [
        *(["1.60.0"] if setup == "local-core" else ["1.50.0"]),
        "1.0.0",
        "1.1.0",
    ]


# ------------------------------------------------------------------------ test dependencies


@pytest.mark.parametrize("extra", [["--store", ".[dev]"], ["--with", TEST_DEPENDENCY]])
def test_the_extra_or_with_installs_the_test_dependency(run_cli, ws: Workspace, untouched: None, extra) -> None:
    args, cwd = argv(ws, "local-store")
    result = run_cli(*args, *extra, cwd=cwd)
    assert result.code == 0, result.output
    assert result.report is not None
    (check,) = [c for c in user_checks(result.report) if c["id"] == ws.store.dependency_contract]
    assert check["status"] == "passed"


def test_without_them_the_run_could_not_check_and_says_how(run_cli, ws: Workspace, untouched: None) -> None:
    args, cwd = argv(ws, "local-store", store=".")
    result = run_cli(*args, cwd=cwd)
    assert result.code == 3, result.output
    assert result.report is not None
    (run,) = result.report["runs"]
    assert run["error_kind"] == "missing-test-dependency"
    assert "tomli_w (needed by collect:tests/contracts/test_config_dump.py)" in run["error"]
    assert "--store '.[dev]' (its [dev] extra requires tomli-w)" in run["error"]
    assert "--store '.[dev]'" in result.stdout and "BROKEN" not in result.stdout


def test_a_conftest_missing_a_test_dependency_at_startup(run_cli, ws: Workspace, tmp_path: Path) -> None:
    """A conftest.py that fails to import ends pytest before any test: still 'could not check', with the tip."""
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "conftest.py").write_text(f"import {TEST_DEPENDENCY.replace('-', '_')}\n", encoding="utf-8")
    (contracts / "test_ok.py").write_text("def test_ok():\n    pass\n", encoding="utf-8")
    args, cwd = argv(ws, "local-store", store=".")
    result = run_cli(*args[:-2], "--contracts", contracts, cwd=cwd)
    assert result.code == 3, result.output
    assert result.report is not None
    error = result.report["runs"][0]["error"]
    assert "(needed by collect:conftest.py)" in error and "--store '.[dev]'" in error


def test_store_tests_that_skip_are_said_not_hidden(run_cli, ws: Workspace, untouched: None) -> None:
    """Seen with the real Store's own tests as --contracts: they skip without a database, and the report said
    only "COMPATIBLE  37 passed"; now the skips are listed with their reason and counted."""
    db_test = ws.store.root / "tests" / "contracts" / "test_db.py"
    db_test.write_text(
        "import os\nimport pytest\n\n\n@pytest.mark.skipif(not os.environ.get('MDS_TEST_DSN'), "
        "reason='set MDS_TEST_DSN to run DB tests')\ndef test_bars_roundtrip():\n    pass\n",
        encoding="utf-8",
    )
    try:
        args, cwd = argv(ws, "local-store")
        result = run_cli(*args, json_report=True, cwd=cwd)
    finally:
        db_test.unlink()
    assert result.code == 0, result.output
    assert result.report is not None and result.report["summary"]["skipped"] == 1
    assert "set MDS_TEST_DSN to run DB tests" in result.stdout and "SKIP" in result.stdout
    assert "tests/contracts/test_db.py::test_bars_roundtrip" in result.stdout
    assert "1 skipped" in result.stdout.splitlines()[-1]


def test_a_missing_core_module_is_a_break(run_cli, ws: Workspace, tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "test_core_module.py").write_text(
        "def test_reads_the_new_module():\n    import market_data_core.telemetry.events\n", encoding="utf-8"
    )
    args, cwd = argv(ws, "local-store")
    result = run_cli(*args[:-2], "--contracts", contracts, cwd=cwd)
    assert result.code == 1, result.output
    (failing,) = result.failing()
    assert failing["id"] == "test_core_module.py::test_reads_the_new_module"
    assert "market_data_core.telemetry.events" in failing["message"]


# ----------------------------------------------------------------------------------- cache hits


def test_a_cache_hit_reports_what_the_original_run_reported(
    run_cli, ws: Workspace, untouched: None, tmp_path: Path
) -> None:
    args, cwd = argv(ws, "local-store", ref="1.1.0")  # inside the Store's declared range >=1.1,<2
    env = cli_env(result_tmp(tmp_path), CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "cache"))  # no earlier result
    first = run_cli(*args, cwd=cwd, env=env)
    second = run_cli(*args, cwd=cwd, env=env)
    assert first.code == second.code == 0, first.output + second.output
    assert first.report is not None and second.report is not None
    (fresh,), (cached,) = first.report["runs"], second.report["runs"]
    assert (fresh["cached"], cached["cached"]) == (False, True)
    assert second.report["store"] == first.report["store"]
    assert first.report["store"]["version"] == "0.2.0" and first.report["store"]["declared_core"] == "<2,>=1.1"
    for key in ("core_version", "in_declared_range", "store_version", "declared_core", "exit_code", "checks"):
        assert cached[key] == fresh[key], key
    assert fresh["in_declared_range"] is True


# ------------------------------------------------------------------------------ golden round trip


@pytest.fixture
def golden_store(tmp_path: Path) -> StoreRepo:
    repo = make_store_repo(tmp_path / "golden-store")
    with open(repo.root / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[tool.contract-check]\ngolden = "contract-golden"\n')
    return repo


def _golden_round_trip(run_cli, repo: StoreRepo, links: Path) -> tuple[Any, Any]:
    common = ["--core-package", CORE_DIST, "--find-links", links]
    snap = run_cli("snapshot", "--core-ref", "1.50.15", *common, cwd=repo.root)  # optional_field_added
    assert snap.code == 0, snap.output
    assert (repo.root / "contract-golden" / "schemas.json").is_file()
    check = run_cli("--core-ref", "1.50.15", *common, cwd=repo.root)
    return snap, check


def test_snapshot_then_check_uses_the_stores_golden(run_cli, golden_store: StoreRepo, ws: Workspace) -> None:
    _, check = _golden_round_trip(run_cli, golden_store, ws.links)
    assert check.code == 0, check.output
    # against the built-in golden, this Core adds an optional field (an INFO finding); against its own, nothing
    assert "OPTIONAL_FIELD_ADDED" not in check.rules()
    builtin = run_cli(
        "--core-ref", "1.50.15", "--core-package", CORE_DIST, "--find-links", ws.links, "--store", ws.store.root
    )
    assert "OPTIONAL_FIELD_ADDED" in builtin.rules()


def test_the_report_names_the_golden_it_used(run_cli, golden_store: StoreRepo, ws: Workspace) -> None:
    _, check = _golden_round_trip(run_cli, golden_store, ws.links)
    assert check.report is not None and "contract-golden" in json.dumps(check.report)
    assert "contract-golden" in check.stdout


def test_the_tests_can_see_a_build_in_place(ws: Workspace, tmp_path: Path) -> None:
    """The check above must be able to fail: building the checkout in place does change it."""
    import shutil

    from storerepo import make_store_repo as fresh_repo

    repo = fresh_repo(tmp_path / "store")
    before = repo.state()
    uv = subprocess.run(
        [sys.executable, "-c", "import uv; print(uv.find_uv_bin())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [uv, "build", "--wheel", "--no-config", "--out-dir", str(tmp_path / "dist"), str(repo.root)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    changed = {k for k in repo.state().keys() | before.keys() if repo.state().get(k) != before.get(k)}
    assert any(k.endswith("PKG-INFO") for k in changed) or repo.status(), changed
    shutil.rmtree(tmp_path / "dist", ignore_errors=True)


def test_a_project_in_a_directory_its_enclosing_repository_ignores_is_copied_whole(tmp_path: Path) -> None:
    """git lists nothing there: the copy falls back to walking the tree, never to an empty project."""
    from contract_check.util import fingerprint

    outer = tmp_path / "outer"
    (outer / "vendor" / "store" / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=outer, check=True)
    (outer / ".gitignore").write_text("vendor/\n", encoding="utf-8")
    (outer / "vendor" / "store" / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (outer / "vendor" / "store" / "src" / "x.py").write_text("", encoding="utf-8")
    assert fingerprint.project_files(outer / "vendor" / "store") == ["pyproject.toml", "src/x.py"]


@pytest.mark.parametrize("setting", ['store-extras = ["dev"]', f'with = ["{TEST_DEPENDENCY}"]'])
def test_the_config_keys_install_the_test_dependency(run_cli, ws: Workspace, tmp_path: Path, setting: str) -> None:
    repo = make_store_repo(tmp_path / "configured")
    with open(repo.root / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[tool.contract-check]\n{setting}\ncontracts = ["tests/contracts"]\n')
    result = run_cli("--core-ref", "1.50.0", "--core-package", CORE_DIST, "--find-links", ws.links, cwd=repo.root)
    assert result.code == 0, result.output
    assert result.report is not None
    assert ws.store.dependency_contract in {c["id"] for c in user_checks(result.report) if c["status"] == "passed"}


def test_a_local_core_whose_path_needs_percent_encoding_is_built_from_a_copy(
    run_cli, ws: Workspace, tmp_path: Path
) -> None:
    """Seen: a Core checkout under a directory with a space was installed from its file: URL as it stands, so
    uv built it in place (build/, egg-info rewritten); the URL's path was never decoded back to the directory."""
    spaced = make_core_repo(tmp_path / "my work" / "core", "1.60.0")
    before = (spaced.status(), spaced.state())
    result = run_cli(
        "--core-ref", "./core", "--core-package", CORE_DIST, "--find-links", str(ws.links),
        "--store", str(ws.store.root), cwd=spaced.root.parent,
    )  # fmt: skip
    assert result.code == 0, result.output
    assert (spaced.status(), spaced.state()) == before
