"""Run the contracts with pytest inside the sandbox and turn the plugin's JSON lines into typed checks.

A contract that crashes the interpreter (segfault, ``os._exit``) or hangs past the timeout becomes an error
row; the remaining contracts are then run in a fresh process, so one bad check never hides the others.
"""

from __future__ import annotations

import os
import shutil
import signal
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import contract_check.suite as suite_mod
from contract_check import PACKAGE_DIR
from contract_check.errors import CommandTimeout, UsageError
from contract_check.models import Check, Layer
from contract_check.run import events
from contract_check.sandbox import Sandbox
from contract_check.suite import golden as golden_io
from contract_check.suite import golden_write
from contract_check.util import fsread, proc

if TYPE_CHECKING:
    from contract_check.sources.artifacts import Installed

PLUGIN_MODULE = "contract_check_plugin"
MAX_RESTARTS = 3
CONTRACT_LIMIT = 16 * 1024 * 1024  # a contract file larger than this is no contract file
INI_LIMIT = 4 * fsread.MIB  # pytest.ini, tox.ini, setup.cfg or pyproject.toml (as config.PYPROJECT_LIMIT)


def builtin_contracts() -> Path:
    """The built-in suite's directory (see ``suite.builtin_dir``)."""
    return suite_mod.builtin_dir()


@dataclass
class Outcome:
    """What the contracts said, before schema rules are applied."""

    checks: list[Check] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    requires: dict[str, list[str]] = field(default_factory=dict)
    completed: bool = False  # pytest reached the end of its session at least once
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    origins: dict[str, dict[str, str]] = field(default_factory=dict)  # dist -> module -> file it came from
    exitstatus: int | None = None  # pytest's own exit status, when the session ended
    timed_out: bool = False  # a pytest process was killed at --timeout
    timed_out_ids: list[str] = field(default_factory=list)  # the contracts that were running then
    foreign: str | None = None  # set by the host: Core or the Store came from outside the sandbox
    unrun: list[str] = field(default_factory=list)  # set by the host: user contracts that did not run, and why
    # user contracts (check id) that failed on a ModuleNotFoundError, and which module (never a built-in's)
    missing_modules: dict[str, events.MissingModule] = field(default_factory=dict)
    installed: Installed | None = None  # set by the host: Core as uv installed it (RECORD, direct_url.json)

    def merge(self, other: Outcome) -> None:
        """Add another pytest session's results (the user contracts' run) to this one."""
        self.checks += other.checks
        self.artifacts.update(other.artifacts)
        for name, value in other.versions.items():
            self.versions.setdefault(name, value)
        for name, reqs in other.requires.items():
            self.requires.setdefault(name, reqs)
        self.completed = self.completed and other.completed
        self.notes += other.notes
        self.unrun += other.unrun
        self.duration_s += other.duration_s
        for dist, modules in other.origins.items():
            self.origins.setdefault(dist, {}).update(modules)
        self.timed_out = self.timed_out or other.timed_out
        self.timed_out_ids += other.timed_out_ids
        self.missing_modules.update(other.missing_modules)


_NORECURSE = {"__pycache__", "node_modules", "venv", "build", "dist"}  # as pytest's norecursedirs


def _contract_files(directory: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d in _NORECURSE or d.endswith(".egg"))]
        found += [
            Path(root, f)
            for f in files
            if f == "conftest.py" or (f.endswith(".py") and (f.startswith("test_") or f.endswith("_test.py")))
        ]
    return sorted(found)


def check_user_contracts(paths: tuple[Path, ...]) -> None:
    """Raise UsageError for a user contract file (test module or conftest) that is not valid Python.

    Such a file is the user's mistake whatever the Core is, so it is reported before anything is installed,
    not as an error row that would read as a broken Core. Compiled with this interpreter: call it only when
    the sandbox runs the same Python.
    """
    for path in paths:
        for file in [path] if path.is_file() else _contract_files(path):
            try:
                with warnings.catch_warnings():  # an invalid escape is pytest's to report, not ours
                    warnings.simplefilter("ignore")
                    source = fsread.read_bytes(file, limit=CONTRACT_LIMIT, what="--contracts file")
                    compile(source, str(file), "exec", dont_inherit=True)
            except SyntaxError as exc:  # IndentationError and TabError too
                raise UsageError(
                    f"--contracts file {file} is not valid Python: {exc.msg} (line {exc.lineno})",
                    tip="fix the file; a contract that cannot be loaded checks nothing",
                ) from None
            except (RecursionError, MemoryError):  # the parser's own stack: nested a few thousand levels deep
                raise UsageError(
                    f"--contracts file {file} is nested too deeply to be parsed",
                    tip="fix the file; a contract that cannot be loaded checks nothing",
                ) from None
            except (OSError, ValueError):
                continue  # unreadable, or NUL bytes: pytest reports it as an error row


