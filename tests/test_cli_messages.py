"""What the CLI says around the report: the time a command took, the Store line of a run that stopped early,
errors wrapped to the terminal, the help text. Driven in-process (``cli.run`` with fake contracts)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeContracts, compatible_outcome
from contract_check.errors import EnvironmentProblem
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
    from contract_check import pipeline
    from contract_check.target import resolve_store

    target = resolve_store(str(project), tmp_path, core_package=CORE_DIST, default_package=None)
    assert pipeline.stated_version(target) == "2.3.4"
    (project / "pyproject.toml").write_text(
        '[project]\nname = "acme-store"\ndynamic = ["version"]\nversion = "2.3.4"\n', encoding="utf-8"
    )
    assert pipeline.stated_version(target) is None  # dynamic: the build decides
