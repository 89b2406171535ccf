"""Run the contracts with pytest inside the sandbox and turn the plugin's JSON lines into typed checks.

A contract that crashes the interpreter (segfault, ``os._exit``) or hangs past the timeout becomes an error
row; the remaining contracts are then run in a fresh process, so one bad check never hides the others.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from contract_check import fsread, proc
from contract_check.errors import CommandTimeout, EnvironmentProblem, UsageError
from contract_check.models import Check, Layer, Severity, Status

PLUGIN_MODULE = "contract_check_plugin"
MAX_RESTARTS = 3
CONTRACT_LIMIT = 16 * 1024 * 1024  # a contract file larger than this is no contract file
_RULE_PREFIX = re.compile(r"^(?:[\w.]+: )?([A-Z][A-Z_]+[A-Z]): ")


def builtin_contracts() -> Path:
    """The contracts/ directory: inside the wheel (``_contracts``) or at the repository root (editable)."""
    packaged = Path(str(resources.files("contract_check"))) / "_contracts"
    if packaged.is_dir():
        return packaged
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "contracts"
        if (candidate / "conftest.py").is_file():
            return candidate
    raise FileNotFoundError("the built-in contracts directory is missing from this installation")


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


def _check_from_result(event: dict[str, Any], strict: bool) -> Check:
    outcome, message = event["outcome"], _clean(event.get("message") or "")
    layer = Layer(event.get("layer", "user")) if event.get("layer") in Layer.__members__.values() else Layer.USER
    rule_match = _RULE_PREFIX.match(message)
    rule = rule_match.group(1) if rule_match else None
    warnings = event.get("warnings") or []
    status = {"passed": Status.PASSED, "failed": Status.FAILED, "error": Status.ERROR}.get(outcome, Status.SKIPPED)
    severity: Severity | None = None
    if status in (Status.FAILED, Status.ERROR):
        severity = Severity.ERR
    elif status is Status.PASSED and warnings:
        severity = Severity.WARN
        message = "; ".join(warnings)
        warn_match = _RULE_PREFIX.match(message)
        rule = warn_match.group(1) if warn_match else None
        if strict:
            status = Status.FAILED
    return Check(
        id=str(event.get("id") or event["nodeid"]),
        subject=str(event.get("subject") or "?"),
        layer=layer,
        status=status,
        severity=severity,
        rule=rule,
        message=proc.redact(message.strip())[:2000],
        duration_s=float(event.get("duration") or 0.0),
    )


def _clean(message: str) -> str:
    """Drop pydantic's "For further information visit <url>" lines: noise in a report."""
    text = "\n".join(line for line in message.splitlines() if "For further information visit" not in line)
    return text.removeprefix("conftest.ContractImportError: ").replace("pydantic_core._pydantic_core.", "")


# event -> {field: accepted types} (None: optional); the host reads these, so without them a report is unusable
_EVENT_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "env": {"versions": (dict, type(None)), "requires": (dict, type(None))},
    "start": {"nodeid": (str,)},
    "result": {
        "nodeid": (str,),
        "outcome": (str,),
        "message": (str, type(None)),
        "duration": (int, float, type(None)),
        "warnings": (list, type(None)),
    },
    "collect_error": {"nodeid": (str,)},
    "artifact": {"name": (str,)},
    "end": {},
}
_OUTCOMES = {"passed", "failed", "error", "skipped"}


def _well_formed(event: dict[str, Any]) -> bool:
    fields = _EVENT_FIELDS[event["event"]]
    if not all(isinstance(event.get(name), types) for name, types in fields.items()):
        return False  # a missing field reads as None, which only the optional fields accept
    if event["event"] == "result":
        return event["outcome"] in _OUTCOMES and all(isinstance(w, str) for w in event.get("warnings") or [])
    if event["event"] == "env":
        versions, requires = event.get("versions") or {}, event.get("requires") or {}
        return all(isinstance(v, str) for v in versions.values()) and all(
            isinstance(r, list) and all(isinstance(x, str) for x in r) for r in requires.values()
        )
    return True


