"""The cache under real runs (slow): a clean-up during a check never installs into another Python, prune keeps
what a running check holds, and a cache copied away and back (as CI's cache action does) gives the same answers.

The Python the sandboxes are made from is a *copy* of this machine's interpreter (its standard library hard
linked, an empty site-packages of its own), so that a failure shows up as packages in the copy's site-packages,
never in the machine's own Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import cli_env
from contract_check.cache import cachedir, cacheledger
from contract_check.errors import EnvironmentProblem
from contract_check.sandbox import ClonedSandbox, FreshSandbox, SandboxSettings, baseenv
from contract_check.sources.index import IndexSettings
from contract_check.util import fingerprint
from fixturepkgs import CORE_DIST, PYDANTIC_REQUIREMENT, build_store_wheel, core_files, write_store_project, write_wheel

pytestmark = pytest.mark.slow

VERSION = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def copy_interpreter(dest: Path) -> Path:
    """A standalone copy of this interpreter: its binary copied, its standard library hard linked (directories
    are new, so nothing written there reaches the original), an empty site-packages. Returns the binary."""
    src = Path(sys.base_prefix)
    (dest / "bin").mkdir(parents=True)
    binary = dest / "bin" / VERSION
    shutil.copy2(os.path.realpath(getattr(sys, "_base_executable", sys.executable)), binary)
    skip = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "__pycache__"}

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(
        src / "lib" / VERSION,
        dest / "lib" / VERSION,
        copy_function=link,
        ignore=lambda _d, names: [n for n in names if n in skip],
    )
    (dest / "lib" / VERSION / "site-packages").mkdir()
    probe = subprocess.run(
        [binary, "-I", "-c", "import sys, site; print(sys.prefix); print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix, site = probe.stdout.split()
    # the copy must be its own Python: if its prefix were the original's, a failure would hit the machine's
    assert Path(prefix) == dest and Path(site) == dest / "lib" / VERSION / "site-packages", probe.stdout
    return binary


@pytest.fixture(scope="module")
def copied_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_interpreter(tmp_path_factory.mktemp("copied-python") / "py")


def site_packages(python: Path) -> list[str]:
    return sorted(p.name for p in (python.parent.parent / "lib" / VERSION / "site-packages").iterdir())


def probe_wheel(where: Path, name: str = "cc-probe") -> Path:
    return write_wheel(where, name, "1.0.0", {f"{name.replace('-', '_')}/__init__.py": ""})


# ----------------------------------------------------------------------------- item 5: the sandbox only


def test_a_clone_of_a_base_that_lost_its_pyvenv_cfg_never_installs_into_the_base_interpreter(
    copied_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a `cache clear` or `rm -rf` during a check leaves: the base is being removed while a ref clones it,
    and the clone has no pyvenv.cfg. uv, given that clone's bin/python, installs into the Python it points at."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    links = tmp_path / "links"
    probe_wheel(links)
    settings = SandboxSettings(
        python=str(copied_python), index=IndexSettings(find_links=(str(links),), offline=True), timeout=120
    )
    base = tmp_path / "base"
    with FreshSandbox(settings) as fresh:
        shutil.move(str(fresh.venv), str(base))
    (base / "pyvenv.cfg").unlink()  # the clean-up reached it first
    before = site_packages(copied_python)
    with pytest.raises(EnvironmentProblem) as caught, ClonedSandbox(settings, base) as box:
        box.install(["cc-probe"], [])
    assert caught.value.exit_code == 3
    assert "pyvenv.cfg" in caught.value.message
    assert site_packages(copied_python) == before == []


def reseal_without_pyvenv_cfg(base: Path) -> None:
    """The state a clean-up during a base's build left behind: a sealed base (a fingerprint that matches) whose
    pyvenv.cfg is gone."""
    (base / "pyvenv.cfg").unlink()
    marker = base / baseenv.COMPLETE
    data = json.loads(marker.read_text())
    data["fingerprint"] = fingerprint.stat_digest(base, skip=baseenv.COMPLETE)
    marker.write_text(json.dumps(data))


def core_wheel(links: Path, version: str) -> Path:
    return write_wheel(links, CORE_DIST, version, core_files(), [PYDANTIC_REQUIREMENT])


@pytest.fixture
def links(tmp_path: Path, fixture_world: Any) -> Path:
    folder = tmp_path / "links"
    folder.mkdir()
    shutil.copy(fixture_world.store_wheel, folder)
    return folder


def flags(links: Path, python: Path) -> list[str | Path]:
    store = next(links.glob("cc_fixture_store*"))
    return ["--core-package", CORE_DIST, "--find-links", links, "--store", store, "--python", python]


def test_a_sealed_base_without_pyvenv_cfg_is_rebuilt_not_installed_through(
    run_cli: Any, links: Path, copied_python: Path, tmp_path: Path
) -> None:
    core_wheel(links, "9.1.0")
    core_wheel(links, "9.1.1")
    cache = tmp_path / "cc"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    first = run_cli("--core-ref", "9.1.0", *flags(links, copied_python), env=env)
    assert first.code == 0, first.output
    (base,) = [p for p in (cache / "envs").iterdir() if (p / baseenv.COMPLETE).is_file()]
    reseal_without_pyvenv_cfg(base)
    before = site_packages(copied_python)
    again = run_cli("--core-ref", "9.1.1", *flags(links, copied_python), env=env)
    assert site_packages(copied_python) == before == [], again.output
    assert again.code == 0, again.output  # the base no longer counts as one: rebuilt
    assert (base / "pyvenv.cfg").is_file()


BLOCKING = """
import os
import time
from pathlib import Path


