"""A report path (--json, --junit-xml, --markdown) never names a file the command reads or edits: refused with
exit 2 before anything runs, compared by resolved path and by inode (symlinks, hard links). In-process, nothing
is installed: the refusal comes first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from contract_check import suite
from contract_check.errors import UsageError
from contract_check.models import ExitCode
from contract_check.report import report_paths
from fixturepkgs import CORE_DIST, write_store_project
from test_hardening import NO_SANDBOX, call

OFFLINE = ["--core-package", CORE_DIST, "--offline", "--find-links", "{empty}"]


def project(tmp_path: Path) -> Path:
    store = write_store_project(tmp_path / "store", core_range=">=1.0,<2")
    (store / "requirements.txt").write_text(f"{CORE_DIST}>=1.0,<2\n")
    (store / "requirements-dev.txt").symlink_to("requirements.txt")
    (tmp_path / "empty").mkdir()
    return store


def files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


def run(store: Path, *argv: str) -> tuple[int, str]:
    empty = str(store.parent / "empty")
    ran = call([*argv, *(a.format(empty=empty) for a in OFFLINE)], store, contracts=NO_SANDBOX)
    return ran.code, ran.output


@pytest.mark.parametrize(
    ("command", "target", "said"),
    [
        (["--core-ref", "1.0.0", "--json"], "pyproject.toml", "--json 'pyproject.toml' is a project file"),
        (["check", "--core-ref", "1.0.0", "--markdown"], "setup.py", "--markdown 'setup.py' is a project file"),
        (["bump", "--core-ref", "1.0.0", "--json"], "pyproject.toml", "--json 'pyproject.toml' is a project file"),
        (["bump", "--core-ref", "1.0.0", "--json"], "requirements.txt", "is a requirements file bump edits"),
        (["bump", "--core-ref", "1.0.0", "--json"], "requirements-dev.txt", "is a requirements file bump edits"),
        (["bump", "--core-ref", "1.0.0", "--json"], "../store/./pyproject.toml", "is a project file"),
    ],
)
def test_a_report_path_that_names_an_input_is_refused_before_anything_runs(
    tmp_path: Path, command: list[str], target: str, said: str
) -> None:
    store = project(tmp_path)
    before = files(store)
    code, output = run(store, *command, target)
    assert code == ExitCode.USAGE, output
    assert said in output and "a report never overwrites a file the command reads or edits" in output, output
    assert "tip: write the report somewhere else" in output
    assert files(store) == before


def test_a_symlink_or_a_hard_link_to_an_input_is_refused(tmp_path: Path) -> None:
    store = project(tmp_path)
    (store / "report.json").symlink_to("pyproject.toml")
    os.link(store / "pyproject.toml", tmp_path / "hard.json")
    before = files(store)
    code, output = run(store, "--core-ref", "1.0.0", "--json", "report.json")
    assert code == ExitCode.USAGE and "is a project file" in output, output
    code, output = run(store, "--core-ref", "1.0.0", "--json", str(tmp_path / "hard.json"))
    assert code == ExitCode.USAGE and "is the same file as a project file" in output, output
    assert files(store) == before


def test_the_accept_file_the_suite_and_two_options_on_one_file(tmp_path: Path) -> None:
    store = project(tmp_path)
    (store / "accept.toml").write_text("")
    code, output = run(store, "--core-ref", "1.0.0", "--accept", "accept.toml", "--markdown", "accept.toml")
    assert code == ExitCode.USAGE and "--markdown 'accept.toml' is the accept file" in output, output
    inside = suite.builtin().directory / "golden" / "report.json"
    code, output = run(store, "--core-ref", "1.0.0", "--json", str(inside))
    assert code == ExitCode.USAGE and "is inside the suite" in output, output
    assert not inside.exists()
    code, output = run(store, "--core-ref", "1.0.0", "--json", "out.txt", "--markdown", "./out.txt")
    assert code == ExitCode.USAGE and "--json and --markdown both name out.txt" in output, output


def test_merge_never_writes_over_a_shard_it_reads(tmp_path: Path) -> None:
    shard = tmp_path / "shard.json"
    shard.write_text(json.dumps({"schema_version": 2}))
    before = shard.read_bytes()
    ran = call(["merge", str(shard), "--json", str(shard)], tmp_path)
    assert ran.code == ExitCode.USAGE and "is a shard report merge reads" in ran.output, ran.output
    assert shard.read_bytes() == before


def test_a_new_file_next_to_the_project_is_fine(tmp_path: Path) -> None:
    store = project(tmp_path)
    inputs = report_paths.collect(store, files=[(store / "requirements.txt", "a requirements file")])
    report_paths.refuse_inputs({"json": store / "report.json", "markdown": store / "report.md"}, inputs)
    with pytest.raises(UsageError, match="is a requirements file"):
        report_paths.refuse_inputs({"junit": store / "requirements.txt"}, inputs)
