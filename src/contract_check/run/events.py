"""The plugin's JSON lines, read back on the host and turned into typed rows.

Each line is one event (see ``sandbox_plugin``). A line that is no event (cut short by a crash) is skipped;
an event without the fields the host reads means the run cannot be judged (EnvironmentProblem, exit 3).
A contract's message may start with a rule ID (``FIELD_REMOVED: ...``); one the rule table does not know
is not taken as a rule (a WARN under it becomes an error row).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import Check, Layer, Origin, Severity, Status
from contract_check.util import fsread, proc
from contract_check.verdict import schema_rules

_RULE_PREFIX = re.compile(r"^(?:[\w.]+: )?([A-Z][A-Z_]+[A-Z]): ")
_RAISED_BY_US = re.compile(r"^(?:\w+\.)+(?:SubjectError|ContractImportError|ContractAborted): ")
# pydantic's pointer to its docs: only the pointer goes, not what follows it on the line ("; golden payload 3: ...")
_DOCS_POINTER = re.compile(r"\n?[ \t]*For further information visit [^\s;]+")


@dataclass(frozen=True)
class MissingModule:
    """A contract failed on a ``ModuleNotFoundError`` (the plugin's ``missing`` field)."""

    module: str  # the name that was not found, as imported ("jsonschema", "market_data_core.gone")
    importer: str  # who ran the import: core, store, user (a file under the contracts' rootdir), other
    owner: str | None = None  # core or store when the missing module is one of theirs
    local: bool = False  # a file or directory of that name sits next to the importing file (not a package)

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    @property
    def test_dependency(self) -> bool:
        """The contract's own file imported a module that is neither Core's nor the Store's: a test
        dependency that is not installed, which says nothing about Core."""
        return self.importer == "user" and self.owner is None


_IMPORTERS = {"core", "store", "user", "other"}


def missing_of(event: dict[str, Any]) -> MissingModule | None:
    """The missing module a result or collect_error event names (``_well_formed`` checked its shape)."""
    found = event.get("missing")
    if not isinstance(found, dict):
        return None
    return MissingModule(found["module"], found["importer"], found.get("owner"), bool(found.get("local")))


def _missing_well_formed(found: Any) -> bool:
    if found is None:
        return True
    return (
        isinstance(found, dict)
        and isinstance(found.get("module"), str)
        and bool(found["module"])
        and found.get("importer") in _IMPORTERS
        and found.get("owner") in (None, "core", "store")
        and isinstance(found.get("local", False), bool)
    )


_PHASES = {"setup", "call", "teardown"}
_ORIGIN_FIELDS: dict[str, tuple[type, ...]] = {"fixture": (str,), "path": (str,), "line": (int,), "code": (str,)}


def _origin_well_formed(found: Any) -> bool:
    if found is None:
        return True
    return (
        isinstance(found, dict)
        and found.get("phase") in _PHASES
        and all(isinstance(found[k], t) for k, t in _ORIGIN_FIELDS.items() if found.get(k) is not None)
    )


def origin_of(event: dict[str, Any]) -> Origin | None:
    """Where a failed result's error came from (the plugin's ``origin``; ``_well_formed`` checked its shape)."""
    found = event.get("origin")
    if not isinstance(found, dict):
        return None
    values = {k: found[k] for k in _ORIGIN_FIELDS if found.get(k) is not None}
    if isinstance(values.get("code"), str):
        values["code"] = proc.redact(values["code"])[:200]
    return Origin(phase=found["phase"], **values)


def check_from_result(event: dict[str, Any], strict: bool) -> Check:
    outcome, message = event["outcome"], _clean(event.get("message") or "")
    layer = Layer(event.get("layer", "user")) if event.get("layer") in Layer.__members__.values() else Layer.USER
    rule_match = _RULE_PREFIX.match(message)
    rule = rule_match.group(1) if rule_match else None
    warnings = event.get("warnings") or []
    if outcome == "xpassed" and layer is Layer.USER:
        outcome = "passed"  # a user's xfail that passed is a pass (strict xfail already reports a failure)
    status = {"passed": Status.PASSED, "failed": Status.FAILED, "error": Status.ERROR}.get(outcome, Status.SKIPPED)
    severity: Severity | None = None
    if status in (Status.FAILED, Status.ERROR):
        severity = Severity.ERR
    elif status is Status.PASSED and warnings:
        severity = Severity.WARN
        message = "; ".join(warnings)
        warn_match = _RULE_PREFIX.match(message)
        rule = warn_match.group(1) if warn_match else None
        if severity.fails(strict):
            status = Status.FAILED
    if rule is not None and schema_rules.severity(rule) is None:  # not a rule of the table: a typo in a contract
        if status is Status.PASSED:  # a WARN under a rule that does not exist cannot be classified
            status, severity = Status.ERROR, Severity.ERR
            message = f"unknown rule ID {rule!r} (see `contract-check list`): {message}"
        rule = None
    if outcome in ("xfailed", "xpassed"):
        message = f"{outcome}: {message}" if message else outcome
    return Check(
        id=str(event.get("id") or event["nodeid"]),
        subject=str(event.get("subject") or "?"),
        layer=layer,
        status=status,
        severity=severity,
        rule=rule,
        message=proc.redact(message.strip())[:2000],
        duration_s=float(event.get("duration") or 0.0),
        origin=origin_of(event) if status in (Status.FAILED, Status.ERROR) else None,
    )


def _clean(message: str) -> str:
    """Drop pydantic's "For further information visit <url>" pointers: noise in a report."""
    text = _RAISED_BY_US.sub("", _DOCS_POINTER.sub("", message), count=1)
    return text.replace("pydantic_core._pydantic_core.", "")


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
        "missing": (dict, type(None)),
        "origin": (dict, type(None)),
    },
    "collect_error": {"nodeid": (str,), "missing": (dict, type(None))},
    "artifact": {"name": (str,)},
    "origins": {"modules": (dict, type(None))},
    "end": {"exitstatus": (int, type(None))},
}
_OUTCOMES = {"passed", "failed", "error", "skipped", "xfailed", "xpassed"}
RESULTS_LIMIT = 64 * fsread.MIB  # one session's lines: the schemas, the payloads and every contract's message


