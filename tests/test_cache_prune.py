"""The cache's bound (issue 18): a ledger of what each entry costs and when it was last used, least recently used
eviction at most once per command and at its end, `cache prune`, and nothing a running check holds removed
(fast tier: real trees, the tool's own writers, a check in this process with its contracts replaced)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from unittest import mock

import pytest

from conftest import FakeContracts, compatible_outcome
from contract_check.cache import cachedir, cacheledger
from contract_check.cache.cacheledger import Bound, Record
from contract_check.cli import app
from contract_check.errors import UsageError
from contract_check.run.pytest_session import Outcome
from contract_check.sandbox import baseenv
from contract_check.sources.artifacts import Installed
from fixturepkgs import CORE_DIST
from test_cache_safety import fake_venv, fresh_cache_state, run, snapshot, write_tool_entries

__all__ = ["fresh_cache_state"]  # the autouse fixture, for this module too

DAY = 86400.0


def test_plan_evicts_the_expired_the_unused_then_the_least_recently_used() -> None:
    now = 100 * DAY
    records = [
        Record("results/a.json", "result", 10, used=now - 1, expires=now - 1),  # past its TTL
        Record("envs/old", "base", 100, used=now - 9 * DAY),  # unused for longer than the age bound
        Record("envs/b", "base", 100, used=now - 3 * DAY),
        Record("wheels/c", "wheel", 100, used=now - 2 * DAY),
        Record("envs/d", "base", 100, used=now - 1 * DAY),
    ]
    plan = cacheledger.plan(records, Bound(max_size=150, max_age=7 * DAY), now)
    assert [(e.record.path, e.reason.split(",")[0]) for e in plan] == [
        ("envs/old", "unused for 9d"),
        ("results/a.json", "expired"),
        ("envs/b", "least recently used"),
        ("wheels/c", "least recently used"),
    ]
    assert cacheledger.plan(records, Bound(None, None), now) == [cacheledger.Eviction(records[0], "expired")]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1GiB", 1024**3),
        ("500M", 500 * 1024**2),
        ("1.5g", int(1.5 * 1024**3)),
        ("2048", 2048),
        ("0", 0),
        ("none", None),
    ],
)
def test_sizes(text: str, size: int | None) -> None:
    assert cacheledger.parse_size(text, "--max-size") == size


def test_the_bound_comes_from_the_option_then_the_variable_then_the_default() -> None:
    assert cacheledger.bound({}) == Bound(1024**3, 7 * DAY)
    environ = {cacheledger.SIZE.variable: "10M", cacheledger.AGE.variable: "36h"}
    assert cacheledger.bound(environ) == Bound(10 * 1024**2, 36 * 3600.0)
    assert cacheledger.bound(environ, max_size="none", max_age="90m") == Bound(None, 5400.0)
    for bad in ("10 parsecs", "-1", "1e9", ""):
        with pytest.raises(UsageError, match="is not a size"):
            cacheledger.parse_size(bad, "--max-size")
    with pytest.raises(UsageError, match="CONTRACT_CHECK_CACHE_MAX_AGE 'a week' is not an age"):
        cacheledger.bound({cacheledger.AGE.variable: "a week"})


def test_prune_keeps_what_a_running_check_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    written = write_tool_entries(root)
    held = "e" * 32
    with baseenv.persistent_base(held, fake_venv) as base:  # a check that holds its base right now
        code, output = run("cache", "prune", "--max-size", "0", cache=root)
        assert code == 0 and "removed 3 entries" in output, output
        assert f"kept 1 in use by a running check: envs/{held}" in output
        assert baseenv._marker(base.path) is not None and not any((root / w).exists() for w in written)
    code, output = run("cache", "prune", "--max-size", "0", cache=root)
    assert code == 0 and "removed 1 entry" in output and not base.path.exists(), output
    assert cacheledger.read(root)[0] == {}


def test_an_edited_ledger_makes_prune_forget_never_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    write_tool_entries(root)
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (root / "results" / f"{'9' * 32}.json").write_text('{"mine": 1}')  # the user's, with a result's name
    lines = [
        {"path": f"results/{'9' * 32}.json", "kind": "result", "size": 5, "used": 0},
        {"path": "results/../../outside.json", "kind": "result", "size": 5, "used": 0},
        {"path": str(outside), "kind": "result", "size": 5, "used": 0},
        {"path": "envs", "kind": "base", "size": 5, "used": 0},
        "not even an object",
    ]
    with (root / cacheledger.LEDGER).open("a") as fh:
        fh.write("\n".join(json.dumps(line) for line in lines) + "\n{broken\n")
    before = snapshot(tmp_path)
    code, output = run("cache", "prune", "--max-size", "0", cache=root)
    assert code == 0, output
    after = snapshot(tmp_path)
    assert after["outside.json"] == before["outside.json"]
    assert after[f"cache/results/{'9' * 32}.json"] == before[f"cache/results/{'9' * 32}.json"]
    assert cacheledger.read(root)[0] == {}  # every line that named something gone or foreign is forgotten


def test_eviction_runs_once_at_the_end_of_a_command_from_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    (tmp_path / "links").mkdir()
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    monkeypatch.setenv(cacheledger.SIZE.variable, "0")
    monkeypatch.chdir(tmp_path)
    for version in ("1.0.0", "1.0.1"):  # local sdists: a run is cached once uv is seen to install that version
        (tmp_path / f"core-{version}.tar.gz").write_bytes(version.encode())
    argv = ["--core-ref", "./core-1.0.0.tar.gz,./core-1.0.1.tar.gz", "--core-package", CORE_DIST]
    argv += ["--find-links", str(tmp_path / "links"), "--offline", "--index-url", "file:///nonexistent/simple"]
    argv += ["--store", "pkg==1.0", "-q"]
    pruned: list[Path] = []
    real = cacheledger.prune

    def counted(where: Path, limit: Bound, now: float | None = None) -> cacheledger.Pruned:
        pruned.append(where)
        with mock.patch("os.walk", side_effect=AssertionError("eviction walked the cache")):
            return real(where, limit, now)

    def installed() -> Outcome:
        return dataclasses.replace(compatible_outcome(), installed=Installed("1.0.0", {}, None))

    with mock.patch.object(cacheledger, "prune", counted):
        assert app.run(argv, contracts=FakeContracts.factory(installed)) == 0
        assert pruned == [root]  # once, for the two results the command wrote
        assert not list((root / "results").glob("*.json"))  # a bound of 0: evicted at the end
        assert app.run(["list"]) == 0
        assert pruned == [root]  # a command that did not use the cache prunes nothing


def test_a_bad_bound_variable_does_not_fail_a_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    monkeypatch.setenv(cacheledger.SIZE.variable, "lots")
    write_tool_entries(root)
    with mock.patch.object(cacheledger.log, "warning") as warned:
        cacheledger.end_of_command()
    assert "is not a size" in str(warned.call_args)
    assert len(cacheledger.read(root)[0]) == 3


def test_the_ledger_is_compacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    (entry,) = [w for w in write_tool_entries(root) if w.startswith("envs/")]
    for _ in range(200):
        cacheledger.touch(root, entry)
    assert cacheledger.read(root)[1] > 200
    cacheledger.prune(root, Bound(None, None))
    records, lines = cacheledger.read(root)
    assert lines == len(records) == 3 and os.path.isdir(root / entry)


def test_prune_sweeps_what_an_interrupted_removal_or_build_left_unless_it_is_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    write_tool_entries(root)
    left, building = "1" * 32, "2" * 32
    trash = cachedir.staging(root / "envs", f"{left}.trash")  # a removal stopped midway
    fake_venv(trash / "entry")
    staging = cachedir.staging(root / "envs", building)  # a build in progress: its builder holds the key's lock
    with cachedir.locked(root / "envs" / f"{building}.lock", exclusive=True):
        cacheledger.prune(root, Bound(None, None))
        assert not trash.exists() and staging.is_dir()
    cacheledger.prune(root, Bound(None, None))
    assert not staging.exists()


def test_an_interrupt_while_evicting_stops_it_and_changes_no_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    monkeypatch.setenv(cacheledger.SIZE.variable, "0")
    write_tool_entries(root)
    with mock.patch.object(cachedir, "remove", side_effect=KeyboardInterrupt):
        cacheledger.end_of_command()  # returns: the command's own answer stands
    assert len(cacheledger.read(root)[0]) == 3
