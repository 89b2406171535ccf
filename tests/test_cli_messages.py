"""What the CLI says around the report: the time a command took, the Store line of a run that stopped early,
errors wrapped to the terminal, the help text. Driven in-process (``cli.run`` with fake contracts)."""

from __future__ import annotations

import json
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

import contract_check.suite as suites
from conftest import FakeContracts, compatible_outcome
from contract_check import config
from contract_check.cli import options, terminal
from contract_check.cli.terminal import _WORD
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import ExitCode
from fixturepkgs import CORE_DIST, build_store_wheel
from test_hardening import call


@pytest.fixture
def offline(tmp_path: Path) -> list[str | Path]:
    links = tmp_path / "links"
    links.mkdir()
    return ["--core-package", CORE_DIST, "--find-links", links, "--offline", "--no-cache"]


def said_time(output: str) -> float:
    """The seconds the verdict line reports ('... exit 130  in 2.5s')."""
    found = re.findall(r"\bin (\d+\.\d)s\b", output)
    assert found, output
    return float(found[-1])


# ------------------------------------------------------------------------------------------------- timing


class SlowThenStopped:
    """Contracts that take *seconds* per ref; the ref numbered *stop_at* (from 1) is interrupted (Ctrl-C)."""

    def __init__(self, seconds: float, stop_at: int) -> None:
        self.seconds, self.stop_at, self.calls = seconds, stop_at, 0

    def __call__(self) -> Any:
        self.calls += 1
        time.sleep(self.seconds)
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return compatible_outcome()


@pytest.mark.parametrize("stop_at", [1, 2])
def test_an_interrupt_reports_the_time_since_the_command_started(tmp_path: Path, offline, stop_at: int) -> None:
    """Seen: 'in 0.0s' after 2.5 s (nothing had finished), 'in 2.7s' after 6 s (the finished runs' time)."""
    contracts = SlowThenStopped(0.15, stop_at)
    start = time.monotonic()
    ran = call(["--core-ref", "1.0.0,1.1.0", "--jobs", "1", "--store", "cc-fixture-store==0.3.0", *offline],
               tmp_path, contracts=FakeContracts.factory(contracts))  # fmt: skip
    waited = time.monotonic() - start
    assert ran.code == ExitCode.INTERRUPTED, ran.output
    assert said_time(ran.stdout) >= 0.15 * stop_at - 0.05  # at least the time the runs took, rounded
    assert said_time(ran.stdout) <= waited + 0.05  # and no more than the command took


def test_the_verdict_time_is_the_commands_wall_time(tmp_path: Path, offline) -> None:
    contracts = SlowThenStopped(0.1, stop_at=0)
    ran = call(["--core-ref", "1.0.0,1.1.0", "--jobs", "1", "--store", "cc-fixture-store==0.3.0", *offline],
               tmp_path, contracts=FakeContracts.factory(contracts))  # fmt: skip
    assert ran.code == ExitCode.OK, ran.output
    assert said_time(ran.stdout) >= 0.2 - 0.05


# ------------------------------------------------------------------------------------- the Store line


def store_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("Store "))


@pytest.mark.parametrize(
    ("store", "shown"),
    [
        ("cc-fixture-store==0.3.0", "cc-fixture-store 0.3.0"),
        ("cc-fixture-store>=0.3", "cc-fixture-store version unknown"),
        ("WHEEL", "cc-fixture-store 0.4.1"),
    ],
)
def test_a_run_that_stops_early_still_names_the_stores_version(tmp_path: Path, offline, store: str, shown: str) -> None:
    """Seen: the Store line had no version when a run stopped before installing anything."""
    if store == "WHEEL":
        store = str(build_store_wheel(tmp_path / "wheels", version="0.4.1"))
    failed = FakeContracts.factory(EnvironmentProblem("the install failed", kind="uv"))
    ran = call(["--core-ref", "1.0.0", "--store", store, *offline], tmp_path, contracts=failed)
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    assert store_line(ran.stdout).startswith(f"Store     {shown}"), ran.stdout
    stopped = SlowThenStopped(0, stop_at=1)
    ran = call(["--core-ref", "1.0.0", "--store", store, *offline], tmp_path, contracts=FakeContracts.factory(stopped))
    assert ran.code == ExitCode.INTERRUPTED and store_line(ran.stdout).startswith(f"Store     {shown}"), ran.stdout


