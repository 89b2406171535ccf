"""The result cache keys on the Core artifact uv installs, not on a guess at its file name.

Seen (issue 17.6): a Core wheel rebuilt broken with the same version was answered "(cached result)
COMPATIBLE" when --find-links was a ``file:///dir`` URL, when the file name's version was not normalised
(``-1.98.04-``, which uv reads as 1.98.4) or the name was capitalised; with an http find-links page even
--no-cache said COMPATIBLE (uv's HTTP cache served the old wheel). Each CLI test below checks, rebuilds and
checks again, then runs the same command against a cache restored from a copy and compares the answers.
The planning and verification rules themselves get fast tests at the end.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from conftest import cli_env
from contract_check.models import Source
from contract_check.sources import artifacts
from contract_check.sources.index import Release, ReleaseFile
from contract_check.sources.refs import ResolvedRef
from fixturepkgs import CORE_DIST, build_core_wheel, make_core_git_repo, write_core_project, write_store_project
from loopback_index import LoopbackIndex
from wheelhouse import build as build_wheelhouse

BROKEN = "queue_size_positive"  # CONSTRAINT_TIGHTENED: a Core that breaks the Store's drained-queue events


def _only(result: Any) -> dict[str, Any]:
    assert result.report is not None, result.output
    (run,) = result.report["runs"]
    return run


def _answer(result: Any) -> tuple[int, list[tuple[str, str]]]:
    run = _only(result)
    return result.code, sorted((c["id"], c["status"]) for c in run["checks"])


def _wheel(links: Path, version: str, variant: str, name: str | None) -> Path:
    """A Core wheel in *links*, under the file name uv must read it by (*name*; None: the normalised one)."""
    built = build_core_wheel(links / "build", version, variant)
    target = links / (name or built.name)
    shutil.move(built, target)
    shutil.rmtree(links / "build")
    return target


@pytest.fixture
def links(tmp_path: Path, fixture_world) -> Path:
    folder = tmp_path / "links"
    folder.mkdir()
    shutil.copy(fixture_world.store_wheel, folder)
    return folder


VARIANTS = {
    # id: (ref, the wheel's file name (None: as built), find-links as a file: URL)
    "file-url": ("7.1.0", None, True),
    "version-not-normalised": ("7.2.4", "cc_fixture_core-7.2.04-py3-none-any.whl", False),
    "name-capitalised": ("7.3.0", "Cc_Fixture_Core-7.3.0-py3-none-any.whl", False),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_find_links_wheel_rebuilt_broken_is_checked_again(run_cli, links, fixture_world, tmp_path, variant) -> None:
    ref, name, as_url = VARIANTS[variant]
    cache = tmp_path / "cache"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    link = links.resolve().as_uri() if as_url else str(links)
    args = ["--core-ref", ref, "--core-package", CORE_DIST, "--find-links", link, "--store", fixture_world.store_wheel]
    wheel = _wheel(links, ref, "baseline", name)
    good = run_cli(*args, env=env)
    assert good.code == 0, good.output
    # item 17.12: the report names the find-links file it installed, not "from index"
    assert _only(good)["artifact"]["origin"] == "find-links", _only(good)
    assert _only(good)["artifact"]["location"] == str(wheel)
    assert f"from find-links file {wheel}" in good.stdout.replace("\n", "")
    assert _only(run_cli(*args, env=env))["cached"] is True  # unchanged: answered from the cache

    _wheel(links, ref, BROKEN, name)  # the same version, the same file name, rebuilt broken
    broken = run_cli(*args, env=env)
    assert broken.code == 1, broken.output
    assert _only(broken)["cached"] is False
    assert "CONSTRAINT_TIGHTENED" in {c["rule"] for c in _only(broken)["checks"]}

    saved = tmp_path / "cache-copy"
    shutil.copytree(cache, saved)  # what a CI cache action saves, and restores on the next runner
    again = run_cli(*args, env=env)
    shutil.rmtree(cache)
    shutil.copytree(saved, cache)
    restored = run_cli(*args, env=env)
    assert [_only(r)["cached"] for r in (again, restored)] == [True, True]
    assert _answer(again) == _answer(restored) == _answer(broken)


def test_an_http_find_links_wheel_is_never_answered_from_a_cache(run_cli, fixture_world, tmp_path) -> None:
    folder = tmp_path / "served"
    folder.mkdir()
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "cache"))
    _wheel(folder, "7.4.0", "baseline", None)
    with LoopbackIndex(folder) as served:
        page = f"{served.url}/{CORE_DIST}/"
        args = ["--core-ref", "7.4.0", "--core-package", CORE_DIST, "--find-links", page,
                "--store", fixture_world.store_wheel]  # fmt: skip
        good = run_cli(*args, env=env)
        assert good.code == 0, good.output
        assert _only(good)["artifact"]["origin"] == "find-links"
        _wheel(folder, "7.4.0", BROKEN, None)  # rebuilt broken behind the same URL
        for extra in (["--no-cache"], []):
            result = run_cli(*args, *extra, env=env)
            assert result.code == 1, (extra, result.output)
            assert _only(result)["cached"] is False


def _twice_restored(run_cli, args: list[Any], cache: Path, env: dict[str, str]) -> tuple[Any, Any]:
    """The same command twice, the second time against the cache restored from a copy taken before it."""
    saved = cache.with_name(cache.name + "-copy")
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(cache, saved)
    first = run_cli(*args, env=env)
    shutil.rmtree(cache)
    shutil.copytree(saved, cache)
    return first, run_cli(*args, env=env)


def test_a_git_branch_is_cached_by_its_commit_and_checked_again_when_it_moves(run_cli, fixture_world, tmp_path) -> None:
    repo = tmp_path / "core-git"
    make_core_git_repo(repo, [("v7.6.0", "7.6.0", "baseline")])
    cache = tmp_path / "cache"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    args = ["--core-ref", "git:main", "--core-git", f"git+{repo.as_uri()}", "--core-package", CORE_DIST,
            "--store", fixture_world.store_wheel]  # fmt: skip
    good = run_cli(*args, env=env)
    assert good.code == 0, good.output
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert _only(good)["artifact"] == {"origin": "git", "location": repo.as_uri(), "digest": f"git:{commit}"}
    again, restored = _twice_restored(run_cli, args, cache, env)
    assert [_only(r)["cached"] for r in (again, restored)] == [True, True]
    assert _answer(again) == _answer(restored) == _answer(good)

    write_core_project(repo, "7.6.1", BROKEN)  # main moves on to a broken commit
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "commit", "-qam", "broken"], cwd=repo, check=True, capture_output=True)
    moved = run_cli(*args, env=env)
    assert moved.code == 1 and _only(moved)["cached"] is False, moved.output
    again, restored = _twice_restored(run_cli, args, cache, env)
    assert [_only(r)["cached"] for r in (again, restored)] == [True, True]
    assert _answer(again) == _answer(restored) == _answer(moved)


def test_an_index_release_is_cached_by_the_hash_the_index_gives(run_cli, fixture_world, tmp_path) -> None:
    """An index that serves another file under the same name (a re-upload, a mirror out of step) changes the
    hash its listing gives, and with it the key."""
    served = tmp_path / "served"
    build_wheelhouse(served, ["pydantic", "pytest"], exclude="pydantic-contract-check")  # the Store's deps
    _wheel(served, "7.7.0", "baseline", None)
    cache = tmp_path / "cache"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    with LoopbackIndex(served, hashes=True) as index:
        args = ["--core-ref", "7.7.0", "--core-package", CORE_DIST, "--index-url", index.url,
                "--store", fixture_world.store_wheel]  # fmt: skip
        good = run_cli(*args, env=env)
        assert good.code == 0, good.output
        assert _only(good)["artifact"]["origin"] == "index", _only(good)
        again, restored = _twice_restored(run_cli, args, cache, env)
        assert [_only(r)["cached"] for r in (again, restored)] == [True, True]
        assert _answer(again) == _answer(restored) == _answer(good)
        _wheel(served, "7.7.0", BROKEN, None)
        replaced = run_cli(*args, env=env)
        assert replaced.code == 1 and _only(replaced)["cached"] is False, replaced.output


def test_a_user_contract_cannot_stand_in_for_a_builtin_check(run_cli, links, fixture_world, tmp_path) -> None:
    """Item 17.12: a user contract marked with a built-in check's id was reported "did not run" and entered
    the built-ins' completeness map (a skipped one made the run "could not check")."""
    project = write_store_project(tmp_path / "store")
    contracts = project / "tests" / "contracts"
    contracts.mkdir(parents=True)
    (contracts / "test_reuses.py").write_text(
        "import pytest\n\n"
        '@pytest.mark.contract(id="feedback.round-trip", subject="FeedbackEvent", layer="assertion")\n'
        "def test_needs_a_database():\n"
        '    pytest.skip("no database here")\n'
    )
    args = ["--core-ref", fixture_world.variant_versions["baseline"], "--core-package", CORE_DIST,
            "--find-links", fixture_world.find_links, "--contracts", "tests/contracts", "--no-cache"]  # fmt: skip
    result = run_cli(*args, cwd=project)
    assert result.code == 0, result.output
    checks = {c["id"]: c for c in _only(result)["checks"]}
    assert checks["feedback.round-trip"]["status"] == "passed" and checks["feedback.round-trip"]["layer"] == "assertion"
    mine = checks["tests/contracts/test_reuses.py::test_needs_a_database"]
    assert (mine["status"], mine["layer"]) == ("skipped", "user")


