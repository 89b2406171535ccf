"""The check pipeline end to end on fixture packages: real uv venvs, real installs, the real CLI process.

Every ref form of the grammar, the Store forms, config, user contracts, exit codes 0/1/2/3/130, faults in
contracts, and no sandbox left behind in TMPDIR.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import cli_env, leftovers
from fixturepkgs import CORE_DIST

pytestmark = pytest.mark.slow


@pytest.fixture
def fx(fixture_world):
    """Common flags pointing the tool at the fixture packages."""
    return [
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        fixture_world.store_wheel,
        "--core-git",
        fixture_world.core_git_url,
    ]


def only_run(result):
    assert result.report is not None, result.output
    (run,) = result.report["runs"]
    return run


def test_index_version_outside_declared_range_passes(run_cli, fx):
    result = run_cli("--core-ref", "1.0.0", *fx)
    assert result.code == 0, result.output
    run = only_run(result)
    assert run["core_version"] == "1.0.0"  # from dist metadata; the package's __version__ says 0.0.0-stale
    assert run["in_declared_range"] is False and run["source"] == "index"
    assert run["requirement"] == f"{CORE_DIST}==1.0.0"
    assert "COMPATIBLE" in result.stdout and "outside the Store's declared range" in result.stdout
    assert result.report["store"]["declared_core"] == "<3,>=2.0"
    assert result.report["store"]["version"] == "0.1.0"
    assert {c["layer"] for c in run["checks"]} >= {"assertion", "schema", "payload"}
    assert all(c["status"] == "passed" for c in run["checks"]), result.failing()
    assert leftovers(result.tmpdir) == []


@pytest.mark.parametrize("ref", ["v1.1.0", "V1.1.0"])
def test_v_prefix(run_cli, fx, ref):
    result = run_cli("--core-ref", ref, *fx)
    assert result.code == 0, result.output
    assert only_run(result)["requirement"] == f"{CORE_DIST}==1.1.0"


def test_latest_is_newest_final_release(run_cli, fx, fixture_world):
    result = run_cli("--core-ref", "latest", *fx)
    newest = max(fixture_world.core_versions, key=lambda v: tuple(int(x) for x in v.split(".") if x.isdigit()))
    assert only_run(result)["core_version"] == newest
    assert result.code == 0, result.output


def test_prerelease_version(run_cli, fx):
    result = run_cli("--core-ref", "1.2.0rc1", *fx)
    assert result.code == 0, result.output
    assert only_run(result)["core_version"] == "1.2.0rc1"


@pytest.mark.parametrize(
    ("ref", "code"),
    [("git:v1.1.0", 0), ("git:feature/next", 1), ("feature/next", 1), ("main", 1)],
)
def test_git_refs(run_cli, fx, fixture_world, ref, code):
    result = run_cli("--core-ref", ref, *fx)
    assert result.code == code, result.output
    run = only_run(result)
    assert run["source"] == "git"
    assert run["core_version"] == fixture_world.git_refs[ref.removeprefix("git:")][0]
    if code == 1:
        assert "FIELD_REMOVED" in result.rules()


def test_a_branch_shows_the_commit_it_resolved_to(run_cli, fx, fixture_world, tmp_path):
    """Seen: a branch ref did not show the commit it resolved to (in the header, the table or the report)."""
    branch, tag = fixture_world.git_shas["feature/next"], fixture_world.git_shas["v1.0.0"]
    one = run_cli("--core-ref", "feature/next", *fx)
    assert only_run(one)["artifact"]["digest"] == f"git:{branch}", one.output
    core_line = next(line for line in one.stdout.splitlines() if line.startswith("Core "))
    assert f"git commit {branch[:12]}" in core_line, core_line
    markdown = tmp_path / "report.md"
    both = run_cli("--core-ref", "git:feature/next,v1.1.0,git:v1.0.0", *fx, "--markdown", markdown)
    digests = [(r["artifact"] or {}).get("digest") or "" for r in both.report["runs"]]
    assert [d if d.startswith("git:") else None for d in digests] == [f"git:{branch}", None, f"git:{tag}"], digests
    rows = [line for line in both.stdout.splitlines() if line.lstrip().startswith(("git:", "v1.1.0"))]
    assert f" {branch[:7]} " in rows[0] and f" {tag[:7]} " in rows[2] and "1.1.0 " in rows[1], rows
    grid = [line for line in markdown.read_text().splitlines() if line.startswith("| `git:")]
    version = fixture_world.git_refs["feature/next"][0]
    assert f"| {version} {branch[:7]} |" in grid[0] and f"| 1.0.0 {tag[:7]} |" in grid[1], grid
    assert f"git commit {branch[:12]}" in markdown.read_text()


def test_git_sha_bare_and_prefixed(run_cli, fx, fixture_world):
    sha = fixture_world.git_shas["v1.0.0"]
    for ref in (sha, f"git:{sha[:12]}"):
        result = run_cli("--core-ref", ref, *fx)
        assert result.code == 0, result.output
        assert only_run(result)["core_version"] == "1.0.0"


def test_git_ref_that_does_not_exist_is_environment_error(run_cli, fx):
    result = run_cli("--core-ref", "git:v7.7.7", *fx)
    assert result.code == 3, result.output
    assert "no such branch, tag or commit" in result.stdout


def test_local_project_sdist_and_direct_reference(run_cli, fx, fixture_world):
    wheel = fixture_world.find_links / "cc_fixture_core-1.1.0-py3-none-any.whl"
    for ref in (
        str(fixture_world.core_project),
        str(fixture_world.core_sdist),
        f"{CORE_DIST} @ {wheel.as_uri()}",
    ):
        result = run_cli("--core-ref", ref, *fx)
        assert result.code == 0, (ref, result.output)
        assert only_run(result)["source"] in ("path", "url")


def test_core_that_fails_to_import_is_broken(run_cli, fx):
    result = run_cli("--core-ref", "1.3.0", *fx)
    assert result.code == 1, result.output
    assert "IMPORT_FAILED" in result.rules()
    assert all("No module named 'market_data_core.telemetry.events'" in c["message"] for c in result.failing())
    assert result.stdout.count("No module named 'market_data_core.telemetry.events'") == 1  # one cause, not 28


def test_missing_version_names_nearest_and_suggests_git(run_cli, fx):
    result = run_cli("--core-ref", "1.1.5", *fx)
    assert result.code == 3, result.output
    assert "1.1.5 is not on the index" in result.stdout
    assert "1.1.0" in result.stdout and "git:v1.1.5" in result.stdout
    assert only_run(result)["status"] == "error"


def test_a_store_version_that_does_not_exist_is_named_as_the_stores(run_cli, fixture_world):
    """Not "check the ref": the Core ref is fine, the Store pin is what the user has to fix."""
    common = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--offline"]
    result = run_cli("--core-ref", "1.0.0", *common, "--store", "cc-fixture-store==9.9.9")
    assert result.code == 3, result.output
    assert only_run(result)["error_kind"] == "package-not-found"
    assert "tip: cc-fixture-store has no such version" in result.stdout and "--core-ref latest" not in result.stdout


def test_a_store_that_does_not_exist_is_not_found_not_a_conflict(run_cli, fixture_world):
    common = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links]
    result = run_cli("--core-ref", "1.0.0", *common, "--store", "nope-pkg-xyz")
    assert result.code == 3, result.output
    run = only_run(result)
    assert run["error_kind"] == "package-not-found"
    assert run["error"].startswith(
        "uv install failed (nope-pkg-xyz was not found on the package index or in --find-links)"
    )
    assert "tip: check the name nope-pkg-xyz" in result.stdout and "conflict" not in result.stdout


@pytest.mark.parametrize("ref", ["--core-ref=-rf", "--core-ref=1.0 ; rm -rf /", "--core-ref=a..b", "--core-ref=x\ty"])
def test_malformed_refs_are_usage_errors(run_cli, fx, ref):
    result = run_cli(ref, *fx)
    assert result.code == 2, result.output
    assert "accepted --core-ref forms" in result.stderr
    assert "Traceback" not in result.output
    assert leftovers(result.tmpdir) == []


def test_several_refs_worst_exit_wins(run_cli, fx):
    result = run_cli("--core-ref", "1.0.0,1.3.0", "--core-ref", "1.1.0", *fx)
    assert result.code == 1, result.output
    assert [r["exit_code"] for r in result.report["runs"]] == [0, 1, 0]
    assert result.report["summary"]["exit_code"] == 1


def test_store_project_in_cwd_is_the_default(run_cli, fixture_world, tmp_path):
    project = fixture_world.store_project
    result = run_cli(
        "--core-ref",
        "1.0.0",
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        cwd=project,
    )
    assert result.code == 0, result.output
    assert result.report["store"]["origin"].startswith("the project in the current directory")
    assert result.report["store"]["declared_core"] == "<3,>=2.0"


def test_config_in_pyproject_supplies_defaults(run_cli, fixture_world, tmp_path):
    project = tmp_path / "store"
    subprocess.run(["cp", "-r", str(fixture_world.store_project), str(project)], check=True)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + textwrap.dedent(f"""
        [tool.contract-check]
        core-package = "{CORE_DIST}"
        find-links = ["{fixture_world.find_links}"]
        timeout = 120
        """)
    )
    result = run_cli("--core-ref", "1.1.0", cwd=project)
    assert result.code == 0, result.output
    pyproject.write_text(pyproject.read_text() + 'colour = "blue"\n')
    result = run_cli("--core-ref", "1.1.0", cwd=project)
    assert result.code == 2 and "unknown key 'colour'" in result.stderr, result.output


def test_user_contracts_run_alongside_builtin(run_cli, fx, tmp_path):
    extra = tmp_path / "store-contracts"
    extra.mkdir()
    (extra / "test_store_side.py").write_text(
        textwrap.dedent("""
        from market_data_core.telemetry import FeedbackEvent

        def test_ok():
            assert FeedbackEvent.model_fields["queue_size"]

        def test_store_expects_region():
            assert "region" in FeedbackEvent.model_fields, "the Store's own contract wants a region field"
        """)
    )
    result = run_cli("--core-ref", "1.0.0", "--contracts", extra, *fx)
    assert result.code == 1, result.output
    user = {c["id"].rsplit("::", 1)[-1]: c for r in result.report["runs"] for c in r["checks"] if c["layer"] == "user"}
    assert user["test_ok"]["status"] == "passed"
    assert user["test_store_expects_region"]["status"] == "failed"
    assert "wants a region field" in user["test_store_expects_region"]["message"]


def test_user_contract_faults_become_error_rows(run_cli, fx, tmp_path):
    extra = tmp_path / "faulty"
    extra.mkdir()
    (extra / "test_faults.py").write_text(
        textwrap.dedent("""
        import os, signal, sys, time

        def test_a_segfault():
            os.kill(os.getpid(), signal.SIGSEGV)

        def test_b_hard_exit():
            os._exit(3)

        def test_c_sys_exit():
            sys.exit(0)

        def test_d_hang():
            time.sleep(600)

        def test_e_fine():
            pass
        """)
    )
    (extra / "test_broken_import.py").write_text("from market_data_core.telemetry import NoSuchThing\n")
    start = time.monotonic()
    result = run_cli("--core-ref", "1.0.0", "--contracts", extra, "--timeout", "20", *fx)
    assert time.monotonic() - start < 120
    assert result.code == 1, result.output
    rows = {c["id"].rsplit("::", 1)[-1]: c for r in result.report["runs"] for c in r["checks"] if c["layer"] == "user"}
    assert rows["test_a_segfault"]["status"] == "error" and "died" in rows["test_a_segfault"]["message"]
    assert rows["test_b_hard_exit"]["status"] == "error"
    assert rows["test_c_sys_exit"]["status"] == "failed"
    assert rows["test_d_hang"]["status"] == "error" and "did not finish within 20s" in rows["test_d_hang"]["message"]
    assert rows["test_e_fine"]["status"] == "passed"
    broken = [c for c in result.failing() if "test_broken_import" in c["id"]]
    assert broken and "NoSuchThing" in broken[0]["message"]
    builtin = [c for r in result.report["runs"] for c in r["checks"] if c["layer"] == "assertion"]
    assert builtin and all(c["status"] == "passed" for c in builtin)
    assert leftovers(result.tmpdir) == []
    assert "Traceback" not in result.stdout


def test_json_on_stdout_and_report_schema(run_cli, fx):
    result = run_cli("--core-ref", "1.0.0", "--format", "json", *fx, json_report=False)
    assert result.code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema_version"] == 2
    assert set(report) == {"schema_version", "tool", "store", "runs", "summary"}
    run = report["runs"][0]
    for key in (
        "core_ref",
        "requirement",
        "core_version",
        "source",
        "in_declared_range",
        "status",
        "exit_code",
        "duration_s",
        "phases",
        "checks",
    ):
        assert key in run
    assert set(run["phases"]) >= {"install", "contracts"} and set(run["phases"]) & {"venv", "clone"}
    assert set(run["checks"][0]) >= {"id", "subject", "layer", "status", "severity", "rule", "message"}


def test_keep_venv_keeps_and_says_where(run_cli, fx):
    result = run_cli("--core-ref", "1.0.0", "--keep-venv", *fx)
    assert result.code == 0, result.output
    kept = leftovers(result.tmpdir)
    assert len(kept) == 1 and kept[0] in result.stderr
    assert (result.tmpdir / kept[0] / "venv").is_dir()


def signal_when(marker, sig, world, extra, env):
    """Start a check of fixture Core 1.0.0, wait until *marker* exists, then send *sig*; return the process."""
    argv = [
        sys.executable,
        "-m",
        "contract_check",
        "--core-ref",
        "1.0.0",
        "--core-package",
        CORE_DIST,
        "--find-links",
        str(world.find_links),
        "--store",
        str(world.store_wheel),
        *extra,
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    proc.send_signal(sig)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_removes_sandbox_and_exits_130(fixture_world, tmp_path, sig):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    hang = tmp_path / "hang"
    hang.mkdir()
    marker = tmp_path / "started"
    (hang / "test_hang.py").write_text(
        f"import pathlib, time\n\ndef test_hang():\n    pathlib.Path({str(marker)!r}).touch()\n    time.sleep(600)\n"
    )
    proc = signal_when(marker, sig, fixture_world, ["--contracts", str(hang)], cli_env(tmpdir))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(tmpdir) == []
    # the hanging contract's process was killed with the tool
    ps = subprocess.run(["pgrep", "-f", str(hang)], capture_output=True, text=True)
    assert ps.stdout.strip() == "", ps.stdout


def test_store_that_is_not_a_project_is_usage_error(run_cli, tmp_path, fx):
    empty = tmp_path / "not-a-project"
    empty.mkdir()
    result = run_cli("--core-ref", "1.0.0", *fx[:-4], "--store", empty)
    assert result.code == 2, result.output
    assert "not a Python project" in result.stderr


def test_list_shows_every_builtin_check(run_cli):
    result = run_cli("list", json_report=False)
    assert result.code == 0, result.output
    for needle in (
        "feedback.store-subclasses-core",
        "backpressure.values",
        "health.round-trip",
        "payload.golden.HealthStatus",
        "CONSTRAINT_TIGHTENED",
        "EXTRA_FORBIDDEN",
    ):
        assert needle in result.stdout


def test_github_actions_folds_uv_install_output(run_cli, fx, tmp_path):
    """Under GITHUB_ACTIONS=true uv's install output of each run is printed in a ::group:: on stderr; nowhere else."""
    out = tmp_path / "gha"
    out.mkdir()
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(out / "summary.md"), "GITHUB_OUTPUT": str(out / "o")}
    result = run_cli("--core-ref", "1.0.0,1.3.0", "--no-cache", *fx, env=cli_env(tmp_path / "tmp", **github))
    assert result.code == 1, result.output
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("::group::")]
    assert [lines[i] for i in starts] == ["::group::uv install for 1.0.0", "::group::uv install for 1.3.0"]
    for start, version in zip(starts, ("1.0.0", "1.3.0"), strict=True):
        end = lines.index("::endgroup::", start)
        assert lines[start + 1].startswith("::stop-commands::")
        assert lines[end - 1] == "::" + lines[start + 1].removeprefix("::stop-commands::") + "::"
        assert any(f"{CORE_DIST}=={version}" in line for line in lines[start:end]), lines[start:end]
    assert "::group::" not in result.stdout  # stdout stays the table (or the JSON of --format json)
    for text in ((out / "summary.md").read_text(), (out / "o").read_text(), json.dumps(result.report)):
        assert "uv install" not in text and "::group::" not in text
    assert not [key for run in result.report["runs"] for key in run if "install" in key]  # schema unchanged

    plain = run_cli("--core-ref", "1.0.0", *fx)  # not on GitHub Actions: no group anywhere
    assert plain.code == 0, plain.output
    assert "::group::" not in plain.output and "::stop-commands::" not in plain.output


