"""A Store repository shaped like the real one, for the tests and benchmarks that run in a Store checkout.

Like ``market-data-store``'s own repository: a setuptools build backend, a ``src/`` layout, its
``src/<pkg>.egg-info/*`` files committed in git (stale, as they are in the field: a build in place rewrites
them), a ``[dev]`` extra with a third-party test dependency, its own ``tests/contracts`` (one of which imports
that dependency), a ``tests/conftest.py``, and pytest settings in its pyproject that the contracts need:
``--import-mode=importlib`` in ``addopts`` (two contract files share a base name and a test name), registered
markers with ``--strict-markers``. A real git repository, made here with the ``git`` CLI.

A Core project can be laid out the same way (``make_core_repo``), for ``--core-ref ./core``.

``add_foreign_trees`` gives a Store repository what real ones carry besides their own files: a submodule, a
gitlink without ``.gitmodules``, an untracked nested repository (what a CI job's second checkout leaves), and
symbolic links to directories inside and outside the project.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fixturepkgs import (
    CORE_DIST,
    CORE_IMPORT,
    PYDANTIC_REQUIREMENT,
    STORE_DIST,
    STORE_IMPORT,
    _git,
    core_files,
    store_files,
)

#: The Store's test dependency (its [dev] extra): small, pure Python, on the index, no dependency of pytest's.
TEST_DEPENDENCY = "tomli-w"
TEST_DEPENDENCY_MODULE = "tomli_w"
STORE_REPO_VERSION = "0.2.0"
#: The Core range the repository's Store declares: fixture Core 1.0.0 is outside it, 1.1.0 inside.
STORE_REPO_CORE_RANGE = ">=1.1,<2"
SETUPTOOLS_REQUIREMENT = "setuptools>=61"

_CONFTEST = '''\
"""Fixtures shared by the Store's tests."""

import pytest


@pytest.fixture
def coordinator_id() -> str:
    return "store-coordinator-1"
'''

_FEEDBACK_ROUNDTRIP = '''\
"""The Store's feedback events survive a round trip through Core's model."""

import pytest
from market_data_core.telemetry import BackpressureLevel
from market_data_core.telemetry import FeedbackEvent as CoreEvent
from market_data_store.coordinator import FeedbackEvent


@pytest.mark.store_contract
@pytest.mark.parametrize("level", ["ok", "soft", "hard"])
def test_roundtrip(coordinator_id, level):
    event = FeedbackEvent.create(coordinator_id, 0, 10, BackpressureLevel(level), reason="drained")
    back = CoreEvent.model_validate_json(event.model_dump_json())
    assert back.level.value == level and back.source == "store"


def test_create_fills_ts(coordinator_id):
    assert FeedbackEvent.create(coordinator_id, 1, 2, BackpressureLevel.ok).ts > 0
'''

_HEALTH_ROUNDTRIP = '''\
"""Health DTOs as the Store emits them."""

import pytest
from market_data_core.telemetry import HealthComponent, HealthStatus


@pytest.mark.store_contract
@pytest.mark.parametrize("state", ["healthy", "degraded"])
def test_roundtrip(state):
    status = HealthStatus(
        service="store", state=state, components=[HealthComponent(name="db", state=state)], version="1", ts=1.5
    )
    assert HealthStatus.model_validate_json(status.model_dump_json()) == status
'''

_CONFIG_DUMP = f'''\
"""The Store writes its feedback settings as TOML (needs the [dev] extra's {TEST_DEPENDENCY})."""

import {TEST_DEPENDENCY_MODULE}
from market_data_store.coordinator import FeedbackEvent


def test_event_fields_dump_as_toml():
    text = {TEST_DEPENDENCY_MODULE}.dumps({{"fields": sorted(FeedbackEvent.model_fields)}})
    assert "coordinator_id" in text
'''

_TIMING = '''\
"""Sleeps when CC_STORE_SLEEP asks it to (the timeout and interrupt tests), touching CC_STORE_MARKER first;
passes at once otherwise."""

import os
import time


def test_sleeps_when_asked():
    if os.environ.get("CC_STORE_MARKER"):
        open(os.environ["CC_STORE_MARKER"], "w").close()
    time.sleep(float(os.environ.get("CC_STORE_SLEEP", "0")))
