"""bump through the CLI, with real uv venvs: the field-shaped Store with its damaged UTF-16 requirements file, git
refs pinned to the commit that was checked in the repository that was checked, unpublished versions refused
unless --allow-unpublished, and the refusals that come before any check (one ref, a lower target)."""

from __future__ import annotations

import codecs
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeContracts
from contract_check.models import Source
from contract_check.sources import artifacts, refs
from fixturepkgs import CORE_DIST, write_store_project
from storerepo import make_store_repo
from test_hardening import NO_SANDBOX, call

GOOD = "1.50.0"  # fixture_world.variant_versions["baseline"]: a Core that keeps the contract


def damaged_requirements(core_line: str) -> bytes:
    """The field Store's requirements.txt: UTF-16 LE, BOM, CRLF, 7 NUL characters and a stray 0x0A byte."""
    lines = ["# runtime pins for the service image", "pydantic>=2.7,<3", core_line, "structlog>=24.1"]
    return codecs.BOM_UTF16_LE + "".join(f"{ln}\r\n" for ln in lines).encode("utf-16-le") + b"\x00" * 14 + b"\x0a"


@pytest.mark.slow
def test_bump_in_the_field_store_with_its_damaged_utf16_file(run_cli: Any, fixture_world: Any, tmp_path: Path) -> None:
    assert fixture_world.variant_versions["baseline"] == GOOD
    repo = make_store_repo(tmp_path / "store")
    damaged = damaged_requirements(f"{CORE_DIST}>=1.1,<2")
    (repo.root / "requirements.txt").write_bytes(damaged)
    pyproject = (repo.root / "pyproject.toml").read_bytes()
    common = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--allow-unpublished"]
    done = run_cli("bump", "--core-ref", GOOD, *common, cwd=repo.root, json_report=False)
    assert done.code == 0, done.output
    assert (repo.root / "pyproject.toml").read_bytes() == pyproject.replace(b">=1.1,<2", f">={GOOD},<2".encode())
    assert (repo.root / "requirements.txt").read_bytes() == damaged  # byte for byte, the damage included
    size = len(damaged)
    out = " ".join(done.stdout.split())  # the console wraps long lines
    assert "wrote 1 file(s): pyproject.toml" in out
    assert (
        f"left alone: requirements.txt (UTF-16 LE with a byte order mark, {size:,} bytes) is damaged: bytes "
        f"{size - 15:,}-{size - 2:,} are 7 NUL characters (U+0000), after the last line; byte {size - 1:,} is half "
        "a UTF-16 character (0x0A, a line feed): the file has an odd number of bytes"
    ) in out, out
    assert "pip cannot read it either" in out and f"its {CORE_DIST} line (line 3) still reads" in out
    assert f"tip: remove the damage (truncate -s {size - 15} requirements.txt), then run bump again" in out
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo.root, capture_output=True, text=True)
    assert status.stdout.split("\n")[:2] == [" M pyproject.toml", "?? requirements.txt"], status.stdout


def _clone_with_branch(fixture_world: Any, root: Path, branch: str, at: str) -> Path:
    clone = root / "core.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fixture_world.core_git), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "branch", branch, fixture_world.git_shas[at]], check=True)
    return clone


@pytest.mark.slow
def test_a_git_ref_is_pinned_to_the_checked_commit_in_the_checked_repository(
    run_cli: Any, fixture_world: Any, tmp_path: Path
) -> None:
    clone = _clone_with_branch(fixture_world, tmp_path, "good", "v1.1.0")
    sha = fixture_world.git_shas["v1.1.0"]
    store = write_store_project(tmp_path / "store", core_range=" @ git+https://example.invalid/core.git@v1.0.0")
    with (store / "pyproject.toml").open("a") as handle:
        handle.write("\n[tool.hatch.metadata]\nallow-direct-references = true\n")
    before = (store / "pyproject.toml").read_text()
    args = ["bump", "--core-ref", "git:good", "--core-git", clone.as_uri(), "--core-package", CORE_DIST]
    done = run_cli(*args, "--find-links", fixture_world.find_links, cwd=store, json_report=False)
    assert done.code == 0, done.output
    assert f"git:good is commit {sha} of {clone.as_uri()}: checking that commit" in " ".join(done.stdout.split())
    assert (store / "pyproject.toml").read_text() == before.replace(
        "git+https://example.invalid/core.git@v1.0.0", f"git+{clone.as_uri()}@{sha}"
    )