def test_a_store_project_that_states_its_version(tmp_path: Path, offline) -> None:
    project = tmp_path / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "acme-store"\nversion = "2.3.4"\ndependencies = ["{CORE_DIST}>=1"]\n', encoding="utf-8"
    )
    from contract_check.run import pipeline
    from contract_check.sources.stores import resolve_store

    target = resolve_store(str(project), tmp_path, core_package=CORE_DIST, default_package=None)
    assert pipeline.stated_version(target) == "2.3.4"
    (project / "pyproject.toml").write_text(
        '[project]\nname = "acme-store"\ndynamic = ["version"]\nversion = "2.3.4"\n', encoding="utf-8"
    )
    assert pipeline.stated_version(target) is None  # dynamic: the build decides


# ------------------------------------------------------------------------------------------ error lines


def test_errors_wrap_to_the_terminal_with_a_hanging_indent(tmp_path: Path, offline, monkeypatch) -> None:
    """Seen: error lines were not wrapped at 80 columns (the terminal broke them mid-path)."""
    missing = tmp_path / ("a-directory-with-a-long-name-" * 2) / "contracts" / "test_the_store_contracts.py"
    piped = call(["--core-ref", "1.0.0", "--contracts", missing, *offline], tmp_path, env={"COLUMNS": "80"})
    assert piped.stderr.splitlines()[0] == f"error: --contracts path does not exist: {missing}"  # one log line
    tty = Console(stderr=True, force_terminal=True, color_system=None, highlight=False, soft_wrap=True)
    monkeypatch.setattr(terminal, "err", tty)  # stderr is a terminal, 80 columns wide
    ran = call(["--core-ref", "1.0.0", "--contracts", missing, *offline], tmp_path, env={"COLUMNS": "80"})
    assert ran.code == ExitCode.USAGE, ran.output
    lines = ran.stderr.splitlines()
    assert lines[0].startswith("error: --contracts path does not exist:") and len(lines) >= 2, ran.stderr
    for line in lines:
        assert len(line) <= 80 or len(line.split()) == 1, line  # only a single word longer than the line
    assert any(line.strip() == str(missing) for line in lines), lines  # the path whole, on a line of its own
    error_lines = lines[: next(i for i, line in enumerate(lines) if line.startswith("tip: "))]
    assert all(line.startswith(" " * 7) for line in error_lines[1:]), lines  # under "error: "


@settings(max_examples=25, deadline=None)
@given(
    words=st.lists(
        st.one_of(
            st.from_regex(r"[a-z]{1,12}[:,.]?", fullmatch=True),
            st.from_regex(r"(/[a-z0-9_.-]{1,20}){1,6}", fullmatch=True),
            st.from_regex(r"https://[a-z]{1,10}\.example/[a-z/]{0,30}", fullmatch=True),
            st.from_regex(r"'[a-z]{1,8} [a-z]{1,8}'", fullmatch=True),
        ),
        min_size=1,
        max_size=40,
    ),
    width=st.integers(min_value=20, max_value=120),
)
def test_hanging_breaks_only_between_words(words: list[str], width: int) -> None:
    text = " ".join(words)
    out = terminal.hanging(text, width, 7).split("\n")
    assert " ".join(" ".join(out).split()) == text  # nothing lost, nothing split
    for number, line in enumerate(out):
        if number:
            assert line.startswith(" " * 7), out
        body = line if number else " " * 7 + line
        pieces = _WORD.findall(body)
        assert len(body) <= width or len(pieces) == 1, (width, body)
    for word in words:  # a path, a URL, a quoted value: on one line, whole
        assert any(word in line for line in out), (word, out)


# --------------------------------------------------------------------------------------------- help text

ROOT = Path(__file__).resolve().parents[1]


def test_help_points_at_the_docs_in_the_repository_not_at_a_folder_pip_does_not_install(tmp_path: Path) -> None:
    """Seen: '-h' said 'Documentation: docs/ in the project', which a pip install does not have."""
    ran = call(["-h"], tmp_path)
    assert ran.code == 0, ran.output
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]
    text = " ".join(ran.stdout.split())
    assert "docs/ in the project" not in text
    assert "Documentation: docs/cli.md in the project's repository" in text and urls["Repository"] in text
    assert urls["Repository"] == options.REPOSITORY and (ROOT / "docs" / "cli.md").is_file()


# ---------------------------------------------------------------------------------- acceptance examples

ACME_SUITE = """
[suite]
name = "acme"
core-package = "acme-core"
store-package = "acme-app"

[subjects]
Order = "acme_core:Order"
"""


