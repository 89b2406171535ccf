"""Bounded reading everywhere, no exit 4 from a user's file (issue 17, item 10).

Exit 4 used to come from a suite ``test_*.py`` that is not UTF-8, has a syntax error or is nested 200,000
deep, from a ``suite.toml`` linked to ``/dev/zero`` (MemoryError), and from a ``--golden`` ``schemas.json``
nested too deep, not UTF-8, or a JSON list; a FIFO ``test_x.py`` or ``suite.toml`` hung ``list --suite`` and
``check --suite``. Each is now exit 2 naming the file and what is wrong; the sandbox's own result files are
read bounded too. And a scan of the package's source keeps "every file is read through fsread" true.

In-process (``cli.run`` with the contracts replaced), each call under ``promptly`` (an alarm and a memory
ceiling): a regression fails the test instead of hanging or exhausting the machine.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from conftest import FakeContracts, compatible_outcome
from contract_check import PACKAGE_DIR, suite
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import ExitCode
from contract_check.run import events, pytest_session
from contract_check.sandbox import baseenv
from fixturepkgs import CORE_DIST, STORE_DIST
from test_fsread import WORD, odd_file, promptly
from test_hardening import call

SRC = PACKAGE_DIR
DEEP = "x = " + "-" * 200_000 + "1\n"  # the parser runs out of stack: MemoryError in 3.11, not a SyntaxError
CHECK = ["--core-ref", f"{CORE_DIST} @ https://example.invalid/core.whl", "--core-package", CORE_DIST,
         "--store", f"{STORE_DIST} @ https://example.invalid/store.whl", "--offline"]  # fmt: skip


def a_suite(tmp_path: Path) -> Path:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "suite.toml").write_text('[suite]\nname = "s"\ncore-package = "cc-fixture-core"\n')
    (folder / "test_fine.py").write_text("def test_fine():\n    pass\n")
    return folder


def both(tmp_path: Path, folder: Path) -> list[Any]:
    """``list --suite`` and ``check --suite``, each promptly."""
    listed = promptly(lambda: call(["list", "--suite", folder], tmp_path))
    checked = promptly(lambda: call([*CHECK, "--suite", folder], tmp_path, contracts=FakeContracts.factory(None)))
    for ran in (listed, checked):
        assert "Traceback" not in ran.output and "internal error" not in ran.output, ran.output
    return [listed, checked]


# ------------------------------------------------------------------------------------ suite files


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"def test_a():\n    return '\xff'\n", "is not UTF-8 text"),
        (b"def test_a(:\n    pass\n", "is not valid Python: invalid syntax (line 1)"),
        (DEEP.encode(), "is nested too deeply to be parsed"),
        (b"x = " + b"(" * 300 + b")" * 300 + b"\n", "is not valid Python: too many nested parentheses"),
        (b"def test_a():\n    pass\n\0", "is not valid Python: source code string cannot contain null bytes"),
    ],
)
def test_a_suite_test_file_python_cannot_read(tmp_path: Path, body: bytes, says: str) -> None:
    folder = a_suite(tmp_path)
    (folder / "test_bad.py").write_bytes(body)
    for ran in both(tmp_path, folder):
        assert ran.code == ExitCode.USAGE, ran.output  # was 4: UnicodeDecodeError, SyntaxError, MemoryError
        assert f"the suite's contract file {folder / 'test_bad.py'} {says}" in ran.stderr, ran.stderr


@pytest.mark.parametrize(
    ("kind", "name"),
    [("fifo", "test_x.py"), ("dev-zero", "test_x.py"), ("fifo", "suite.toml"), ("dev-zero", "suite.toml"),
     ("fifo", "conftest.py"), ("dev-zero", "data.json")],
)  # fmt: skip
def test_a_fifo_or_device_in_a_suite(tmp_path: Path, kind: str, name: str) -> None:
    folder = a_suite(tmp_path)
    if name == "suite.toml":
        (folder / name).unlink()
    bad = odd_file(kind, folder / name)
    for ran in both(tmp_path, folder):
        assert ran.code == ExitCode.USAGE, ran.output  # was a hang (FIFO) or MemoryError (/dev/zero)
        assert str(bad) in ran.stderr and WORD[kind] in ran.stderr, ran.stderr


def test_a_suite_the_sandbox_copy_would_block_on_is_refused_before(tmp_path: Path) -> None:
    """``pytest_session.prepare`` copies the suite into the sandbox; a FIFO in it used to block that copy forever."""
    folder = a_suite(tmp_path)
    (folder / "helpers").mkdir()
    odd_file("fifo", folder / "helpers" / "fixture.bin")
    with pytest.raises(UsageError, match="is a FIFO"):
        promptly(lambda: pytest_session.prepare(tmp_path / "work", suite.load(folder), None))


def test_a_builtin_suite_file_that_is_damaged_is_an_environment_problem(tmp_path: Path) -> None:
    installed = tmp_path / "installed"
    shutil.copytree(suite.builtin_dir(), installed)
    (installed / "test_health.py").write_bytes(b"def test_(:\n")
    with mock.patch("contract_check.suite.builtin_dir", return_value=installed), pytest.raises(EnvironmentProblem):
        suite.builtin().declared_checks([])


def test_a_user_contract_nested_too_deeply(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "test_deep.py").write_text(DEEP)
    ran = promptly(lambda: call([*CHECK, "--contracts", contracts], tmp_path, contracts=FakeContracts.factory(None)))
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"--contracts file {contracts / 'test_deep.py'} is nested too deeply to be parsed" in ran.stderr


# ------------------------------------------------------------------------------------ --golden


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "is nested too deeply to be a golden file"),
        (b'{"models": {"\xff": {}}, "enums": {}}', "is not UTF-8 text (byte 13)"),
        (b"[]", "are not a schema snapshot: it is a JSON list, not an object"),
        (b'{"models": [], "enums": {}}', "are not a schema snapshot: models must map each subject"),
        (b"", "is not valid JSON"),
    ],
)
def test_golden_schemas_that_are_not_a_snapshot(tmp_path: Path, body: bytes, says: str) -> None:
    golden_dir = tmp_path / "golden"
    golden_dir.mkdir()
    (golden_dir / "schemas.json").write_bytes(body)
    outcome = FakeContracts.factory(compatible_outcome())
    ran = promptly(lambda: call([*CHECK, "--golden", golden_dir], tmp_path, contracts=outcome))
    assert ran.code == ExitCode.USAGE, ran.output  # was 4: RecursionError, UnicodeDecodeError, AttributeError
    assert f"the golden schemas {golden_dir / 'schemas.json'} {says}" in ran.stderr, ran.stderr


# ------------------------------------------------------------------------------------ the tool's own files


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_the_sandbox_results_file_is_read_bounded(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "results.jsonl")
    with pytest.raises(EnvironmentProblem, match="the contract results"):
        promptly(lambda: events.read_events(path))


def test_a_results_file_larger_than_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text((json.dumps({"event": "end", "exitstatus": 0}) + "\n") * 100)
    assert events.read_events(path)[0] == {"event": "end", "exitstatus": 0}
    with mock.patch.object(events, "RESULTS_LIMIT", 1024), pytest.raises(EnvironmentProblem, match="larger than 1 KiB"):
        events.read_events(path)


def test_a_base_environment_pyvenv_cfg_that_is_a_fifo(tmp_path: Path) -> None:
    odd_file("fifo", tmp_path / "pyvenv.cfg")
    assert isinstance(promptly(lambda: baseenv.installed_identity(tmp_path)), str)


# ------------------------------------------------------------------------------------ the claim stays true

#: Calls that open or read a file directly: fine only for files the tool itself owns, each with its reason.
#: Keyed by (module, enclosing function, call).
ALLOWED = {
    ("suite/golden_write.py", "_write_new", "os.open"): "writes a new file (O_EXCL) into its own staging directory",
    ("suite/golden_write.py", "_write_new", "os.fdopen"): "the same file, written",
    (
        "sandbox/baseenv.py",
        "_write_marker",
        "os.fdopen",
    ): "the tool's own: a base's completion marker, written to a fresh mkstemp file",
    ("cache/cachedir.py", "write_tag", "os.fdopen"): "the tool's own: CACHEDIR.TAG, written to a fresh mkstemp file",
    ("cache/cachedir.py", "_acquire", "os.open"): "the tool's own lock files: O_NONBLOCK, checked regular with fstat",
    ("cache/cacheledger.py", "_append", "os.open"): "the tool's own ledger: appended, O_NOFOLLOW, never read here",
    ("cache/cacheledger.py", "compact", "os.fdopen"): "the tool's own ledger: compacted into a fresh mkstemp file",
    ("cache/results.py", "put", "os.fdopen"): "writes a result-cache entry into a fresh mkstemp file",
    ("bump/edits.py", "lock_files", ".open"): "bump's: at most MAX_FILE_BYTES of a requirements file, after is_file()",
    (
        "sources/artifacts.py",
        "wheel_record",
        "zipfile.ZipFile",
    ): "RECORD of a find-links/--core-ref wheel opened by fsread.open_regular, size-checked",
    ("bump/inplace.py", "open", "os.open"): "bump's in-place writer: O_NONBLOCK, checked regular with fstat",
    ("bump/inplace.py", "_check", ".open"): "FileOps.open, the writer's own seam, not a path",
    ("report/github.py", "_append", ".open"): "appends to the file GitHub Actions names ($GITHUB_STEP_SUMMARY...)",
    ("util/proc.py", "_processes", "open"): "procfs: /proc/<pid>/stat of running processes, read(4096)",
    ("util/proc.py", "_carries", "open"): "procfs: /proc/<pid>/environ, read(1 MiB)",
    ("util/proc.py", "sweep_all", "open"): "procfs: /proc/<pid>/environ, read(1 MiB)",
    ("run/refcheck.py", "run", ".open"): "not a file: Environments.open hands out a sandbox",
    ("sources/index.py", "_fetch", ".open"): "not a file: urllib's opener fetches an index page",
    ("run/plan.py", "_wheel_requires", "zipfile.ZipFile"): "the --store wheel (zip), is_file() checked first",
    ("run/plan.py", "_sdist_declared", "tarfile.open"): "the --store sdist (tar), is_file() checked first",
    (
        "sandbox/inside/plugin.py",
        "read_json",
        "open",
    ): "in the sandbox: the host-written suite.json and baseline, bounded",
    ("sandbox/inside/plugin.py", "_emit", "open"): "in the sandbox: appends the plugin's own result lines",
}
_READERS = {"open", "os.open", "os.fdopen", "io.open", "tarfile.open", "zipfile.ZipFile", "json.load", "tomllib.load"}
_METHODS = {"open", "read_text", "read_bytes"}


def _calls(path: Path) -> list[tuple[str, str, int]]:
    """(enclosing function, call, line) of every call in *path* that opens or reads a file."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                func = child.func
                dotted = ast.unparse(func)
                if dotted in _READERS:
                    found.append((function, dotted, child.lineno))
                elif isinstance(func, ast.Attribute) and func.attr in _METHODS and ast.unparse(func.value) != "fsread":
                    found.append((function, "." + func.attr, child.lineno))
            visit(child, name)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def test_only_fsread_reads_files() -> None:
    """No module outside fsread opens or reads a file directly, except the tool's own files listed above."""
    seen, unexpected = set(), []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        if module == "util/fsread.py":  # the one bounded reader
            continue
        for function, call_, line in _calls(path):
            key = (module, function, call_)
            if key in ALLOWED:
                seen.add(key)
            else:
                unexpected.append(f"{module}:{line} {function}: {call_}(...)")
    assert unexpected == [], "read it through fsread (or add a tool-owned file to ALLOWED with its reason)"
    assert sorted(set(ALLOWED) - seen) == [], "ALLOWED lists calls that are gone: remove them"