@pytest.mark.slow
def test_an_unpublished_version_is_refused_for_a_version_specifier(
    run_cli: Any, fixture_world: Any, tmp_path: Path
) -> None:
    store = write_store_project(tmp_path / "store", core_range=">=1.0,<2")
    before = (store / "pyproject.toml").read_bytes()
    args = ["bump", "--core-ref", "git:v1.1.0", "--core-git", fixture_world.core_git_url, "--core-package", CORE_DIST]
    args += ["--find-links", fixture_world.find_links]
    refused = run_cli(*args, cwd=store, json_report=False)
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert f"{CORE_DIST} 1.1.0 is not on the package index: nobody could install that pin" in said, said
    assert "--allow-unpublished" in said
    assert (store / "pyproject.toml").read_bytes() == before
    allowed = run_cli(*args, "--allow-unpublished", cwd=store, json_report=False)
    assert allowed.code == 0, allowed.output
    assert (store / "pyproject.toml").read_bytes() == before.replace(b">=1.0,<2", b">=1.1.0,<2")


# ------------------------------------------------------------------------- refused before anything runs


def _store(tmp_path: Path, core_range: str) -> Path:
    store = write_store_project(tmp_path / "store", core_range=core_range)
    (tmp_path / "empty").mkdir()
    return store


def _bump(store: Path, *argv: str) -> tuple[int, str]:
    before = FakeContracts.started
    offline = ["--core-package", CORE_DIST, "--offline", "--find-links", str(store.parent / "empty")]
    ran = call(["bump", *argv, *offline], store, contracts=NO_SANDBOX)
    assert FakeContracts.started == before, "a check ran"
    return ran.code, " ".join(ran.output.split())


def test_bump_takes_one_ref(tmp_path: Path) -> None:
    code, said = _bump(_store(tmp_path, ">=1.0,<2"), "--core-ref", "1.4.60,1.4.61")
    assert code == 2 and "bump takes one ref, not a list ('1.4.60,1.4.61')" in said, said
    assert "did you mean" not in said


def test_a_target_below_the_current_lower_bound_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path, ">=1.1,<2")
    before = (store / "pyproject.toml").read_bytes()
    code, said = _bump(store, "--core-ref", "1.0.0")
    assert code == 2, said
    assert "1.0.0 is below the current lower bound (>=1.1) of 'cc-fixture-core>=1.1,<2'; bump only raises" in said
    assert (store / "pyproject.toml").read_bytes() == before


def test_offline_a_version_cannot_be_confirmed_as_published(tmp_path: Path) -> None:
    code, said = _bump(_store(tmp_path, ">=1.0,<2"), "--core-ref", "1.1.0")
    assert code == 2 and "offline, the index cannot confirm that it serves cc-fixture-core 1.1.0" in said, said


# ------------------------------------------------------------------------------- what bump says, in parts


def test_what_bump_says_about_links_files_left_alone_and_a_dry_run(tmp_path: Path, capsys: Any) -> None:
    from packaging.version import Version

    from contract_check.bump import bump_report, edits
    from contract_check.bump.command import Bumped

    store = _store(tmp_path, ">=1.0,<2")
    (store / "requirements.txt").write_text(f"{CORE_DIST}>=1.0\n")
    (store / "requirements-dev.txt").symlink_to("requirements.txt")
    (store / "requirements-ci.txt").write_bytes(f"{CORE_DIST}>=1.0 --hash=sha256:ab\n".encode())
    os_link = tmp_path / "elsewhere.txt"
    os_link.hardlink_to(store / "requirements.txt")
    (store / "requirements.txt").chmod(0o444)
    plan = edits.plan_bump(store, CORE_DIST, Version("1.1.0"))
    bump_report.say(Bumped(report=None, plan=plan, written=False), dry_run=True)  # type: ignore[arg-type]
    said = "".join(capsys.readouterr().out.split())  # the console folds long lines (and long paths)

    def shown(text: str) -> bool:
        return "".join(text.split()) in said

    assert shown("requirements-dev.txt is another name of requirements.txt (a link): the same file, counted once")
    assert shown("requirements.txt: it has 1 other hard link(s), which show the change too")
    assert shown(f"dry run: nothing written; a real run would refuse: {store / 'requirements.txt'} is read-only")
    assert shown("left alone: requirements-ci.txt line 1: the cc-fixture-core line pins hashes")


