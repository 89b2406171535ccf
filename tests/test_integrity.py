"""Verdict integrity: nothing outside the Core under test may change the answer.

Each test reproduces a way a user saw a wrong verdict (a stray conftest or ini file, a rebuilt wheel, an
inherited variable, a contract writing to installed files, a run that silently skipped checks) in a setup
shaped like the field, and shows what the tool says now. All of them start real uv venvs (``slow``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import cli_env, leftovers
from contract_check import suite
from contract_check.run import pytest_session
from fixturepkgs import (
    CORE_DIST,
    PYDANTIC_REQUIREMENT,
    STORE_CORE_RANGE,
    STORE_DIST,
    apply_edits,
    core_files,
    store_files,
    write_store_project,
    write_wheel,
)

pytestmark = pytest.mark.slow

BP = "market_data_core/telemetry/backpressure.py"
TS_LINE = '    ts: float = Field(..., description="Unix epoch seconds")\n'
IMPORTS = ("from pydantic import BaseModel, Field\n", "from pydantic import BaseModel, Field, model_validator\n")


def _validator(body: str) -> tuple[tuple[str, str, str], ...]:
    code = f'\n    @model_validator(mode="after")\n    def _check(self):\n        {body}\n'
    return ((BP, *IMPORTS), (BP, TS_LINE, TS_LINE + code))


BROKEN_CORES: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "fails-to-import": (("market_data_core/telemetry/__init__.py", None, "raise ImportError('half-done refactor')\n"),),
    "rejects-every-event": _validator('raise ValueError("no events today")'),
    "new-max-length": ((BP, "coordinator_id: str = Field(...,", "coordinator_id: str = Field(..., max_length=3,"),),
}
DECLARED = [i for e in suite.declared_checks(pytest_session.builtin_contracts()) for i in e.ids()]


def core_wheel(dest: Path, version: str, edits: Any = (), variant: str = "baseline") -> Path:
    return write_wheel(dest, CORE_DIST, version, apply_edits(core_files(variant), edits), [PYDANTIC_REQUIREMENT])


def store_wheel(dest: Path, extra: dict[str, str], version: str = "0.1.0") -> Path:
    files = {**store_files(), **extra}
    return write_wheel(dest, STORE_DIST, version, files, [f"{CORE_DIST}{STORE_CORE_RANGE}", PYDANTIC_REQUIREMENT])


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def builtin_ids(result: Any) -> dict[str, str]:
    assert result.report is not None, result.output
    (run,) = result.report["runs"]
    return {c["id"]: c["status"] for c in run["checks"] if c["layer"] != "user"}


def only_run(result: Any) -> dict[str, Any]:
    assert result.report is not None, result.output
    (run,) = result.report["runs"]
    return run


@pytest.fixture
def links(tmp_path: Path, fixture_world) -> Path:
    """A private find-links directory: the fixture Store wheel plus Core wheels a test writes."""
    folder = tmp_path / "links"
    folder.mkdir()
    shutil.copy(fixture_world.store_wheel, folder)
    return folder


def flags(links: Path, *, store: Path | None = None) -> list[str | Path]:
    return [
        "--core-package",
        CORE_DIST,
        "--find-links",
        links,
        "--store",
        store or next(links.glob("cc_fixture_store*")),
    ]


# ------------------------------------------------------------------------------------------- the sandbox is sealed


def _store_repo(tmp_path: Path, *, config: bool) -> Path:
    """A Store checkout whose root conftest puts a vendored good copy of Core first on sys.path (a common
    ``sys.path.insert(0, ...)``), with its own contract tests under tests/contracts."""
    repo = write_store_project(tmp_path / "store-repo")
    for name, text in core_files("baseline").items():
        write(repo / "vendor", {name: text})
    write(
        repo,
        {
            "conftest.py": """
            import sys
            from pathlib import Path

            sys.path.insert(0, str(Path(__file__).parent / "vendor"))
            """,
            "tests/contracts/test_store_events.py": """
            from market_data_core.telemetry import BackpressureLevel, FeedbackEvent

            def test_event_builds():
                FeedbackEvent(coordinator_id="c", queue_size=0, capacity=1, level=BackpressureLevel.ok, ts=1.0)
            """,
        },
    )
    if config:
        with (repo / "pyproject.toml").open("a") as fh:
            fh.write('\n[tool.contract-check]\ncontracts = ["tests/contracts"]\n')
    return repo


@pytest.mark.parametrize("broken", list(BROKEN_CORES))
@pytest.mark.parametrize("via", ["flag", "config"])
def test_a_conftest_above_the_contracts_cannot_hide_a_broken_core(run_cli, links, tmp_path, broken, via) -> None:
    core_wheel(links, "7.0.1", BROKEN_CORES[broken])
    repo = _store_repo(tmp_path, config=via == "config")
    extra = ["--contracts", "tests/contracts"] if via == "flag" else []
    result = run_cli("--core-ref", "7.0.1", "--core-package", CORE_DIST, "--find-links", links, *extra, cwd=repo)
    run = only_run(result)
    # the sealed built-ins saw the broken Core; the user's session imported the vendored copy: not trusted
    assert result.code == 3, result.output
    assert run["core_version"] == "7.0.1"
    assert f"was imported from {repo / 'vendor'}" in run["error"]
    assert any(c["status"] in ("failed", "error") for c in run["checks"] if c["layer"] != "user")
    assert "COMPATIBLE" not in result.stdout.replace("COULD NOT CHECK", "")


def test_without_the_shadow_the_same_store_contracts_give_real_verdicts(run_cli, links, tmp_path) -> None:
    core_wheel(links, "7.0.2")
    core_wheel(links, "7.0.3", BROKEN_CORES["rejects-every-event"])
    repo = _store_repo(tmp_path, config=True)
    (repo / "conftest.py").unlink()
    good = run_cli("--core-ref", "7.0.2", "--core-package", CORE_DIST, "--find-links", links, cwd=repo)
    assert good.code == 0, good.output
    assert "tests/contracts/test_store_events.py::test_event_builds" in {c["id"] for c in only_run(good)["checks"]}
    bad = run_cli("--core-ref", "7.0.3", "--core-package", CORE_DIST, "--find-links", links, cwd=repo)
    assert bad.code == 1, bad.output


def test_an_ini_and_a_conftest_above_tmpdir_do_not_apply(run_cli, links, tmp_path) -> None:
    """TMPDIR is tmp_path/tmp: a pytest.ini and a conftest.py in its parent put a good Core first."""
    good_copy = tmp_path / "good-core"
    write(good_copy, core_files("baseline"))
    write(
        tmp_path,
        {
            "pytest.ini": f"[pytest]\npythonpath = {good_copy}\n",
            "conftest.py": f"import sys\nsys.path.insert(0, {str(good_copy)!r})\n",
        },
    )
    core_wheel(links, "7.0.4", BROKEN_CORES["new-max-length"])
    result = run_cli("--core-ref", "7.0.4", *flags(links))
    assert result.code == 1, result.output
    assert any(c["status"] == "failed" for c in only_run(result)["checks"])


@pytest.mark.parametrize("cache", [[], ["--no-cache"]], ids=["cache", "no-cache"])
def test_a_rebuilt_wheel_with_the_same_version_is_read_again(run_cli, links, cache) -> None:
    core_wheel(links, "7.1.0")
    first = run_cli("--core-ref", "7.1.0", *flags(links), *cache)
    assert first.code == 0, first.output
    time.sleep(0.01)
    core_wheel(links, "7.1.0", variant="queue_size_positive")  # a developer iterating on a local Core
    second = run_cli("--core-ref", "7.1.0", *flags(links), *cache)
    assert second.code == 1, second.output
    assert "CONSTRAINT_TIGHTENED" in {c["rule"] for c in only_run(second)["checks"]}
    assert only_run(second)["cached"] is False


# ----------------------------------------------------------------------------------- every built-in check ran


USER_CONFTESTS = {
    "deselects-schema-items": """
        def pytest_collection_modifyitems(config, items):
            keep = [i for i in items if "schema" not in i.nodeid and "snapshot" not in i.nodeid]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        """,
    "marks-everything-xfail": """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.xfail(reason="flaky upstream"))
        """,
    "deletes-builtin-files": """
        import os
        from pathlib import Path

        for path in Path(os.environ["CONTRACT_CHECK_OUT"]).parent.glob("suite/test_*.py"):
            path.unlink()
        """,
}


@pytest.mark.parametrize("name", list(USER_CONFTESTS))
def test_a_user_conftest_cannot_reach_the_builtins(run_cli, links, tmp_path, name) -> None:
    mine = tmp_path / "mine"
    write(mine, {"conftest.py": USER_CONFTESTS[name], "test_mine.py": "def test_mine():\n    pass\n"})
    core_wheel(links, "7.2.0")
    core_wheel(links, "7.2.1", variant="queue_size_positive")
    good = run_cli("--core-ref", "7.2.0", "--contracts", mine, *flags(links))
    assert good.code == 0, good.output
    assert builtin_ids(good).keys() >= set(DECLARED)
    assert set(builtin_ids(good).values()) == {"passed"}
    bad = run_cli("--core-ref", "7.2.1", "--contracts", mine, *flags(links))
    assert bad.code == 1, bad.output


SITECUSTOMIZE = {
    "sets-pytest-addopts": "import os\nos.environ['PYTEST_ADDOPTS'] = '-k values'\n",
    "deletes-builtin-files": (
        "import os, pathlib\nfor p in pathlib.Path.cwd().glob('test_health.py'):\n    p.unlink()\n"
    ),
}


def test_a_store_that_sets_pytest_addopts_at_startup_changes_nothing(run_cli, links, tmp_path) -> None:
    store = store_wheel(tmp_path / "store", {"sitecustomize.py": SITECUSTOMIZE["sets-pytest-addopts"]})
    core_wheel(links, "7.3.0")
    core_wheel(links, "7.3.1", variant="queue_size_positive")
    good = run_cli("--core-ref", "7.3.0", *flags(links, store=store))
    assert good.code == 0, good.output
    assert builtin_ids(good).keys() >= set(DECLARED)  # not just the one check "-k values" would keep
    bad = run_cli("--core-ref", "7.3.1", *flags(links, store=store))
    assert bad.code == 1, bad.output


def test_a_run_that_lost_builtin_checks_could_not_check(run_cli, links, tmp_path) -> None:
    """A Store whose start-up code deletes a built-in test file from the sandbox: those ids never report."""
    store = store_wheel(tmp_path / "store", {"sitecustomize.py": SITECUSTOMIZE["deletes-builtin-files"]})
    core_wheel(links, "7.3.2")
    result = run_cli("--core-ref", "7.3.2", *flags(links, store=store))
    assert result.code == 3, result.output
    error = only_run(result)["error"]
    assert "not every built-in check ran" in error and "health.round-trip" in error
    assert "COMPATIBLE" not in result.stdout.replace("COULD NOT CHECK", "")


def test_a_core_raising_keyboard_interrupt_is_that_checks_failure(run_cli, links) -> None:
    core_wheel(links, "7.4.0", _validator('raise KeyboardInterrupt("from a validator")'))
    result = run_cli("--core-ref", "7.4.0", *flags(links))
    assert result.code == 1, result.output
    ids = builtin_ids(result)
    assert ids.keys() >= set(DECLARED)  # the session went on after the first one
    failing = [c for c in only_run(result)["checks"] if c["status"] in ("failed", "error")]
    assert any("KeyboardInterrupt raised while the contract ran" in c["message"] for c in failing)


def test_a_core_that_skips_the_checks_could_not_check(run_cli, links) -> None:
    edits = (
        ("market_data_core/telemetry/__init__.py", None, "import pytest\npytest.skip('no', allow_module_level=True)\n"),
    )
    core_wheel(links, "7.4.1", edits)
    result = run_cli("--core-ref", "7.4.1", *flags(links))
    assert result.code == 3, result.output
    assert "could not check" in only_run(result)["error"]
    assert "skipped or xfail: backpressure.values" in only_run(result)["error"]


# ---------------------------------------------------------------------------------------- inherited settings


def test_pythonwarnings_error_in_the_callers_environment_changes_nothing(run_cli, links, tmp_path) -> None:
    core_wheel(links, "7.5.0")
    cache = tmp_path / "cc-cache"
    plain = run_cli(
        "--core-ref", "7.5.0", *flags(links), env=cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    )
    assert plain.code == 0, plain.output
    strict_env = cli_env(tmp_path / "tmp", PYTHONWARNINGS="error", CONTRACT_CHECK_CACHE_DIR=str(cache))
    again = run_cli("--core-ref", "7.5.0", *flags(links), "--no-cache", env=strict_env)
    assert again.code == 0, again.output
    assert not [c for c in only_run(again)["checks"] if c["status"] != "passed"]


def test_a_verdict_variable_is_part_of_the_result_key(run_cli, links, tmp_path) -> None:
    core_wheel(links, "7.5.1")
    cache = str(tmp_path / "cc-cache")
    first = run_cli("--core-ref", "7.5.1", *flags(links), env=cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=cache))
    same = run_cli(
        "--core-ref",
        "7.5.1",
        *flags(links),
        env=cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=cache, UNRELATED="1"),
    )
    other_tz = run_cli(
        "--core-ref",
        "7.5.1",
        *flags(links),
        env=cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=cache, TZ="Asia/Tokyo"),
    )
    assert (first.code, same.code, other_tz.code) == (0, 0, 0)
    assert [only_run(r)["cached"] for r in (first, same, other_tz)] == [False, True, False]


def test_a_user_contract_named_like_a_builtin_does_not_collide(run_cli, links, tmp_path) -> None:
    mine = tmp_path / "mine"
    write(mine, {"test_feedback.py": "def test_store_feedback():\n    assert True\n"})
    core_wheel(links, "7.5.2")
    result = run_cli("--core-ref", "7.5.2", "--contracts", mine, *flags(links))
    assert result.code == 0, result.output
    ids = {c["id"] for c in only_run(result)["checks"]}
    assert "feedback.round-trip" in ids and any(i.endswith("test_feedback.py::test_store_feedback") for i in ids)


def test_a_ref_whose_marker_excludes_it_is_a_usage_error(run_cli, links) -> None:
    wheel = core_wheel(links, "7.5.3")
    result = run_cli("--core-ref", f'{CORE_DIST} @ {wheel.as_uri()} ; python_version < "3"', *flags(links))
    assert result.code == 2, result.output
    assert "environment marker" in result.stderr


def test_a_store_that_does_not_depend_on_core_is_a_usage_error(run_cli, links, tmp_path) -> None:
    not_a_store = write_wheel(tmp_path / "other", "just-a-lib", "1.0.0", {"just_a_lib/__init__.py": ""})
    core_wheel(links, "7.5.4")
    result = run_cli("--core-ref", "7.5.4", *flags(links, store=not_a_store))
    assert result.code == 2, result.output
    assert "does not depend on cc-fixture-core" in result.stderr


# --------------------------------------------------------------------------- nothing a contract does outlives it


POISON = """
import importlib.util
from pathlib import Path