@pytest.mark.network
@pytest.mark.parametrize(("core", "in_range"), [("1.2.0", False), ("1.4.61", True)])
def test_real_store_with_real_core(run_cli, core, in_range):
    """End to end against the published packages: Store 0.6.73 declares market-data-core>=1.4.61,<2."""
    result = run_cli("--core-ref", core, "--store", "market-data-store==0.6.73")
    assert result.code == 0, result.output
    run = only_run(result)
    assert run["core_version"] == core and run["in_declared_range"] is in_range
    assert result.report["store"]["version"] == "0.6.73"
    assert len(run["checks"]) >= 30 and not result.failing()


@pytest.mark.network
def test_real_store_against_an_older_real_core(run_cli):
    """The upgrade question on the published packages: Core 1.4.61 compared live with Core 1.2.0, not a golden."""
    result = run_cli("--core-ref", "1.4.61", "--against", "1.2.0", "--store", "market-data-store==0.6.73")
    assert result.code == 0, result.output  # the published schemas of 1.2.0 and 1.4.61 agree for these models
    run = only_run(result)
    assert run["baseline"] == "against 1.2.0 (1.2.0)" and not result.failing()
    assert "against 1.2.0" in result.stdout
    assert run["core_version"] == "1.4.61" and len(run["checks"]) >= 30


