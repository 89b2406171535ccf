"""Findings grouped by root cause: one entry per distinct reason, listing every check it broke.

A schema finding's cause is its rule, field and old -> new values (the same tightening of ``queue_size`` on
Core's model and on the Store's subclass is one cause). Anything else is grouped by its message, normalised:
a golden-payload failure and an assertion failure that hit the same ``ValidationError`` are one cause. An
error raised while a fixture was set up is a cause of its own, named by the fixture (an import failure stays
one cause, whoever imported); a contract whose error came from code it called (building its test data, say)
is listed with the statement that raised. Shared by every renderer, so the terminal, Markdown and the step
summary agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from contract_check.models import Check, Layer, Origin, Run, Severity, Status, Summary, plural

_PAYLOAD_PREFIX = re.compile(r"^(?:AssertionError: )?(?:golden payload \d+: )+")
_SPACE = re.compile(r"\s+")
_NEXT_PROBLEM = re.compile(r"; (?=golden payload \d+: |[A-Z][A-Z_]+[A-Z]: )")  # where a joined message's 2nd starts
MESSAGE_LIMIT = 600  # a cause's message in the terminal and in Markdown; the JSON report keeps everything


@dataclass
class Cause:
    kind: str  # "FAIL", "ERROR", "ACCEPTED", "WARN", "SKIP", "INFO"
    tag: str  # "RULE [SEV]", "[ERR]", ""
    message: str  # one line, normalised
    checks: list[Check] = field(default_factory=list)
    note: str | None = None  # why it is accepted, or that its acceptance expired
    grouped_by: str = "message"  # "rule", "message", "import" (a missing module or model), "setup", "teardown"

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.checks]

    @property
    def subjects(self) -> list[str]:
        return sorted({c.subject for c in self.checks})

    @property
    def noun(self) -> str:
        """``check``, ``5 checks``, ``3 checks (1 error)``: how many checks it broke, and how they count."""
        if len(self.checks) == 1:
            return "check"
        errors = sum(c.status is Status.ERROR for c in self.checks)
        mixed = f" ({plural(errors, 'error')})" if 0 < errors < len(self.checks) else ""
        return f"{len(self.checks)} checks{mixed}"

    def origins(self) -> list[tuple[str, str, list[str]]]:
        """``[(place, statement, ids)]``: where the checks' errors came from, when not from their own
        assertion (``where``), each distinct place once, in the order of the checks. None for a missing module
        or model: its root is what is missing, not who was loading it."""
        if self.grouped_by == "import":
            return []
        found: dict[tuple[str, str], list[str]] = {}
        for check in self.checks:
            place = where(check.origin)
            if place is not None:
                found.setdefault(place, []).append(check.id)
        return [(place, statement, ids) for (place, statement), ids in found.items()]


def where(origin: Origin | None) -> tuple[str, str] | None:
    """``(place, statement)`` for an error that did not come from the contract's own assertion, worded to
    follow "raised": while a fixture was set up (``while setting up fixture CoreEvent (conftest.py:16)``, no
    statement), or by code the contract called (``by test_backpressure.py:31`` and the statement)."""
    if origin is None:
        return None
    place = f"{origin.path}:{origin.line}" if origin.path and origin.line else origin.path or ""
    if origin.phase == "setup":
        head = f"while setting up fixture {origin.fixture}" if origin.fixture else "while setting up the contract"
        return (f"{head} ({place})" if place else head), ""
    if origin.phase == "teardown":
        return "while tearing the contract down", ""
    if origin.code:
        return (f"by {place}" if place else "by the contract"), origin.code
    return None


def _kind(check: Check) -> str:
    if check.status is Status.ACCEPTED:
        return "ACCEPTED"
    if check.status is Status.ERROR:
        return "ERROR"
    if check.status is Status.FAILED:
        return "FAIL"
    if check.status is Status.SKIPPED:
        return "SKIP"
    return "WARN" if check.severity is Severity.WARN else "INFO"


def normalise(message: str) -> str:
    """One line: the first problem of a message, whitespace collapsed, payload numbering dropped."""
    first = _NEXT_PROBLEM.split(message, maxsplit=1)[0]
    return _SPACE.sub(" ", _PAYLOAD_PREFIX.sub("", first.strip())).strip()


def _is_finding(check: Check) -> bool:
    """A schema rule's finding (``schema.<Subject>.<field>.<RULE>``), grouped by rule, field and change."""
    return check.layer is Layer.SCHEMA and bool(check.rule) and check.id.endswith(f".{check.rule}")


