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