@pytest.mark.network
def test_default_store_is_newest_published(run_cli, tmp_path):
    result = run_cli("--core-ref", "1.4.61", cwd=tmp_path)
    assert result.code == 0, result.output
    assert result.report["store"]["name"] == "market-data-store"
    assert "newest on the index" in result.stdout


def test_no_child_processes_left(fixture_world):
    """Run after the fault tests in this module: nothing of ours is still running."""
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    stray = [line for line in ps.splitlines() if "contract-check-" in line and "pytest" in line]
    assert stray == [], stray
    assert os.getpid()


@pytest.mark.parametrize("phase", ["venv", "install"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_venv_or_install(fixture_world, tmp_path, phase, sig):
    """A signal while uv creates the venv or installs: exit 130, no sandbox, no child process left."""
    real_uv = subprocess.run(
        [sys.executable, "-c", "import uv; print(uv.find_uv_bin())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    marker = tmp_path / "in-phase"
    sleeper = f"sleep {617 + list(signal.Signals).index(sig)}{'1' if phase == 'venv' else '2'}"
    wrapper = tmp_path / "uv"
    wrapper.write_text(
        textwrap.dedent(f"""\
        #!/bin/bash
        case " $* " in
          *" --help "*) ;;
          *" {"venv" if phase == "venv" else "install"} "*) touch {marker}; {sleeper}; exit 1 ;;
        esac
        exec {real_uv} "$@"
        """)
    )
    wrapper.chmod(0o755)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = signal_when(marker, sig, fixture_world, ["--no-cache"], cli_env(tmpdir, UV=str(wrapper)))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(tmpdir) == []
    assert subprocess.run(["pgrep", "-f", sleeper], capture_output=True).returncode == 1  # nothing left running


def test_json_stdout_stays_json_under_github_actions(run_cli, fx, tmp_path):
    """--format json under Actions: stdout is one JSON document; annotations and groups go to stderr."""
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
        "GITHUB_OUTPUT": str(tmp_path / "o"),
    }
    result = run_cli(
        "--core-ref", "1.3.0", "--format", "json", *fx, json_report=False, env=cli_env(tmp_path / "tmp", **github)
    )
    assert result.code == 1
    report = json.loads(result.stdout)  # would fail if an annotation line followed the JSON
    assert report["summary"]["exit_code"] == 1
    assert "::error title=" in result.stderr and "::error" not in result.stdout