# ------------------------------------------------------------------------ planning and verifying (fast)


def _resolved(version: str) -> ResolvedRef:
    return ResolvedRef(version, f"{CORE_DIST}=={version}", Source.INDEX, Version(version))


def _listing(*files: ReleaseFile, version: str = "7.5.0") -> list[Release]:
    return [Release(Version(version), files=files)]


def test_the_key_follows_the_bytes_of_every_file_uv_may_pick(tmp_path: Path) -> None:
    wheel = build_core_wheel(tmp_path, "7.5.0")
    local = ReleaseFile(wheel.name, "find-links directory", str(wheel))
    first = artifacts.plan(_resolved("7.5.0"), releases=lambda: _listing(local))
    assert first.identity and first.local == (wheel,)
    build_core_wheel(tmp_path, "7.5.0", BROKEN)
    rebuilt = artifacts.plan(_resolved("7.5.0"), releases=lambda: _listing(local))
    assert rebuilt.identity and rebuilt.identity != first.identity
    hashed = ReleaseFile(wheel.name, "index", "https://index.invalid/x.whl", "a" * 64)
    other_hash = ReleaseFile(wheel.name, "index", "https://index.invalid/x.whl", "b" * 64)
    plans = [artifacts.plan(_resolved("7.5.0"), releases=lambda f=f: _listing(f)) for f in (hashed, other_hash)]
    assert plans[0].identity != plans[1].identity and plans[0].index