# The built-in suite's own pytest configuration: nothing from the user's files or environment applies.
SEALED_INI = """[pytest]
addopts =
python_files = test_*.py
python_classes = Test*
python_functions = test*
xfail_strict = false
"""
_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", ".pytest.ini", "tox.ini", ".git")


@dataclass(frozen=True)
class Layout:
    """What ``prepare`` put in the sandbox directory: plugin and launcher, the suite copy, baseline, ini files."""

    workdir: Path
    plugin: Path  # contract_check_plugin.py: the pytest plugin, and the launcher when run as a script
    suite: Path  # a copy of the suite: its tests, conftest.py, and the generic layer module
    config: Path  # suite.json: subjects, examples and where the baseline's payloads are (read by the plugin)
    sealed_ini: Path
    empty_ini: Path  # for user contracts whose project has no pytest configuration


LAYER_MODULE = "test_contract_check_layers.py"


def prepare(workdir: Path, suite: suite_mod.Suite, golden: Path | None, *, recording: bool = False) -> Layout:
    """Copy the plugin, the suite, the generic layer and the baseline (*golden*) into *workdir*."""
    plugin_dir = workdir / "plugin"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    plugin = plugin_dir / f"{PLUGIN_MODULE}.py"
    inside = PACKAGE_DIR / "sandbox" / "inside"  # what runs in the sandbox: stdlib + pytest only
    shutil.copyfile(inside / "plugin.py", plugin)
    shutil.copyfile(inside / "rule_ids.py", plugin_dir / "contract_check_rules.py")
    shutil.copyfile(inside / "origin.py", plugin_dir / "contract_check_origin.py")
    target = workdir / "suite"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "golden", ".*")
    shutil.copytree(suite.directory, target, ignore=skip)
    shutil.copyfile(inside / "layers.py", target / LAYER_MODULE)
    loaded = golden_io.read(golden) if golden is not None else None
    baseline = None  # the golden as read and checked, written again: the sandbox reads only the tool's files
    if loaded is not None:
        baseline = golden_write.write(workdir / "golden", loaded.content, cwd=workdir)
    config = workdir / "suite.json"
    config.write_text(suite.sandbox_config(baseline, recording=recording), encoding="utf-8")
    sealed, empty = workdir / "sealed.ini", workdir / "empty.ini"
    sealed.write_text(SEALED_INI, encoding="utf-8")
    empty.write_text("[pytest]\n", encoding="utf-8")
    return Layout(workdir, plugin, target, config, sealed, empty)


def golden_payload_subjects(golden: Path | None) -> list[str]:
    """The subjects the baseline holds payloads for (each is one ``payload.golden.<Subject>`` check), as its
    declaration says (``golden.read``: a golden that does not match its declaration is an error)."""
    loaded = golden_io.read(golden) if golden is not None else None
    return loaded.payload_subjects if loaded else []


def project_root(path: Path, store_root: Path | None) -> Path:
    """The project a user contract belongs to: the Store project when it is inside it, else the nearest
    ancestor that looks like a project (pyproject.toml, setup.py, an ini file, .git), else its directory."""
    path = path.resolve()
    if store_root is not None and path.is_relative_to(store_root.resolve()):
        return store_root.resolve()
    start = path if path.is_dir() else path.parent
    for candidate in (start, *start.parents):
        if any((candidate / marker).exists() for marker in _PROJECT_MARKERS):
            return candidate
    return start


