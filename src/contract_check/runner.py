"""Run the contracts with pytest inside the sandbox and turn the plugin's JSON lines into typed checks.

A contract that crashes the interpreter (segfault, ``os._exit``) or hangs past the timeout becomes an error
row; the remaining contracts are then run in a fresh process, so one bad check never hides the others.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from contract_check import proc
from contract_check.errors import CommandTimeout
from contract_check.models import Check, Layer, Severity, Status

PLUGIN_MODULE = "contract_check_plugin"
MAX_RESTARTS = 3
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
    return "\n".join(line for line in message.splitlines() if "For further information visit" not in line)


def _read_events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


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
