"""Mistyped versions, git fetch failures in one line, and releases the sandbox's Python cannot install.

A ref that starts like a version but is none (``1.4.6l``) is a usage error answered before anything runs, with
the index versions it most likely meant; git is never started for it. The index listing keeps each release's
requires-python, and ``latest`` and the hints only name releases the sandbox's Python can install.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from packaging.version import Version

from conftest import FakeContracts, cli_env, compatible_outcome
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import ExitCode, Source
from contract_check.sources import index, refs
from contract_check.sources.index import Release
from fixturepkgs import CORE_DIST
from test_hardening import call

CORE = "market-data-core"
RELEASES = [Release(Version(v)) for v in ("1.4.59", "1.4.60", "1.4.61", "1.4.6", "1.5.0")]


# ----------------------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize("ref", ["1.4.6l", "v1.4.61x", "1.4..61", "V1.x", "1.x", "2024-hotfix", "1.4.61-"])
def test_refs_that_start_like_a_version_but_are_none(ref: str) -> None:
    assert refs.looks_mistyped(ref)
    with pytest.raises(UsageError, match="it starts like a version but is not one"):
        refs.parse(ref, core_package=CORE)


@pytest.mark.parametrize("ref", ["1.4.61", "v1.4.61", "1.5.0rc1", "1234567", "1a2b3c4d", "0123456789abcdef", "main"])
def test_versions_shas_and_names_are_not_mistyped(ref: str) -> None:
    assert not refs.looks_mistyped(ref)
    assert refs.parse(ref, core_package=CORE).source in (Source.INDEX, Source.GIT)


@pytest.mark.parametrize("ref", ["lastest", "latets", "lates", "latestt", "Latest", "LATEST"])
def test_a_word_one_edit_from_latest_is_a_usage_error_naming_it(ref: str) -> None:
    with pytest.raises(UsageError) as info:
        refs.parse(ref, core_package=CORE)
    assert info.value.message == f"invalid --core-ref {ref!r}: did you mean latest?"
    assert f"git:{ref}" in (info.value.tip or "")  # a branch of that name is still reachable


@pytest.mark.parametrize("ref", ["late", "lattes-x", "release", "main", "git:lastest"])
def test_words_further_from_latest_are_git_refs(ref: str) -> None:
    assert refs.parse(ref, core_package=CORE).source is Source.GIT


def test_against_knows_pin_as_a_keyword_too() -> None:
    with pytest.raises(UsageError, match=r"invalid --against 'pni': did you mean pin\?"):
        refs.parse("pni", core_package=CORE, flag="--against", keywords=("latest", "pin"))
    assert refs.parse("pni", core_package=CORE).source is Source.GIT  # --core-ref has no "pin"


def test_a_directory_named_like_a_version_is_still_a_path(tmp_path: Path) -> None:
    project = tmp_path / "1.4.6l"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert refs.parse("1.4.6l", core_package=CORE, cwd=tmp_path).source is Source.PATH


@pytest.mark.parametrize(
    ("ref", "meant"),
    [("1.4.6l", "1.4.61"), ("v1.4.61x", "1.4.61"), ("1.4..61", "1.4.61"), ("1.5.O", "1.5.0"), ("V1.4.6O", "1.4.60")],
)
def test_the_hint_names_what_was_meant_first(ref: str, meant: str) -> None:
    with pytest.raises(UsageError) as info:
        refs.parse(ref, core_package=CORE, releases=lambda: RELEASES)
    assert f"did you mean {meant}?" in info.value.message
    assert index.similar(RELEASES, ref)[0] == Version(meant)


def test_the_tip_offers_git_only_for_valid_ref_names() -> None:
    with pytest.raises(UsageError) as info:
        refs.parse("1.x", core_package=CORE)
    assert "git:1.x" in (info.value.tip or "")
    with pytest.raises(UsageError) as info:
        refs.parse("1.4..61", core_package=CORE)
    assert "git:" not in (info.value.tip or "")


def test_a_listing_that_fails_only_loses_the_hint() -> None:
    def offline() -> list[Release]:
        raise EnvironmentProblem("could not reach the package index", kind="network")

    with pytest.raises(UsageError) as info:
        refs.parse("1.4.6l", core_package=CORE, releases=offline)
    assert "did you mean" not in info.value.message and "1.4.6l" in info.value.message


def test_hints_leave_out_releases_the_sandbox_cannot_install() -> None:
    found = [Release(Version("1.4.60")), Release(Version("1.4.61"), requires_python=(">=3.12",))]
    assert index.similar(found, "1.4.6l", python=Version("3.11"))[0] == Version("1.4.60")
    assert index.similar(found, "1.4.6l", python=Version("3.12"))[0] == Version("1.4.61")
    assert index.nearest(found, Version("1.4.62"), python=Version("3.11")) == [Version("1.4.60")]


# ---------------------------------------------------------------------------------- the CLI, in-process


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    """A file: index (PEP 503 pages) whose newest Core releases need a newer Python than older ones."""
    page = tmp_path / "simple" / CORE_DIST
    page.mkdir(parents=True)
    stem = CORE_DIST.replace("-", "_")
    rows = [
        ("1.0.0", None),
        ("1.1.0", "&gt;=3.8"),
        ("1.2.0", "&gt;=3.10"),
        ("1.3.0", "&gt;=3.99"),  # no Python runs it
    ]
    anchors = "".join(
        f'<a href="{stem}-{v}-py3-none-any.whl"{f" data-requires-python={rp!r}" if rp else ""}>{v}</a>\n'
        for v, rp in rows
    )
    (page / "index.html").write_text(f"<html><body>\n{anchors}</body></html>\n", encoding="utf-8")
    return tmp_path / "simple"


def cli(tmp_path: Path, simple: Path, *args: str, contracts: object = None) -> tuple[int, str, dict | None]:
    out = tmp_path / "report.json"
    argv = ["--core-package", CORE_DIST, "--index-url", simple.as_uri(), "--store", "cc-fixture-store", *args]
    ran = call([*argv, "--json", str(out)], tmp_path, contracts=contracts or FakeContracts.factory(compatible_outcome))
    report = json.loads(out.read_text()) if out.is_file() else None
    return ran.code, ran.output, report


def test_the_listing_keeps_requires_python(simple: Path) -> None:
    found = index.releases(CORE_DIST, index.IndexSettings(index_url=simple.as_uri()), uv="unused")
    assert [(str(r.version), r.requires_python) for r in found] == [
        ("1.0.0", ()),
        ("1.1.0", (">=3.8",)),
        ("1.2.0", (">=3.10",)),
        ("1.3.0", (">=3.99",)),
    ]


def test_pep691_json_keeps_requires_python() -> None:
    files = [
        {"filename": "market_data_core-1.4.61-py3-none-any.whl", "requires-python": ">=3.12"},
        {"filename": "market_data_core-1.4.61.tar.gz", "requires-python": ">=3.11"},
        {"filename": "market_data_core-1.4.60.tar.gz", "requires-python": ""},
        {"filename": "market_data_core-1.4.59.tar.gz", "requires-python": None, "yanked": "broken"},
    ]
    found = index.parse_page("application/vnd.pypi.simple.v1+json", json.dumps({"files": files}), CORE)
    assert found[Version("1.4.61")][:2] == (False, {">=3.12", ">=3.11"})
    assert found[Version("1.4.60")][:2] == (False, {None})
    assert found[Version("1.4.59")][:2] == (True, {None})
    release = Release(Version("1.4.61"), requires_python=(">=3.11", ">=3.12"))
    assert release.admits(Version("3.11.4")) and not release.admits(Version("3.10"))  # one of its files installs
    assert Release(Version("1"), requires_python=("not a specifier",)).admits(Version("3.11"))  # uv's to judge


@pytest.mark.parametrize(("python", "picked"), [("3.9", "1.1.0"), ("3.11", "1.2.0"), ("python3.7", "1.0.0")])
def test_latest_is_the_newest_release_the_sandbox_python_installs(
    tmp_path: Path, simple: Path, python: str, picked: str
) -> None:
    code, output, report = cli(tmp_path, simple, "--core-ref", "latest", "--python", python)
    assert code == ExitCode.OK, output
    assert report is not None and report["runs"][0]["requirement"] == f"{CORE_DIST}=={picked}"


def test_latest_without_python_uses_this_interpreter(tmp_path: Path, simple: Path) -> None:
    code, output, report = cli(tmp_path, simple, "--core-ref", "latest")
    assert code == ExitCode.OK, output
    assert report is not None and report["runs"][0]["requirement"] == f"{CORE_DIST}==1.2.0"  # this Python >= 3.10


def test_a_release_the_sandbox_python_cannot_install_says_so(tmp_path: Path, simple: Path) -> None:
    code, output, report = cli(tmp_path, simple, "--core-ref", "1.3.0")
    assert code == ExitCode.ENVIRONMENT, output
    assert report is not None and "requires Python >=3.99; the sandbox runs Python" in report["runs"][0]["error"]
    assert "--python" in report["runs"][0]["error"]


def test_a_mistyped_version_is_a_usage_error_naming_what_was_meant(tmp_path: Path, simple: Path) -> None:
    started = FakeContracts.started
    code, output, _ = cli(tmp_path, simple, "--core-ref", "1.2.O", "--python", "3.11")
    assert code == ExitCode.USAGE, output
    assert "did you mean 1.2.0?" in output
    code, output, _ = cli(tmp_path, simple, "--core-ref", "1.3.O", "--python", "3.11")
    assert code == ExitCode.USAGE and "did you mean 1.3.0" not in output  # 1.3.0 does not install on 3.11
    assert FakeContracts.started == started  # nothing ran


@pytest.mark.parametrize(
    ("flag", "value", "hint"),
    [("--core-ref", "lastest", "did you mean latest?"), ("--against", "pni", "did you mean pin?")],
)
def test_a_near_keyword_stops_the_cli_before_anything_runs(
    tmp_path: Path, simple: Path, flag: str, value: str, hint: str
) -> None:
    started = FakeContracts.started
    args = [flag, value] if flag == "--core-ref" else ["--core-ref", "1.2.0", flag, value]
    code, output, report = cli(tmp_path, simple, *args)
    assert code == ExitCode.USAGE, output
    assert f"invalid {flag} {value!r}: {hint}" in output and report is None
    assert FakeContracts.started == started  # nothing ran, no git


@pytest.mark.parametrize(
    ("python", "version"),
    [("3.12", "3.12"), ("python3.11", "3.11"), ("cpython@3.10", "3.10"), ("CPython-3.13.1", "3.13.1"), ("py3", "3")],
)
def test_python_requests_read_as_versions(python: str, version: str) -> None:
    assert index.python_version(python) == Version(version)


def test_python_version_of_an_unknown_request_is_unknown() -> None:
    assert index.python_version("/no/such/python") is None
    assert index.python_version("pypy-nonexistent-name") is None
    assert index.python_version(None) == Version(".".join(map(str, sys.version_info[:3])))


# ---------------------------------------------------------------------------------- git failures, summed

_UV_GIT = """error: Failed to download and build `cc-fixture-core @ git+{url}@{rev}`
  Caused by: Git operation failed
  Caused by: failed to fetch into: /root/.cache/uv/git-v0/db/af49656
  Caused by: failed to fetch branch or tag `{rev}`
  Caused by: process didn't exit successfully: `/usr/bin/git fetch --force --update-head-ok '{url}' '+refs/tags/{rev}'`