def _read_events(path: Path) -> list[dict[str, Any]]:
    """The plugin's events. Lines that are no event (a line cut short by a crash) are skipped; an event
    without the fields the host reads means the run cannot be judged: EnvironmentProblem (exit 3)."""
    if not path.is_file():
        return []
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if not (isinstance(event, dict) and isinstance(event.get("event"), str) and event["event"] in _EVENT_FIELDS):
            continue
        if not _well_formed(event):
            raise EnvironmentProblem(
                f"the contract results are malformed (line {number} of {path.name}: {proc.redact(line[:200])!r})",
                tip="something other than contract-check's plugin wrote to $CONTRACT_CHECK_OUT",
            )
        events.append(event)
    return events


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
            except (OSError, ValueError):
                continue  # unreadable, or NUL bytes: pytest reports it as an error row


def prepare(workdir: Path, user_contracts: tuple[Path, ...]) -> list[Path]:
    """Copy the plugin and the built-in contracts into *workdir*; return the pytest targets."""
    plugin_dir = workdir / "plugin"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("sandbox_plugin.py"), plugin_dir / f"{PLUGIN_MODULE}.py")
    target = workdir / "contracts"
    shutil.copytree(builtin_contracts(), target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return [target, *user_contracts]


def run_contracts(
    interpreter: Path,
    workdir: Path,
    targets: list[Path],
    *,
    env: dict[str, str],
    timeout: float,
    strict: bool,
) -> Outcome:
    """Run pytest on *targets* until every collected contract has a result, restarting after crashes/hangs."""
    outcome = Outcome()
    finished: set[str] = set()
    for attempt in range(MAX_RESTARTS + 1):
        out = workdir / f"results-{attempt}.jsonl"
        argv: list[str | Path] = [
            interpreter,
            "-m",
            "pytest",
            "-p",
            PLUGIN_MODULE,
            "-p",
            "no:cacheprovider",
            "-q",
            "--no-header",
            "-o",
            "addopts=",
            "--continue-on-collection-errors",
            "--rootdir",
            workdir,
            *targets,
        ]
        for nodeid in sorted(finished):
            argv += ["--deselect", nodeid]
        child_env = {**env, "PYTHONPATH": str(workdir / "plugin"), "CONTRACT_CHECK_OUT": str(out)}
        timed_out = False
        try:
            done = proc.run(argv, env=child_env, cwd=workdir, timeout=timeout, what="the contracts")
            outcome.duration_s += done.duration_s
            died = f"the pytest process died ({_describe_exit(done.returncode)})"
            tail = done.tail(15)
        except CommandTimeout:
            timed_out, tail = True, ""
            outcome.duration_s += timeout
            died = f"did not finish within {timeout:g}s (--timeout); killed with its process tree"
        events = _read_events(out)
        crashed: dict[str, Any] | None = None
        for event in events:
            kind = event["event"]
            if kind == "env":
                outcome.versions.update(event.get("versions") or {})
                outcome.requires.update(event.get("requires") or {})
            elif kind == "start":
                crashed = event
            elif kind == "result":
                crashed = None
                finished.add(event["nodeid"])
                outcome.checks.append(_check_from_result(event, strict))
            elif kind == "collect_error":
                finished.add(event["nodeid"])
                outcome.checks.append(_collect_error(event))
            elif kind == "artifact":
                outcome.artifacts[event["name"]] = event.get("data")
            elif kind == "end":
                outcome.completed = True
        if outcome.completed and not timed_out:
            if not events or not any(e["event"] in ("result", "collect_error") for e in events):
                outcome.notes.append(tail)
            return outcome
        if crashed is None:
            # died outside any contract (pytest itself, or collection): nothing to resume from
            outcome.notes.append(f"{died}" + (f":\n{tail}" if tail else ""))
            return outcome
        finished.add(crashed["nodeid"])
        outcome.checks.append(_check_from_result({**crashed, "outcome": "error", "message": died}, strict))
    outcome.notes.append(f"gave up after {MAX_RESTARTS} restarts; some contracts did not run")
    return outcome


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _collect_error(event: dict[str, Any]) -> Check:
    message = str(event.get("message") or "")
    last = [line for line in message.splitlines() if line.strip()][-1:] or ["collection failed"]
    return Check(
        id=f"collect:{event['nodeid']}",
        subject=Path(event["nodeid"]).stem or "?",
        layer=Layer.USER,
        status=Status.ERROR,
        severity=Severity.ERR,
        rule="IMPORT_FAILED" if "ImportError" in message or "ModuleNotFoundError" in message else None,
        message=proc.redact(f"could not load {event['nodeid']}: {last[0].strip()}")[:2000],
    )