def _has_pytest_section(path: Path) -> bool:
    try:
        text = fsread.read_text(path, limit=INI_LIMIT, what="the pytest configuration", errors="replace")
    except OSError:
        return False
    if path.name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError):
            return False
        tool = data.get("tool") if isinstance(data, dict) else None
        pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
        return isinstance(pytest_table, dict) and "ini_options" in pytest_table
    section = {"tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}.get(path.name)
    return section is None or any(line.strip() == section for line in text.splitlines())


def find_ini(start: Path, root: Path) -> Path | None:
    """The pytest configuration file pytest would use for tests under *start*, looking no higher than *root*."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            path = candidate / name
            if path.is_file() and _has_pytest_section(path):
                return path
        if candidate == root:
            break
    return None


def run_builtin(box: Sandbox, layout: Layout, *, env: dict[str, str], timeout: float, strict: bool) -> Outcome:
    """The built-in suite, sealed: its own rootdir and ini, no conftest above it, no plugin autoloading."""
    args: list[str | Path] = [
        "-c",
        layout.sealed_ini,
        "--rootdir",
        layout.suite,
        "--confcutdir",
        layout.suite,
        layout.suite,
    ]
    return _run(box, layout, "--sealed", args, cwd=layout.suite, env=env, timeout=timeout, strict=strict)


def run_user(
    box: Sandbox,
    layout: Layout,
    targets: list[Path],
    root: Path,
    *,
    env: dict[str, str],
    timeout: float,
    strict: bool,
) -> Outcome:
    """User contracts as they run in their own project: its ini file and the conftests from *root* down apply
    (nothing above *root*); node ids are relative to *root*. Run in *root* without writing to it."""
    ini = find_ini(targets[0], root) or layout.empty_ini
    args: list[str | Path] = ["-c", ini, "--rootdir", root, "--confcutdir", root, *targets]
    return _run(box, layout, "--user", args, cwd=root, env=env, timeout=timeout, strict=strict)


def _run(
    box: Sandbox,
    layout: Layout,
    mode: str,
    selection: list[str | Path],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    strict: bool,
) -> Outcome:
    """Run pytest until every collected contract has a result, restarting after crashes and hangs."""
    outcome = Outcome()
    finished: set[str] = set()
    tag = mode.removeprefix("--")
    for attempt in range(MAX_RESTARTS + 1):
        out = layout.workdir / f"results-{tag}-{attempt}.jsonl"
        argv: list[str | Path] = [
            box.interpreter,
            "-I",  # no PYTHON* variables, no user site, no script directory on sys.path
            "-B",  # no bytecode written (into a shared base environment, or the user's tree)
            layout.plugin,
            mode,
            "--",
            "-p",
            PLUGIN_MODULE,
            *_session_options(layout, mode),
            "-q",
            "--no-header",
            "--continue-on-collection-errors",
            *selection,
        ]
        for nodeid in sorted(finished):
            argv += ["--deselect", nodeid]
        child_env = {**env, "CONTRACT_CHECK_OUT": str(out), "CONTRACT_CHECK_SUITE": str(layout.config)}
        timed_out = False
        try:
            done = proc.run(argv, env=child_env, cwd=cwd, timeout=timeout, what="the contracts")
            outcome.duration_s += done.duration_s
            died = f"the pytest process died ({_describe_exit(done.returncode)})"
            tail = done.tail(15)
        except CommandTimeout:
            timed_out, tail = True, ""
            outcome.duration_s += timeout
            died = f"did not finish within {timeout:g}s (--timeout); killed with its process tree"
        found = events.read_events(out)
        crashed: dict[str, Any] | None = None
        ended = False
        for event in found:
            kind = event["event"]
            if kind == "env":
                outcome.versions.update(event.get("versions") or {})
                outcome.requires.update(event.get("requires") or {})
            elif kind == "start":
                crashed = event
            elif kind == "result":
                crashed = None
                finished.add(event["nodeid"])
                outcome.checks.append(_as_session(events.check_from_result(event, strict), event, mode))
            elif kind == "collect_error":
                finished.add(event["nodeid"])
                outcome.checks.append(events.collect_error(event))
            missing = events.missing_of(event) if mode == "--user" and kind in ("result", "collect_error") else None
            if missing is not None:  # a built-in contract that fails on a missing module is a break, never this
                outcome.missing_modules[outcome.checks[-1].id] = missing
            elif kind == "artifact":
                outcome.artifacts[event["name"]] = event.get("data")
            elif kind == "origins":
                for dist, modules in (event.get("modules") or {}).items():
                    outcome.origins.setdefault(dist, {}).update(modules)
            elif kind == "end":
                ended = True
                outcome.exitstatus = event.get("exitstatus")
        outcome.completed = outcome.completed or ended
        if timed_out:
            outcome.timed_out = True
        if ended and not timed_out:
            if not any(e["event"] in ("result", "collect_error") for e in found):
                outcome.notes.append(tail)
            return outcome
        if crashed is None:
            # died outside any contract (pytest itself, or collection): nothing to resume from
            outcome.notes.append(f"{died}" + (f":\n{tail}" if tail else ""))
            return outcome
        finished.add(crashed["nodeid"])
        row = events.check_from_result({**crashed, "outcome": "error", "message": died}, strict)
        outcome.checks.append(_as_session(row, crashed, mode))
        if timed_out:
            outcome.timed_out_ids.append(outcome.checks[-1].id)
    outcome.notes.append(f"gave up after {MAX_RESTARTS} restarts; some contracts did not run")
    return outcome


def _as_session(check: Check, event: dict[str, Any], mode: str) -> Check:
    """A user contract is reported by its pytest node id, in the user layer, whatever its marker says: a user
    contract can never stand in for a built-in check (its id, its place in the completeness map)."""
    if mode != "--user":
        return check
    return check.model_copy(update={"id": str(event["nodeid"]), "layer": Layer.USER})


def _session_options(layout: Layout, mode: str) -> list[str | Path]:
    """The built-in suite: no cache, and no addopts. User contracts keep their project's addopts (``-p
    no:randomly``, ``--import-mode``, ``--strict-markers``, ...), and pytest's cache goes to the sandbox, so
    ``--lf`` in addopts still parses and nothing is written to the project."""
    if mode == "--sealed":
        return ["-p", "no:cacheprovider", "-o", "addopts="]
    return ["-o", f"cache_dir={layout.workdir / 'pytest-cache'}"]


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