def test_poison():
    spec = importlib.util.find_spec("market_data_store.coordinator")
    with open(Path(spec.origin), "a") as fh:
        fh.write("\\nraise ImportError('POISONED by a previous run')\\n")
"""


def test_a_contract_that_rewrites_an_installed_file_cannot_affect_a_later_run(run_cli, links, tmp_path) -> None:
    uv_cache = tmp_path / "uv-cache"
    poison = tmp_path / "poison"
    write(poison, {"test_poison.py": POISON})
    core_wheel(links, "7.6.0")
    core_wheel(links, "7.6.1")

    def env(cache: str) -> dict[str, str]:
        return cli_env(tmp_path / "tmp", UV_CACHE_DIR=str(uv_cache), CONTRACT_CHECK_CACHE_DIR=str(tmp_path / cache))

    poisoned = run_cli("--core-ref", "7.6.0", "--contracts", poison, *flags(links), env=env("cc-1"))
    assert poisoned.code == 0, poisoned.output  # appending after the import changes nothing for this run
    # later runs, with another contract-check cache, fresh venvs or a clone of a base, the same uv cache
    for cache, extra in (("cc-2", ["--no-cache"]), ("cc-3", []), ("cc-3", ["--core-ref", "7.6.0,7.6.1"])):
        later = run_cli("--core-ref", "7.6.0", *flags(links), *extra, env=env(cache))
        assert later.code == 0, later.output
        assert "POISONED" not in later.output
    # and no file installed from uv's cache shares an inode with it
    cached = {(st.st_dev, st.st_ino) for st in (p.stat() for p in uv_cache.rglob("*.py") if p.is_file())}
    kept = run_cli("--core-ref", "7.6.0", *flags(links), "--keep-venv", env=env("cc-4"))
    venv = next(kept.tmpdir.glob("contract-check-*/venv"))
    installed = {(st.st_dev, st.st_ino) for st in (p.stat() for p in venv.rglob("*.py") if p.is_file())}
    assert installed and not installed & cached
    shutil.rmtree(venv.parent)


def test_a_contract_that_writes_through_a_clone_discards_the_shared_environment(run_cli, links, tmp_path) -> None:
    """Refs run in clones of one base (hard links): the base is verified after each run, discarded when a
    run changed it, and the runs that may have seen the change are checked again in fresh environments."""
    poison = tmp_path / "poison"
    write(poison, {"test_poison.py": POISON})
    for n in range(3):
        core_wheel(links, f"7.7.{n}")
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "cc"))
    result = run_cli("--core-ref", "7.7.0,7.7.1,7.7.2", "--jobs", "2", "--contracts", poison, *flags(links), env=env)
    assert result.code == 0, result.output
    assert "the shared environment changed while it was in use" in result.stderr
    clean = run_cli("--core-ref", "7.7.0,7.7.1", "--no-cache", *flags(links), env=env)
    assert clean.code == 0 and "POISONED" not in clean.output, clean.output


# ---------------------------------------------------------------------------------------------- the result cache


def test_an_edited_conftest_above_the_contracts_misses_the_cache(run_cli, links, tmp_path) -> None:
    repo = write_store_project(tmp_path / "store-repo")
    write(repo, {"tests/conftest.py": "X = 1\n", "tests/contracts/test_mine.py": "def test_mine():\n    pass\n"})
    core_wheel(links, "7.8.0")
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "cc"))
    args = ["--core-ref", "7.8.0", "--core-package", CORE_DIST, "--find-links", links, "--contracts", "tests/contracts"]
    assert run_cli(*args, cwd=repo, env=env).code == 0
    assert only_run(run_cli(*args, cwd=repo, env=env))["cached"] is True
    (repo / "tests" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(autouse=True)\ndef _broken():\n    raise RuntimeError('db down')\n"
    )
    again = run_cli(*args, cwd=repo, env=env)
    assert only_run(again)["cached"] is False and again.code == 1, again.output


def test_a_hand_edited_cached_result_is_not_served(run_cli, links, tmp_path) -> None:
    core_wheel(links, "7.8.1", variant="queue_size_positive")
    cache = tmp_path / "cc"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    assert run_cli("--core-ref", "7.8.1", *flags(links), env=env).code == 1
    (entry,) = (cache / "results").glob("*.json")
    data = json.loads(entry.read_text())
    data["run"].update(exit_code=0, status="passed", checks=[])
    entry.write_text(json.dumps(data))
    again = run_cli("--core-ref", "7.8.1", *flags(links), env=env)
    assert again.code == 1 and only_run(again)["cached"] is False, again.output


def test_a_damaged_shared_environment_is_rebuilt(run_cli, links, tmp_path) -> None:
    core_wheel(links, "7.8.2")
    core_wheel(links, "7.8.3")
    cache = tmp_path / "cc"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    assert run_cli("--core-ref", "7.8.2", *flags(links), env=env).code == 0
    (base,) = [p for p in (cache / "envs").iterdir() if p.is_dir()]
    pydantic_init = next(base.glob("lib/python*/site-packages/pydantic/__init__.py"))
    pydantic_init.write_text("raise ImportError('damaged')\n")
    again = run_cli("--core-ref", "7.8.3", *flags(links), env=env)
    assert again.code == 0, again.output
    assert "damaged" not in next(base.glob("lib/python*/site-packages/pydantic/__init__.py")).read_text()


def test_cache_info_and_clear(run_cli, links, tmp_path) -> None:
    core_wheel(links, "7.8.4")
    cache = tmp_path / "cc"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    assert run_cli("--core-ref", "7.8.4", *flags(links), env=env).code == 0
    info = run_cli("cache", "info", env=env, json_report=False)
    assert info.code == 0 and f"cache directory  {cache}" in info.stdout, info.output
    assert "results          1 (0 expired" in info.stdout and "environments     1 " in info.stdout
    cleared = run_cli("cache", "clear", env=env, json_report=False)
    assert cleared.code == 0 and "removed 1 result, 1 shared environment and 0 built Stores" in cleared.stdout, (
        cleared.output
    )
    assert not list((cache / "results").glob("*.json")) if (cache / "results").exists() else True
    assert "results          0 (0 expired" in run_cli("cache", "info", env=env, json_report=False).stdout


# --------------------------------------------------------------------------------------- processes and signals


def test_a_daemon_forked_by_a_contract_is_ended_with_the_run(run_cli, links, tmp_path) -> None:
    pidfile = tmp_path / "daemon.pid"
    mine = tmp_path / "mine"
    write(
        mine,
        {
            "test_daemon.py": f"""
            import subprocess

            def test_starts_a_daemon():
                child = subprocess.Popen(["setsid", "sleep", "120"], start_new_session=True)
                open({str(pidfile)!r}, "w").write(str(child.pid))
            """
        },
    )
    core_wheel(links, "7.9.0")
    start = time.monotonic()
    result = run_cli("--core-ref", "7.9.0", "--contracts", mine, *flags(links), "--no-cache")
    assert result.code == 0, result.output
    assert time.monotonic() - start < 60
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), f"the contract's daemon {pid} outlived the run"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_timeout_is_never_compatible(run_cli, links, tmp_path) -> None:
    mine = tmp_path / "mine"
    write(mine, {"test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(60)\n"})
    core_wheel(links, "7.9.1")
    result = run_cli("--core-ref", "7.9.1", "--contracts", mine, *flags(links), "--no-cache", "--timeout", "8")
    assert result.code == 3, result.output
    assert "did not finish within --timeout" in only_run(result)["error"]


def test_sighup_cleans_up_like_sigterm(fixture_world, links, tmp_path) -> None:
    """The terminal closes (or a CI runner cancels) while the contracts run: children and sandbox go, exit 130."""
    mine = tmp_path / "mine"
    marker = tmp_path / "running"
    write(
        mine,
        {
            "test_wait.py": f"import time\n\ndef test_wait():\n    open({str(marker)!r}, 'w').close()\n"
            "    time.sleep(60)\n"
        },
    )
    core_wheel(links, "7.9.2")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    argv = [sys.executable, "-m", "contract_check", "--core-ref", "7.9.2", "--contracts", str(mine), "--no-cache"]
    argv += [str(a) for a in flags(links)]
    child = subprocess.Popen(argv, env=cli_env(tmpdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), child.communicate()
    child.send_signal(signal.SIGHUP)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, out + err
    assert "interrupted" in err
    assert leftovers(tmpdir) == []
    assert not [pid for pid in _pids() if str(mine) in _cmdline(pid)]  # the contracts' pytest is gone too


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