def _schema_message(check: Check) -> str:
    # "FeedbackEvent.queue_size: constraint tightened: >= 0 -> > 0" -> "queue_size: constraint tightened: ..."
    head, sep, rest = check.message.partition(": ")
    if sep and "." in head and head.split(".", 1)[0] == check.subject:
        return f"{head.split('.', 1)[1]}: {rest}"
    return check.message


_IMPORT = re.compile(r"^(?:AssertionError: )?(?:IMPORT_FAILED: )?import [\w.]+ failed: ")


_MISSING = ("ModuleNotFoundError", "ImportError", "IMPORT_FAILED: ", "MODEL_MISSING: ")


def _is_missing(root: str, message: str) -> bool:
    """An import failure or a missing model (the plugin's ``SubjectError``), however it was reported."""
    return root != message or root.removeprefix("AssertionError: ").startswith(_MISSING)


def key(check: Check) -> tuple[str, ...]:
    kind = "FAIL" if check.is_failure else _kind(check)  # a failed and an errored check can share a cause
    if _is_finding(check):
        return (kind, "rule", check.rule or "", normalise(_schema_message(check)))
    # an import failure's root is what could not be imported, whichever module (or fixture) imported it
    message = normalise(check.message)
    root = _IMPORT.sub("", message)
    origin = check.origin
    if _is_missing(root, message):  # one cause, whichever fixture or contract was loading it
        return (kind, "import", root.removeprefix("AssertionError: "), check.note or "")
    if origin is not None and origin.phase != "call":
        return (kind, origin.phase, origin.fixture or "", root or check.id, check.note or "")
    return (kind, "message", root or check.id, check.note or "")


def _shown(check: Check, text: str) -> str:
    """The message as a cause shows it: without a leading rule ID the tag already says."""
    text = normalise(text)
    if check.rule and text.startswith(f"{check.rule}: "):
        text = text[len(check.rule) + 2 :]
    return text.removeprefix("AssertionError: ")


def group(checks: list[Check], *, info: bool = True) -> list[Cause]:
    """The findings of a run as causes: failures and errors first, then accepted, warnings, skipped user
    contracts (with their reason), and (with *info*) INFO findings, the compatible changes worth knowing about."""
    causes: dict[tuple[str, ...], Cause] = {}
    for check in checks:
        is_info = check.severity is Severity.INFO and check.status is Status.PASSED
        if not (check.notable or (info and is_info)):
            continue
        k = key(check)
        if k not in causes:
            text = _schema_message(check) if _is_finding(check) else check.message
            tag = check.tag if check.rule else ""  # a FAIL without a rule is an ERR: no need to say it twice
            causes[k] = Cause(_kind(check), tag, _shown(check, text), note=check.note, grouped_by=k[1])
        causes[k].checks.append(check)
    for cause in causes.values():  # a cause of failed and errored checks is a FAIL; of errors only, an ERROR
        if cause.kind in ("FAIL", "ERROR"):
            cause.kind = "FAIL" if any(c.status is Status.FAILED for c in cause.checks) else "ERROR"
    order = {"FAIL": 0, "ERROR": 0, "ACCEPTED": 1, "WARN": 2, "SKIP": 3, "INFO": 4}
    return sorted(causes.values(), key=lambda c: order[c.kind])


def not_run(run: Run) -> bool:
    """A ref an interrupt left unrun: every renderer says so once for all of them, not once per ref."""
    return run.error_kind == "interrupted" and not run.checks


def unrun_line(refs: list[str]) -> str:
    noun = "ref was" if len(refs) == 1 else "refs were"
    return f"{len(refs)} {noun} not run: {', '.join(refs)}"


def shortened(message: str, limit: int = MESSAGE_LIMIT) -> str:
    return message if len(message) <= limit else message[: limit - 30].rstrip() + " … (full text in the JSON report)"


def summary_counts(summary: Summary, strict: bool = False) -> list[str]:
    """The counts every renderer states, in one order: "37 passed", "0 failed", "0 errors", "0 warnings", and
    accepted and skipped checks when there are any. Under ``--strict`` the warnings are among the failed, and
    the count says so."""
    parts = [f"{summary.passed} passed", f"{summary.failed} failed", plural(summary.errors, "error")]
    strict_note = " (fail under --strict)" if strict and summary.warnings else ""
    parts.append(plural(summary.warnings, "warning") + strict_note)
    parts += [f"{summary.accepted} accepted"] if summary.accepted else []
    parts += [f"{summary.skipped} skipped"] if summary.skipped else []
    return parts