--- stderr
{fatal}
"""
GIT_URL = "https://git.example.invalid/core.git"
UNREACHABLE = "could not be reached"


@pytest.mark.parametrize(
    ("fatal", "why", "kind"),
    [
        ("fatal: unable to access '{url}/': Could not resolve host: git.example.invalid", UNREACHABLE, "network"),
        ("fatal: unable to access '{url}/': Failed to connect to host: Connection refused", UNREACHABLE, "network"),
        ("fatal: could not read Username for '{url}': terminal prompts disabled", "refused access", "auth"),
        ("remote: Repository not found.\nfatal: repository '{url}/' not found", "refused access", "auth"),
        ("fatal: unable to access '{url}/': The requested URL returned error: 403", "refused access", "auth"),
        ("fatal: couldn't find remote ref refs/tags/v9", "no such branch, tag or commit", "ref-not-found"),
        ("fatal: '{url}' does not appear to be a git repository", "no git repository at that URL", "ref-not-found"),
    ],
)  # fmt: skip
def test_git_failures_are_one_line(fatal: str, why: str, kind: str) -> None:
    resolved = refs.resolve(
        refs.parse("git:v9", core_package=CORE), core_package=CORE, core_git=GIT_URL, releases=lambda: []
    )
    output = _UV_GIT.format(url=GIT_URL, rev="v9", fatal=fatal.format(url=GIT_URL))
    problem = refs.git_failure(resolved, output)
    assert problem is not None and problem.kind == kind
    assert "\n" not in problem.message and why in problem.message
    assert problem.message.startswith(f"could not fetch v9 from {GIT_URL}: ")
    assert "-v" in (problem.tip or "")


def test_other_install_failures_keep_their_own_error() -> None:
    resolved = refs.resolve(
        refs.parse("git:v9", core_package=CORE), core_package=CORE, core_git=GIT_URL, releases=lambda: []
    )
    build = "error: Failed to build `cc-fixture-core @ git+...`\n  Caused by: The build backend returned an error"
    assert refs.git_failure(resolved, build) is None
    index_down = "error: Failed to fetch: `https://index.example.invalid/simple/pydantic/`\nfatal: unable to access"
    assert refs.git_failure(resolved, index_down) is None
    version = refs.resolve(refs.parse("1.0", core_package=CORE), core_package=CORE, core_git="", releases=lambda: [])
    assert refs.git_failure(version, _UV_GIT.format(url=GIT_URL, rev="v9", fatal="fatal: x")) is None


# ------------------------------------------------------------------------------ no git: the real CLI


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("1.4.6l", "did you mean 1.4.61?"),
        ("v1.4.61x", "did you mean 1.4.61?"),
        ("1.4..61", "did you mean 1.4.61?"),
        ("lastest", "did you mean latest?"),  # seen: 10 s trying a git host, and no hint
    ],
)
def test_a_mistyped_version_never_starts_git(tmp_path: Path, ref: str, hint: str) -> None:
    """In a Store checkout (a git repository), with a ``git`` on PATH that records its calls and fails."""
    import subprocess

    from storerepo import make_store_repo

    repo = make_store_repo(tmp_path / "store")
    links = tmp_path / "links"
    links.mkdir()
    stem = CORE_DIST.replace("-", "_")
    for version in ("1.4.59", "1.4.60", "1.4.61"):
        (links / f"{stem}-{version}-py3-none-any.whl").write_bytes(b"")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "git-calls"
    fake = bin_dir / "git"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n', encoding="utf-8")
    fake.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    env = cli_env(tmp_path / "tmp", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    tool = [sys.executable, "-m", "contract_check"]
    start = time.monotonic()
    subprocess.run([*tool, "--version"], cwd=repo.root, env=env, capture_output=True, check=True)
    startup = time.monotonic() - start  # the interpreter and the tool's imports, on this machine, now
    argv = [*tool, "--core-ref", ref, "--core-package", CORE_DIST, "--find-links", str(links), "--offline"]
    start = time.monotonic()
    done = subprocess.run(argv, cwd=repo.root, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    assert done.returncode == ExitCode.USAGE, done.stdout + done.stderr
    assert hint in done.stderr
    assert not calls.exists(), calls.read_text()  # no git subprocess started
    # about 1 s in all on an idle machine (under 0.5 s beyond starting up); the slack is for a loaded one
    assert elapsed < startup + 2.0, (elapsed, startup)


@pytest.mark.slow
def test_an_unknown_git_ref_is_one_line_and_git_speaks_only_with_v(run_cli, fixture_world) -> None:
    fx = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel]
    fx += ["--core-git", fixture_world.core_git_url]
    quiet = run_cli("--core-ref", "git:v7.7.7", *fx)
    assert quiet.code == ExitCode.ENVIRONMENT, quiet.output
    assert quiet.report is not None
    (run,) = quiet.report["runs"]
    assert run["error_kind"] == "ref-not-found"
    first, _, tip = run["error"].partition("\ntip: ")
    assert "-v" in tip
    assert "\n" not in first and first.startswith("could not fetch v7.7.7 from file://")
    assert "no such branch, tag or commit" in first and "couldn't find remote ref" in first
    assert "Git operation failed" not in quiet.output  # uv's and git's lines stay out of the report
    loud = run_cli("--core-ref", "git:v7.7.7", *fx, "-v")
    assert loud.code == ExitCode.ENVIRONMENT and "Git operation failed" in loud.stderr