def test_a_version_is_published_only_when_the_index_lists_it() -> None:
    from packaging.version import Version

    from contract_check.bump import command
    from contract_check.config import Options
    from contract_check.errors import EnvironmentProblem
    from contract_check.run.settings import core_source
    from contract_check.sources import index

    options = core_source(Options(core_package=CORE_DIST))
    listed = [index.Release(Version("1.1.0")), index.Release(Version("1.2.0"), yanked=True)]
    assert command.unpublished(Version("1.1.0"), options, lambda: listed) is None
    assert (
        command.unpublished(Version("1.2.0"), options, lambda: listed)
        == f"{CORE_DIST} 1.2.0 is not on the package index"
    )
    assert (
        command.unpublished(Version("1.3.0"), options, lambda: listed)
        == f"{CORE_DIST} 1.3.0 is not on the package index"
    )

    def unreachable() -> list[index.Release]:
        raise EnvironmentProblem("the index answered 503")

    said = command.unpublished(Version("1.1.0"), options, unreachable)
    assert said == f"the index could not be asked whether it serves {CORE_DIST} 1.1.0 (the index answered 503)"


@pytest.mark.slow  # git ls-remote
def test_commit_of_a_branch_a_tag_and_an_ambiguous_name(fixture_world: Any, tmp_path: Path) -> None:
    from contract_check.errors import EnvironmentProblem, UsageError
    from contract_check.sources.gitrev import commit_of

    clone = _clone_with_branch(fixture_world, tmp_path, "v1.0.0-fix", "v1.1.0")
    url = clone.as_uri()
    shas = fixture_world.git_shas
    assert commit_of(url, "v1.1.0") == shas["v1.1.0"]  # an annotated tag: its commit, not the tag object
    assert commit_of(url, "v1.0.0-fix") == shas["v1.1.0"]
    assert commit_of(url, "feature/next") == shas["feature/next"]
    assert commit_of(url, shas["v1.0.0"]) == shas["v1.0.0"]
    subprocess.run(["git", "-C", str(clone), "branch", "v1.0.0", shas["v1.1.0"]], check=True)  # a branch named as a tag
    with pytest.raises(UsageError, match="names both a branch and a tag"):
        commit_of(url, "v1.0.0")
    ambiguous = refs.ResolvedRef("git:v1.0.0", f"c @ git+{url}@v1.0.0", Source.GIT, git_url=url, git_rev="v1.0.0")
    assert artifacts.git_commit(ambiguous) is None  # the result cache never keys a run on a guess (was: the last SHA)
    with pytest.raises(UsageError, match=r"'[0-9a-f]{10}' is not a branch or tag of .*, and a short commit") as short:
        commit_of(url, shas["v1.0.0"][:10])
    assert short.value.tip == "give the commit as its full 40-character SHA"
    with pytest.raises(EnvironmentProblem, match="has no branch or tag 'nope'"):
        commit_of(url, "nope")


@pytest.mark.slow  # mount is a process
def test_a_real_full_disk_writes_nothing_and_is_exit_3(tmp_path: Path) -> None:
    from packaging.version import Version

    from contract_check.bump import edits
    from contract_check.bump.inplace import WriteFailed

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        store = write_store_project(disk / "store", core_range=">=1.0,<2")
        (store / "requirements.txt").write_text(f"{CORE_DIST}>=1.0,<2\n")
        plan = edits.plan_bump(store, CORE_DIST, Version("1.1.0"))
        before = {p: p.read_bytes() for p in (store / "pyproject.toml", store / "requirements.txt")}
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # fill the file system to the last byte
        try:
            while os.write(filler, b"\0" * 512):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        with pytest.raises(WriteFailed) as caught:
            edits.apply(plan)
        assert caught.value.exit_code == 3
        assert caught.value.message.startswith("no space left on device while writing a backup of ")
        assert caught.value.message.endswith("nothing was written")
        assert {p: p.read_bytes() for p in before} == before
        assert not list(store.glob("*.contract-check-backup"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)