@pytest.mark.parametrize("where", ["--accept", "pyproject"])
def test_an_acceptance_error_names_a_subject_of_the_active_suite(tmp_path: Path, where: str) -> None:
    """Seen: the example in an acceptance error named the built-in suite's FeedbackEvent for any suite."""
    suite_dir = tmp_path / "acme-suite"
    suite_dir.mkdir()
    (suite_dir / "suite.toml").write_text(ACME_SUITE, encoding="utf-8")
    bad = '[[accept]]\ncheck = "schema.Order.*"\n'  # no reason, no until
    project = tmp_path / "project"
    project.mkdir()
    flags: dict[str, Any] = {"suite": suite_dir}
    if where == "--accept":
        (tmp_path / "accept.toml").write_text(bad, encoding="utf-8")
        flags["accept_file"] = tmp_path / "accept.toml"
    else:
        text = bad.replace("[[accept]]", "[tool.contract-check]\n[[tool.contract-check.accept]]")
        (project / "pyproject.toml").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as info:
        config.build(flags, project, environ={})
    assert 'check = "schema.Order.*"' in (info.value.tip or "") and "FeedbackEvent" not in (info.value.tip or "")
    with pytest.raises(UsageError) as info:  # the built-in suite: one of its own subjects
        config.build({k: v for k, v in flags.items() if k != "suite"}, project, environ={})
    first = next(iter(suites.builtin().subjects))
    assert f'check = "schema.{first}.*"' in (info.value.tip or "")


# ------------------------------------------------------------------------------------------ a blank range


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_blank_range_means_no_range_whatever_its_whitespace(tmp_path: Path, blank: str) -> None:
    """Seen: --core-range ' ' (a blank CI variable) meant every release, while '' meant none; now both mean no
    range, and alone they are a usage error saying the range was blank."""
    links = tmp_path / "links"
    links.mkdir()
    for version in ("1.0.0", "1.1.0"):
        (links / f"{CORE_DIST.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    fx = ["--core-package", CORE_DIST, "--find-links", links, "--offline", "--no-cache", "--store", "pkg==1"]
    report = tmp_path / "report.json"
    compatible = FakeContracts.factory(compatible_outcome)
    ran = call(["--core-range", blank, "--core-ref", "1.0.0", *fx, "--json", report], tmp_path, contracts=compatible)
    assert ran.code == ExitCode.OK, ran.output
    assert [r["core_ref"] for r in json.loads(report.read_text())["runs"]] == ["1.0.0"]
    alone = call(["--core-range", blank, *fx], tmp_path, contracts=compatible)
    assert alone.code == ExitCode.USAGE, alone.output
    assert f"error: --core-range {blank!r} is blank, which means no range, and no other Core ref is given" in (
        alone.stderr
    )


def test_a_blank_range_in_the_config_is_named_as_the_configs(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.contract-check]\ncore-range = "  "\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"^\[tool.contract-check\] core-range '  ' is blank"):
        config.build({}, tmp_path, environ={})
    assert config.build({"core_refs": ("1.4.61",)}, tmp_path, environ={}).core_range is None


# ------------------------------------------------------------------------------------------ --against pin


@pytest.mark.parametrize(("listed", "example"), [(("1.0.0", "1.1.0", "2.0.0rc1"), "--against 1.1.0"), ((), None)])
def test_against_pin_without_a_lower_bound_names_a_real_release(tmp_path: Path, listed, example) -> None:
    """Seen: the tip hard-coded '--against 1.4.55', whatever the index holds."""
    links = tmp_path / "links"
    links.mkdir()
    for version in listed:
        (links / f"{CORE_DIST.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    project = tmp_path / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "acme-store"\nversion = "1.0"\ndependencies = ["{CORE_DIST}<3"]\n', encoding="utf-8"
    )
    fx = ["--core-package", CORE_DIST, "--find-links", links, "--offline", "--no-cache"]
    ran = call(["--core-ref", "1.0.0", "--against", "pin", *fx], project,
               contracts=FakeContracts.factory(compatible_outcome))  # fmt: skip
    assert ran.code == ExitCode.USAGE, ran.output
    assert "--against pin: the Store declares no lower bound" in ran.stderr
    tip = " ".join(ran.stderr.split("tip: ", 1)[1].split())
    assert "1.4.55" not in tip and (example in tip if example else "e.g." not in tip), tip