'''


def _pyproject(dist: str, version: str, dependencies: list[str], extras: dict[str, list[str]], tool: str) -> str:
    deps = "".join(f'    "{d}",\n' for d in dependencies)
    optional = "".join(f"{name} = {reqs!r}\n".replace("'", '"') for name, reqs in extras.items())
    return (
        "[build-system]\n"
        f'requires = ["{SETUPTOOLS_REQUIREMENT}"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{dist}"\n'
        f'version = "{version}"\n'
        'description = "contract-check test fixture shaped like the real repository"\n'
        'requires-python = ">=3.10"\n'
        f"dependencies = [\n{deps}]\n\n"
        + (f"[project.optional-dependencies]\n{optional}\n" if optional else "")
        + '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
        + tool
    )


_STORE_PYTEST = """
[tool.pytest.ini_options]
addopts = "-p no:randomly --import-mode=importlib --strict-markers"
markers = [
    "store_contract: a contract the Store keeps with Core",
]
testpaths = ["tests"]
"""


def _egg_info(dist: str, version: str, package: str, dependencies: list[str], extras: dict[str, list[str]]) -> dict:
    """Egg-info files as an older setuptools wrote them: what a build in place would rewrite."""
    module = dist.replace("-", "_")
    requires = "".join(f"{d}\n" for d in dependencies)
    requires += "".join(f"\n[{name}]\n" + "".join(f"{r}\n" for r in reqs) for name, reqs in extras.items())
    pkg_info = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    pkg_info += "".join(f"Requires-Dist: {d}\n" for d in dependencies)
    pkg_info += "".join(f"Provides-Extra: {name}\n" for name in extras)
    return {
        f"src/{module}.egg-info/PKG-INFO": pkg_info,
        f"src/{module}.egg-info/SOURCES.txt": f"pyproject.toml\nsrc/{package}/__init__.py\n",
        f"src/{module}.egg-info/dependency_links.txt": "\n",
        f"src/{module}.egg-info/requires.txt": requires,
        f"src/{module}.egg-info/top_level.txt": f"{package}\n",
    }


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _commit(root: Path) -> None:
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--no-verify", "-m", "The repository as its maintainers keep it")


@dataclass(frozen=True)
class Checkout:
    """A git checkout of a project: its root, and its tracked egg-info files."""

    root: Path

    @property
    def egg_info(self) -> list[Path]:
        return sorted(self.root.glob("src/*.egg-info/*"))

    def status(self) -> str:
        """``git status --porcelain --ignored``, every untracked file listed: empty for an untouched tree."""
        done = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # a status that never rewrites .git/index
        )
        return done.stdout

    def state(self) -> dict[str, tuple[int, int, str]]:
        """Every file outside .git: size, mtime (ns) and content digest."""
        out = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if rel.parts[0] == ".git" or not path.is_file():
                continue
            st = path.stat()
            out[rel.as_posix()] = (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        return out


@dataclass(frozen=True)
class StoreRepo(Checkout):
    """The Store checkout (see the module docstring)."""

    #: Node ids (relative to the repository) of the contracts that pass with any baseline Core and the extra.
    contract_ids: tuple[str, ...] = ()
    #: The contract that imports the test dependency.
    dependency_contract: str = ""


def make_store_repo(
    root: Path, *, version: str = STORE_REPO_VERSION, core_range: str = STORE_REPO_CORE_RANGE, config: str = ""
) -> StoreRepo:
    """Write and commit the Store repository at *root* (see the module docstring); *config* is the body of its
    ``[tool.contract-check]`` table (none when empty)."""
    dependencies = [f"{CORE_DIST}{core_range}", PYDANTIC_REQUIREMENT]
    extras = {"dev": [TEST_DEPENDENCY, "pytest>=7"]}
    files = {f"src/{rel}": text for rel, text in store_files().items()}
    files.update(_egg_info(STORE_DIST, version, STORE_IMPORT, dependencies, extras))
    tool = _STORE_PYTEST + (f"\n[tool.contract-check]\n{config}" if config else "")
    files["pyproject.toml"] = _pyproject(STORE_DIST, version, dependencies, extras, tool)
    files["README.md"] = "# cc-fixture-store\n\nThe Store, as a checkout.\n"
    files[".gitignore"] = ".venv/\n__pycache__/\n"
    files["tests/conftest.py"] = _CONFTEST
    files["tests/contracts/feedback/test_roundtrip.py"] = _FEEDBACK_ROUNDTRIP
    files["tests/contracts/health/test_roundtrip.py"] = _HEALTH_ROUNDTRIP
    files["tests/contracts/test_config_dump.py"] = _CONFIG_DUMP
    files["tests/contracts/test_timing.py"] = _TIMING
    _write(root, files)
    _commit(root)
    feedback, health = "tests/contracts/feedback/test_roundtrip.py", "tests/contracts/health/test_roundtrip.py"
    ids = (
        *(f"{feedback}::test_roundtrip[{level}]" for level in ("ok", "soft", "hard")),
        f"{feedback}::test_create_fills_ts",
        *(f"{health}::test_roundtrip[{state}]" for state in ("healthy", "degraded")),
        "tests/contracts/test_config_dump.py::test_event_fields_dump_as_toml",
        "tests/contracts/test_timing.py::test_sleeps_when_asked",
    )
    return StoreRepo(root, ids, "tests/contracts/test_config_dump.py::test_event_fields_dump_as_toml")


@dataclass(frozen=True)
class ForeignTrees:
    """What ``add_foreign_trees`` put into a Store checkout (paths relative to it)."""

    submodule: str = "vendor/schemas"  # a registered, initialised submodule holding a Python module
    gitlink: str = "tools/pinned"  # a commit entry with no .gitmodules line: an empty directory in the tree
    nested: str = ".contract-check-tool"  # an untracked nested repository (the workflows' tool checkout)
    nested_visible: str = "scratch/notes"  # another one, not hidden
    inner_link: str = "src/market_data_store/telemetry"  # -> coordinator: a directory inside the project
    outer_link: str = "shared"  # -> ../shared-settings: a directory outside the project
    #: files of the submodule and the nested repositories: none of them may reach the build
    foreign_files: tuple[str, ...] = ("schemas_vendored.py", "tool_only.py", "notes_only.py")


def _small_repo(root: Path, name: str) -> Path:
    root.mkdir(parents=True)
    (root / name).write_text(f'"""Lives in its own repository ({name})."""\n', encoding="utf-8")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name.removesuffix(".py")}"\nversion = "1"\n')
    _commit(root)
    return root


def add_foreign_trees(repo: Checkout) -> ForeignTrees:
    """Commit a submodule, a gitlink and two symlinks into *repo*, then leave two untracked nested repositories
    in it; *repo* is clean (``git status`` shows only the nested repositories as untracked) afterwards."""
    trees = ForeignTrees()
    root = repo.root
    side = root.parent / f"{root.name}-foreign"
    vendored = _small_repo(side / "schemas", trees.foreign_files[0])
    _git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(vendored), trees.submodule)
    sha = _git(vendored, "rev-parse", "HEAD").strip()
    _git(root, "update-index", "--add", "--cacheinfo", f"160000,{sha},{trees.gitlink}")
    (root / trees.gitlink).mkdir(parents=True)  # what a checkout leaves for a commit entry it cannot fill
    (side / "shared-settings").mkdir()
    (side / "shared-settings" / "settings.toml").write_text("outside = true\n", encoding="utf-8")
    os.symlink("coordinator", root / trees.inner_link)
    os.symlink(os.path.relpath(side / "shared-settings", root), root / trees.outer_link)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--no-verify", "-m", "A submodule, a gitlink, symlinked directories")
    for rel, name in ((trees.nested, trees.foreign_files[1]), (trees.nested_visible, trees.foreign_files[2])):
        _small_repo(root / rel, name)
    return trees


def make_core_repo(root: Path, version: str, variant: str = "baseline") -> Checkout:
    """The fixture Core as a setuptools ``src/`` checkout with tracked egg-info (for ``--core-ref ./core``)."""
    dependencies = [PYDANTIC_REQUIREMENT]
    files = {f"src/{rel}": text for rel, text in core_files(variant).items()}
    files.update(_egg_info(CORE_DIST, version, CORE_IMPORT, dependencies, {}))
    files["pyproject.toml"] = _pyproject(CORE_DIST, version, dependencies, {}, "")
    _write(root, files)
    _commit(root)
    return Checkout(root)
