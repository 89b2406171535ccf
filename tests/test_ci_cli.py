"""The CLI pieces CI uses: ``plan``, the ref-selection config keys, the step-summary switch, the platform check.

All in-process (``app.run``) against find-links directories of empty files named like wheels (``--offline``:
the index is never asked), so these are fast.
"""

from __future__ import annotations

import ast
import json
import os
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from contract_check import config
from contract_check.cli import app, terminal
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import ExitCode, Report, StoreInfo, Summary, Tool
from contract_check.report import github
from contract_check.run import plan

SRC = Path(__file__).resolve().parent.parent / "src" / "contract_check"
CORE = "acme-core"
VERSIONS = ["1.0.0", "1.1.0", "1.2.0rc1", "1.2.0", "1.3.0", "2.0.0"]


@pytest.fixture
def links(tmp_path: Path) -> Path:
    """A find-links directory offering acme-core in VERSIONS (empty files: only the names are read)."""
    folder = tmp_path / "links"
    folder.mkdir()
    for version in VERSIONS:
        (folder / f"acme_core-{version}-py3-none-any.whl").touch()
    return folder


def store_project(where: Path, declared: str, table: str = "") -> Path:
    where.mkdir(parents=True, exist_ok=True)
    text = f'[project]\nname = "acme-store"\nversion = "1.0"\ndependencies = ["{CORE}{declared}"]\n'
    (where / "pyproject.toml").write_text(text + table, encoding="utf-8")
    return where


def store_wheel(folder: Path, declared: str) -> Path:
    path = folder / "acme_store-1.0-py3-none-any.whl"
    metadata = "Metadata-Version: 2.1\nName: acme-store\nVersion: 1.0\nRequires-Dist: pydantic>=2\n"
    metadata += f"Requires-Dist: {CORE}{declared}\nRequires-Dist: pytest; extra == 'test'\n"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("acme_store-1.0.dist-info/METADATA", metadata)
    return path


def run_plan(capsys: pytest.CaptureFixture[str], cwd: Path, *args: str | Path) -> tuple[int, str, str]:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        code = app.run(["plan", "--core-package", CORE, "--offline", *map(str, args)])
    finally:
        os.chdir(old)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- plan ------------------------------------------------------------------------------------------


