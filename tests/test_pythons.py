"""``--python``: an installed interpreter or a usage error naming the installed ones; uv never downloads one.

Seen: ``--python 3.12`` on a machine without 3.12 made uv download CPython (16-21 s), or fail on the network
after a while, exit 3. The slow test gives the tool a PATH on which the asked-for version does not exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env, leftovers
from contract_check import sandbox
from contract_check.models import ExitCode
from contract_check.sandbox import pythons
from fixturepkgs import CORE_DIST

# uv 0.13's words, recorded: no interpreter (wrapped at 80 columns), a path, and a pyenv shim of a version
# that is not selected
NOT_FOUND = [
    (
        "error: No interpreter found for Python 3.12 in managed installations or search\npath\n\n"
        "hint: A managed Python download is available for Python 3.12, but Python downloads are set to 'never'\n",
        "No interpreter found for Python 3.12 in managed installations or search path",
    ),
    ("error: No interpreter found at path `/no/such/python`\n", "No interpreter found at path `/no/such/python`"),
    (
        "warning: Failed to inspect Python interpreter from search path at `/p/shims/python3.9`\n"
        "error: Failed to inspect Python interpreter from search path at\n`/p/shims/python3.12`\n"
        "  cause: Querying Python at `/p/shims/python3.12` failed with exit status exit status: 127\n",
        "Failed to inspect Python interpreter from search path at `/p/shims/python3.12`",
    ),
]


@pytest.mark.parametrize(("output", "reason"), NOT_FOUND)
def test_no_interpreter_is_a_usage_error_in_uvs_words(output: str, reason: str) -> None:
    python = "/no/such/python" if "at path" in reason else "3.12"
    problem = pythons.not_installed(python, output, uv="/nonexistent/uv", env={})  # no listing: uv is missing
    assert problem is not None and problem.exit_code == ExitCode.USAGE
    assert problem.message == f"--python {python}: no such Python is installed ({reason}); the tool never downloads one"
    assert (problem.tip or "").endswith("uv lists none")


def test_other_venv_failures_keep_their_own_error() -> None:
    assert (
        pythons.not_installed("3.12", "error: failed to create directory `venv`: Permission denied", uv="x", env={})
        is None
    )


def _installed_minors(path: str) -> set[str]:
    done = subprocess.run(
        [sandbox.find_uv(), "python", "list", "--only-installed", "--no-config", "--output-format", "json"],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return {".".join(entry["version"].split(".")[:2]) for entry in json.loads(done.stdout)}


@pytest.mark.slow
def test_a_python_that_is_not_installed_is_never_downloaded(run_cli, fixture_world, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (bin_dir / "python3").symlink_to(base)
    path = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"  # git for the fixtures; no pyenv shims
    installed = _installed_minors(path)
    missing = next(v for v in ("3.13", "3.12", "3.10", "3.9", "3.14") if v not in installed)  # uv has downloads of each
    ours = ".".join(map(str, sys.version_info[:3]))
    env = cli_env(tmp_path / "tmp", PATH=path) | {"COLUMNS": "400"}  # the tip on one line
    fx = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel]
    result = run_cli("--core-ref", "1.0.0,1.1.0", *fx, "--python", missing, env=env, timeout=120)
    assert result.code == ExitCode.USAGE, result.output
    assert f"error: --python {missing}: no such Python is installed (No interpreter found for Python {missing}" in (
        result.stderr
    )
    tip = next(line for line in result.stderr.splitlines() if line.startswith("tip: "))
    assert f"uv python install {missing}" in tip and f"{ours} ({bin_dir / 'python3'})" in tip, tip
    assert "download" not in result.output.lower().replace("never downloads", "")  # uv did not try
    assert result.report is None and leftovers(result.tmpdir) == []
    present = run_cli("--core-ref", "1.0.0", *fx, "--python", ours, env=env, timeout=300)  # the one that is there
    assert present.code == ExitCode.OK, present.output