def test_a_remote_find_links_page_or_a_url_is_never_pinned() -> None:
    page = ReleaseFile("cc_fixture_core-7.5.0-py3-none-any.whl", "find-links page", "https://host.invalid/f.whl")
    assert artifacts.plan(_resolved("7.5.0"), releases=lambda: _listing(page)).identity is None
    url = ResolvedRef("x", f"{CORE_DIST} @ https://host.invalid/core.whl", Source.URL)
    assert artifacts.plan(url, releases=None).identity is None


def test_an_install_is_verified_against_the_planned_wheel(tmp_path: Path) -> None:
    wheel = build_core_wheel(tmp_path / "links", "7.5.0")
    planned = artifacts.plan(
        _resolved("7.5.0"), releases=lambda: _listing(ReleaseFile(wheel.name, "find-links directory", str(wheel)))
    )
    record = artifacts.wheel_record(wheel)
    assert record
    same = artifacts.Installed("7.5.0", dict(record), None)
    ok, artifact = artifacts.verify(planned, same, redact=str)
    assert ok and artifact is not None and (artifact.origin, artifact.location) == ("find-links", str(wheel))
    stale = artifacts.Installed("7.5.0", {**record, next(iter(record)): "sha256=stale"}, None)  # uv's old copy
    assert artifacts.verify(planned, stale, redact=str)[0] is False
    assert artifacts.verify(planned, None, redact=str)[0] is False


def test_a_git_install_is_verified_by_its_commit() -> None:
    resolved = ResolvedRef("git:main", f"{CORE_DIST} @ git+file:///r@main", Source.GIT, git_url="file:///r",
                           git_rev="a" * 40)  # fmt: skip
    planned = artifacts.plan(resolved, releases=None)
    assert planned.identity == "git:" + "a" * 40
    moved = artifacts.Installed("1.0", {}, {"url": "file:///r", "vcs_info": {"vcs": "git", "commit_id": "b" * 40}})
    ok, artifact = artifacts.verify(planned, moved, redact=str)
    assert not ok and artifact is not None and artifact.digest == "git:" + "b" * 40
    same = artifacts.Installed("1.0", {}, {"url": "file:///r", "vcs_info": {"vcs": "git", "commit_id": "a" * 40}})
    assert artifacts.verify(planned, same, redact=str)[0] is True


def test_a_local_wheel_whose_path_needs_percent_encoding_is_pinned(tmp_path: Path) -> None:
    wheel = build_core_wheel(tmp_path / "with space", "7.5.0")
    planned = artifacts.plan(ResolvedRef("x", f"{CORE_DIST} @ {wheel.as_uri()}", Source.PATH), releases=None)
    assert planned.identity and planned.local == (wheel,)