def _well_formed(event: dict[str, Any]) -> bool:
    fields = _EVENT_FIELDS[event["event"]]
    if not all(isinstance(event.get(name), types) for name, types in fields.items()):
        return False  # a missing field reads as None, which only the optional fields accept
    if not (_missing_well_formed(event.get("missing")) and _origin_well_formed(event.get("origin"))):
        return False
    if event["event"] == "result":
        return event["outcome"] in _OUTCOMES and all(isinstance(w, str) for w in event.get("warnings") or [])
    if event["event"] == "origins":
        modules = event.get("modules") or {}
        return all(
            isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
            for m in modules.values()
        )
    if event["event"] == "env":
        versions, requires = event.get("versions") or {}, event.get("requires") or {}
        return all(isinstance(v, str) for v in versions.values()) and all(
            isinstance(r, list) and all(isinstance(x, str) for x in r) for r in requires.values()
        )
    return True


def read_events(path: Path) -> list[dict[str, Any]]:
    """The plugin's events. Lines that are no event (a line cut short by a crash) are skipped; an event
    without the fields the host reads means the run cannot be judged: EnvironmentProblem (exit 3)."""
    try:
        text = fsread.read_text(path, limit=RESULTS_LIMIT, what="the contract results", errors="replace")
    except FileNotFoundError:
        return []
    except (OSError, UsageError) as exc:  # the plugin writes a regular file: something else replaced it
        why = exc.message if isinstance(exc, UsageError) else f"the contract results {path} cannot be read: {exc}"
        tip = "something other than contract-check's plugin wrote to $CONTRACT_CHECK_OUT"
        raise EnvironmentProblem(why, tip=tip) from None
    events = []
    for number, line in enumerate(text.splitlines(), 1):
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


def collect_error(event: dict[str, Any]) -> Check:
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
