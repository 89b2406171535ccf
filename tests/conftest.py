"""Shared pytest fixtures. Each area keeps its fixtures in its own clearly delimited block below."""

from __future__ import annotations

# ==================================================================================================
# BEGIN fixture packages -- fake Core/Store for installs (owned with tests/fixturepkgs.py)
# ==================================================================================================
import os

import pytest

from fixturepkgs import FixtureWorld, build_fixture_world


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Shared environments and cached results go to a session directory, never to the user's cache."""
    os.environ["CONTRACT_CHECK_CACHE_DIR"] = str(tmp_path_factory.mktemp("contract-check-cache"))


@pytest.fixture(scope="session")
def fixture_world(tmp_path_factory: pytest.TempPathFactory) -> FixtureWorld:
    """Fake Core wheels (find-links), Store wheel/project, Core project/sdist and Core git repo.

    Built once per session (per xdist worker) in well under a second, without network; see
    ``fixturepkgs.FixtureWorld`` for the fields and ``fixturepkgs.VARIANTS`` for the Core variants.
    """
    return build_fixture_world(tmp_path_factory.mktemp("fixture-world"))


# ==================================================================================================
# END fixture packages
# ==================================================================================================


# ==================================================================================================
# BEGIN CLI runner -- run contract-check as a real subprocess, in an isolated TMPDIR
# ==================================================================================================
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    tmpdir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def rules(self) -> set[str]:
        assert self.report is not None, self.output
        return {c["rule"] for r in self.report["runs"] for c in r["checks"] if c["rule"]}

    def failing(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.output
        return [c for r in self.report["runs"] for c in r["checks"] if c["status"] in ("failed", "error")]


def cli_env(tmpdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    env.update(TMPDIR=str(tmpdir), NO_COLOR="1", COLUMNS="200", **extra)
    return env


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run ``python -m contract_check ARGS`` with TMPDIR isolated; parse --json output when present."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()

    def run(
        *args: str | Path,
        cwd: Path | None = None,
        json_report: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        report_path = tmp_path / "report.json"
        report_path.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "contract_check", *map(str, args)]
        if json_report and args and args[0] not in ("list", "merge", "snapshot", "--help"):
            argv += ["--json", str(report_path)]
        done = subprocess.run(
            argv,
            cwd=cwd or tmp_path,
            env=env or cli_env(tmpdir),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        return CliResult(done.returncode, done.stdout, done.stderr, report, tmpdir)

    return run


def leftovers(tmpdir: Path) -> list[str]:
    """Sandbox directories a run left behind in its TMPDIR."""
    return sorted(p.name for p in tmpdir.glob("contract-check-*"))


# ==================================================================================================
# END CLI runner
# ==================================================================================================


# ==================================================================================================
# BEGIN fake contracts -- what runs a ref's contracts, replaced through the CLI's constructor seam
# ==================================================================================================
import contract_check.suite as _suite  # noqa: E402
from contract_check.models import Check as _Check  # noqa: E402
from contract_check.models import Layer as _Layer  # noqa: E402
from contract_check.models import Status as _Status  # noqa: E402
from contract_check.run import pytest_session as _runner  # noqa: E402


def every_builtin_passed() -> list[_Check]:
    """One passing row per check the built-in suite declares: what a complete, compatible run reports."""
    builtin = _suite.builtin()
    return [
        _Check(id=check_id, subject=entry.subject, layer=_Layer(entry.layer), status=_Status.PASSED)
        for entry in builtin.declared_checks(_runner.golden_payload_subjects(builtin.golden))
        for check_id in entry.ids()
    ]


class FakeContracts:
    """Stands in for ``refcheck.SandboxContracts``: answers every ref with *answer* (an Outcome, or an exception
    to raise) and counts how often it was asked. Use ``FakeContracts.factory(answer)`` as ``cli.run(contracts=)``."""

    started = 0

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.install_logs: dict[str, str] = {}

    def run(self, resolved: Any, phases: dict[str, float], *, recording: bool = False) -> Any:
        FakeContracts.started += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer() if callable(self.answer) else self.answer

    @classmethod
    def factory(cls, answer: Any) -> Callable[..., FakeContracts]:
        return lambda session, environments: cls(answer)


def compatible_outcome() -> _runner.Outcome:
    return _runner.Outcome(completed=True, checks=every_builtin_passed(), versions={"cc-fixture-core": "1.0.0"})


# ==================================================================================================
# END fake contracts
# ==================================================================================================


# ==================================================================================================
# BEGIN test tiers -- a test that runs the real CLI as a process is slow, whatever its own markers say
# ==================================================================================================
_PROCESS_FIXTURES = {"run_cli", "everywhere", "fixture_world", "fake_pytest"}  # fixture_world runs git


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# ==================================================================================================
# END test tiers
# ==================================================================================================