def test_waits_for_the_clean_up():
    gate = Path(os.environ["CC_GATE"])
    (gate / "started").touch()
    deadline = time.monotonic() + 240
    while not (gate / "go").exists():
        assert time.monotonic() < deadline, "the test never opened the gate"
        time.sleep(0.05)
"""


@pytest.mark.parametrize("clean_up", ["cache clear", "cache prune", "rm -rf"])
def test_a_clean_up_of_the_cache_during_a_check_costs_it_exit_3_at_worst(
    run_cli: Any, links: Path, copied_python: Path, tmp_path: Path, clean_up: str
) -> None:
    core_wheel(links, "9.2.0")
    core_wheel(links, "9.2.1")
    contracts = tmp_path / "gate-contracts"
    contracts.mkdir()
    (contracts / "test_gate.py").write_text(textwrap.dedent(BLOCKING))
    gate = tmp_path / "gate"
    gate.mkdir()
    cache = tmp_path / "cc"
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache), CC_GATE=str(gate))
    argv = [sys.executable, "-m", "contract_check", "--core-ref", "9.2.0,9.2.1", "--jobs", "1"]
    argv += [*map(str, flags(links, copied_python)), "--contracts", str(contracts), "--json", str(tmp_path / "r.json")]
    before = site_packages(copied_python)
    check = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (gate / "started").exists():
            assert check.poll() is None, check.communicate()[0]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        if clean_up == "rm -rf":
            shutil.rmtree(cache)
        else:
            command = ["cache", "clear"] if clean_up == "cache clear" else ["cache", "prune", "--max-size", "0"]
            cleaned = run_cli(*command, env=env, json_report=False, timeout=60)
            assert cleaned.code == 0, cleaned.output
            assert "kept 1 in use by a running check: envs/" in cleaned.stdout, cleaned.output
        (gate / "go").touch()
        output, _ = check.communicate(timeout=300)
    finally:
        if check.poll() is None:
            check.kill()
    assert site_packages(copied_python) == before == [], output
    # the base is in use (cache clear leaves it) or gone before the second ref clones it (rm -rf): that ref gets
    # a fresh environment; a clean-up that reaches a clone midway is exit 3 (the test above)
    assert check.returncode == 0, output


# ------------------------------------------------------------------------------------ item 3: the bound


def test_the_cache_stays_within_its_bound_across_store_states(run_cli: Any, links: Path, tmp_path: Path) -> None:
    """Issue 18: a base environment per Store state, kept for ever. With a bound, the least recently used go."""
    core_wheel(links, "9.4.0")
    stores = [build_store_wheel(tmp_path / f"store-{n}", f"0.1.{n}") for n in range(3)]
    cache = tmp_path / "cc"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    args = ["--core-ref", "9.4.0", "--core-package", CORE_DIST, "--find-links", links]
    first = run_cli(*args, "--store", stores[0], env=env)
    assert first.code == 0, first.output
    (base,) = [p for p in (cache / "envs").iterdir() if p.is_dir()]
    limit = int(cachedir.tree_size(base) * 1.5)  # room for one base, not two
    env[cacheledger.SIZE.variable] = str(limit)
    for store in stores[1:]:
        later = run_cli(*args, "--store", store, env=env)
        assert later.code == 0, later.output
    bases = [p for p in (cache / "envs").iterdir() if p.is_dir()]
    assert len(bases) == 1 and bases[0] != base, bases  # only the newest Store's
    records, _ = cacheledger.read(cache)
    assert sum(r.size for r in records.values()) <= limit
    info = run_cli("cache", "info", env=env, json_report=False)
    assert "environments     1 " in info.stdout and "prune would remove nothing" in info.stdout, info.output


# ---------------------------------------------------------------------- item 4: a cache copied away and back


def answers(report: dict[str, Any] | None) -> list[tuple[str, int, list[tuple[str, str]]]]:
    assert report is not None
    return [
        (r["core_ref"], r["exit_code"], sorted((c["id"], c["status"]) for c in r["checks"])) for r in report["runs"]
    ]


def restore(cache: Path, away: Path, *, keep_mtimes: bool) -> None:
    """What CI's cache action does between two jobs: the directory saved, removed, and put back."""
    copy = shutil.copy2 if keep_mtimes else shutil.copy
    shutil.copytree(cache, away, symlinks=True, copy_function=copy)
    shutil.rmtree(cache)
    shutil.copytree(away, cache, symlinks=True, copy_function=copy)
    shutil.rmtree(away)