def test_plan_expands_a_range_to_one_compact_json_line(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_plan(capsys, tmp_path, "--core-range", ">=1.1,<2", "--find-links", links)
    assert code == 0, err
    assert out == '["1.1.0","1.2.0","1.3.0"]\n'  # one line, no spaces: `refs=$(contract-check plan ...)`
    assert json.loads(out) == ["1.1.0", "1.2.0", "1.3.0"]


def test_plan_keeps_given_refs_first_and_drops_duplicates(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--core-ref", "git:main,1.2.0", "--core-range", ">=1.2.0rc1", "--pre", "--find-links", links]
    code, out, err = run_plan(capsys, tmp_path, *args)
    assert code == 0, err
    assert json.loads(out) == ["git:main", "1.2.0", "1.2.0rc1", "1.3.0", "2.0.0"]


def test_plan_since_pin_reads_the_local_store_project(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = store_project(tmp_path / "store", ">=1.2,<2")
    code, out, err = run_plan(capsys, project, "--since-pin", "--find-links", links)
    assert code == 0, err
    assert json.loads(out) == ["1.2.0", "1.3.0", "2.0.0"]  # from the lower bound on, as check does


def test_plan_since_pin_reads_a_store_wheel_without_installing_it(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = store_wheel(tmp_path, ">=1.3")
    code, out, err = run_plan(capsys, tmp_path, "--since-pin", "--store", wheel, "--find-links", links)
    assert code == 0, err
    assert json.loads(out) == ["1.3.0", "2.0.0"]


def test_plan_since_pin_for_an_index_store_is_a_usage_error_with_a_way_out(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_plan(capsys, tmp_path, "--since-pin", "--store", "acme-store==1.0", "--find-links", links)
    assert code == ExitCode.USAGE
    assert out == ""
    assert "cannot be read without installing it" in err and "--core-range" in err


def test_plan_reads_the_configured_refs_and_flags_replace_them(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = f'\n[tool.contract-check]\ncore-ref = "1.0.0"\nsince-pin = true\nfind-links = ["{links}"]\n'
    project = store_project(tmp_path / "store", ">=1.3", table)
    code, out, err = run_plan(capsys, project)
    assert (code, json.loads(out)) == (0, ["1.0.0", "1.3.0", "2.0.0"]), err  # a bare plan: the configured check
    code, out, err = run_plan(capsys, project, "--core-ref", "1.1.0")
    assert (code, json.loads(out)) == (0, ["1.1.0"]), err  # not 1.1.0 plus the configured since-pin


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--core-ref", "not a ref"], ExitCode.USAGE, "invalid --core-ref 'not a ref'"),
        (["--core-range", "latest-ish"], ExitCode.USAGE, "is not a usable version specifier"),
        ([], ExitCode.USAGE, "no Core ref given"),
        (["--core-range", ">=9"], ExitCode.ENVIRONMENT, "no release of acme-core matches >=9"),
    ],
)
def test_plan_errors_exit_like_check(
    tmp_path: Path, links: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    got, out, err = run_plan(capsys, tmp_path, *args, "--find-links", links)
    assert got == code and out == "", err
    assert message in err


def test_declared_in_file_ignores_what_is_not_a_store_file(tmp_path: Path) -> None:
    target = SimpleNamespace(path=None, spec="acme-store==1.0")
    assert plan.declared_in_file(target, CORE) is None  # type: ignore[arg-type]
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="could not read its metadata"):
        plan.declared_in_file(SimpleNamespace(path=broken, spec="w.whl"), CORE)  # type: ignore[arg-type]


# --- the ref-selection keys of [tool.contract-check] ----------------------------------------------


def table(body: str, where: Path) -> dict[str, object]:
    where.mkdir(parents=True, exist_ok=True)
    (where / "pyproject.toml").write_text("[tool.contract-check]\n" + body, encoding="utf-8")
    return config.tool_table(config.read_pyproject(where), where)


@pytest.mark.parametrize(
    ("line", "refs"),
    [
        ('core-ref = "1.4.61"', ("1.4.61",)),
        ('core-ref = "1.4.59, 1.4.61"', ("1.4.59", "1.4.61")),
        ('core-ref = ["latest", "git:main"]', ("latest", "git:main")),
        ("core-ref = ['market-data-core @ https://example.invalid/c.whl?a=1,2']", None),
    ],
)
def test_core_ref_takes_a_string_or_a_list(tmp_path: Path, line: str, refs: tuple[str, ...] | None) -> None:
    out = table(line + "\n", tmp_path)
    if refs is None:  # a direct reference is never split at its commas
        refs = ("market-data-core @ https://example.invalid/c.whl?a=1,2",)
    assert out == {"core_refs": refs}


@pytest.mark.parametrize(
    ("line", "wanted"),
    [
        ("core-ref = 1", "a list of strings or a string"),
        ("core-ref = [1]", "a list of strings or a string"),
        ('core-range = [">=1"]', "a string"),
        ('since-pin = "yes"', "true or false"),
    ],
)
def test_ref_selection_keys_are_type_checked(tmp_path: Path, line: str, wanted: str) -> None:
    with pytest.raises(UsageError, match=f"must be {wanted}"):
        table(line + "\n", tmp_path)


def test_any_selection_flag_replaces_the_configured_selection(tmp_path: Path) -> None:
    table('core-ref = ["1.0"]\ncore-range = ">=1"\nsince-pin = true\nstrict = true\n', tmp_path)
    configured = config.build({}, tmp_path, environ={})
    assert (configured.core_refs, configured.core_range, configured.since_pin) == (("1.0",), ">=1", True)
    for flags in ({"core_refs": ("2.0",)}, {"core_range": ">=2"}, {"since_pin": True}):
        options = config.build(flags, tmp_path, environ={})
        chosen = {k: getattr(options, k) for k in ("core_refs", "core_range", "since_pin")}
        assert chosen == {"core_refs": (), "core_range": None, "since_pin": False, **flags}
        assert options.strict  # the other keys still apply


# --- the step-summary switch ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "wanted"),
    [
        (None, {}, True),
        (None, {"CONTRACT_CHECK_SUMMARY": "off"}, False),
        (None, {"CONTRACT_CHECK_SUMMARY": "OFF "}, False),
        (None, {"CONTRACT_CHECK_SUMMARY": "on"}, True),
        (None, {"CONTRACT_CHECK_SUMMARY": ""}, True),
        (True, {"CONTRACT_CHECK_SUMMARY": "off"}, True),  # the flag wins
        (False, {"CONTRACT_CHECK_SUMMARY": "on"}, False),
    ],
)
def test_summary_switch(flag: bool | None, env: dict[str, str], wanted: bool) -> None:
    assert app.summary_wanted(flag, env) is wanted


def test_summary_switch_rejects_other_values() -> None:
    with pytest.raises(UsageError, match="CONTRACT_CHECK_SUMMARY='maybe' is neither on nor off"):
        app.summary_wanted(None, {"CONTRACT_CHECK_SUMMARY": "maybe"})


def test_merge_with_a_bad_summary_switch_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACT_CHECK_SUMMARY", "sometimes")
    assert app.run(["merge", str(tmp_path / "none.json")]) == ExitCode.USAGE
    assert "neither on nor off" in capsys.readouterr().err


def test_publish_without_summary_still_writes_outputs(tmp_path: Path) -> None:
    report = Report(
        tool=Tool(version="0"),
        store=StoreInfo(spec="."),
        runs=[],
        summary=Summary(passed=0, failed=0, errors=0, warnings=0, exit_code=0),
    )
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    github.publish(report, env, None, summary=False)
    assert not (tmp_path / "summary.md").exists()
    assert (tmp_path / "output").read_text() == "verdict=compatible\nexit-code=0\n"
    github.publish(report, env, None)
    assert (tmp_path / "summary.md").read_text().startswith("### contract-check: COMPATIBLE")


@pytest.mark.parametrize("command", ["check", "merge"])
def test_both_commands_take_the_summary_flags(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert app.run([command, "--help"]) == 0
    assert "--summary / --no-summary" in capsys.readouterr().out


# --- POSIX only -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_posix_only_module_is_imported_at_start_up() -> None:
    """`fcntl` and friends are imported where they are used, so that the CLI can start anywhere and say why not."""
    posix_only = {"fcntl", "termios", "pwd", "grp", "resource", "tty", "pty"}
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in posix_only]
    assert found == []


def test_platform_problem() -> None:
    assert app.platform_problem("posix") is None
    problem = app.platform_problem("nt")
    assert isinstance(problem, EnvironmentProblem) and problem.exit_code == ExitCode.ENVIRONMENT


def test_on_windows_the_cli_says_so_instead_of_failing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "os", SimpleNamespace(name="nt", environ=os.environ, path=os.path))
    assert app.run(["--core-ref", "1.4.61"]) == ExitCode.ENVIRONMENT
    err = capsys.readouterr().err
    assert "runs on Linux and macOS only (POSIX)" in err and "tip: run it under WSL" in err
    assert "Traceback" not in err and "ImportError" not in err
    assert app.run(["--version"]) == 0  # asking what it is still works
    assert capsys.readouterr().out.startswith("contract-check ")