@pytest.mark.parametrize("keep_mtimes", [True, False])
def test_the_same_check_against_a_restored_cache_gives_the_same_answers(
    run_cli: Any, links: Path, tmp_path: Path, keep_mtimes: bool
) -> None:
    """Every cached path (result, shared environment, built Store wheel) reused after a restore, or rebuilt when
    the restore lost what it is verified by (mtimes, for an environment), and never a different answer."""
    core_wheel(links, "9.5.0")
    write_wheel(links, CORE_DIST, "9.5.1", core_files("queue_size_positive"), [PYDANTIC_REQUIREMENT])
    core_wheel(links, "9.5.2")
    project = write_store_project(tmp_path / "store")
    cache = tmp_path / "cc"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    args = ["--core-package", CORE_DIST, "--find-links", links, "--store", project]
    first = run_cli("--core-ref", "9.5.0,9.5.1", *args, env=env)
    assert first.code == 1 and [r["exit_code"] for r in first.report["runs"]] == [0, 1], first.output
    (base,) = [p for p in (cache / "envs").iterdir() if p.is_dir()]
    (wheel_dir,) = [p for p in (cache / "wheels").iterdir() if p.is_dir()]
    built = (wheel_dir / cachedir.WHEEL_MARKER).read_text()
    created = json.loads((base / baseenv.COMPLETE).read_text())["created"]
    restore(cache, tmp_path / "saved", keep_mtimes=keep_mtimes)

    second = run_cli("--core-ref", "9.5.0,9.5.1", *args, env=env)
    assert answers(second.report) == answers(first.report) and second.code == first.code, second.output
    assert [r["cached"] for r in second.report["runs"]] == [True, True]
    again = json.loads((base / baseenv.COMPLETE).read_text())["created"]
    assert (again == created) == keep_mtimes  # a base whose mtimes were lost no longer matches its fingerprint
    assert (wheel_dir / cachedir.WHEEL_MARKER).read_text() == built  # the Store wheel is not built again

    new_ref = run_cli("--core-ref", "9.5.2", *args, env=env)  # not in the results: a run from the restored base
    fresh = run_cli(
        "--core-ref", "9.5.2", *args, env=cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(tmp_path / "new"))
    )
    assert new_ref.code == fresh.code == 0, new_ref.output
    assert answers(new_ref.report) == answers(fresh.report)
