"""Findings grouped by root cause: one entry per distinct reason, listing every check it broke.

A schema finding's cause is its rule, field and old -> new values (the same tightening of ``queue_size`` on
Core's model and on the Store's subclass is one cause). Anything else is grouped by its message, normalised:
a golden-payload failure and an assertion failure that hit the same ``ValidationError`` are one cause. Shared
by every renderer, so the terminal, Markdown and the step summary agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from contract_check.models import Check, Layer, Severity, Status

_PAYLOAD_PREFIX = re.compile(r"^(?:AssertionError: )?(?:golden payload \d+: )+")
_SPACE = re.compile(r"\s+")
MESSAGE_LIMIT = 600  # a cause's message in the terminal and in Markdown; the JSON report keeps everything


@dataclass
class Cause:
    kind: str  # "FAIL", "ERROR", "WARN", "ACCEPTED"
    tag: str  # "RULE [SEV]", "[ERR]", ""
    message: str  # one line, normalised
    checks: list[Check] = field(default_factory=list)
    note: str | None = None  # why it is accepted, or that its acceptance expired

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.checks]

    @property
    def subjects(self) -> list[str]:
        return sorted({c.subject for c in self.checks})


def _kind(check: Check) -> str:
    if check.status is Status.ACCEPTED:
        return "ACCEPTED"
    if check.status is Status.ERROR:
        return "ERROR"
    if check.status is Status.FAILED:
        return "FAIL"
    return "WARN"


def normalise(message: str) -> str:
    """One line: the first problem of a message, whitespace collapsed, payload numbering dropped."""
    first = message.split("; golden payload ", 1)[0]
    return _SPACE.sub(" ", _PAYLOAD_PREFIX.sub("", first.strip())).strip()


def _schema_message(check: Check) -> str:
    # "FeedbackEvent.queue_size: constraint tightened: >= 0 -> > 0" -> "queue_size: constraint tightened: ..."
    head, sep, rest = check.message.partition(": ")
    if sep and "." in head and head.split(".", 1)[0] == check.subject:
        return f"{head.split('.', 1)[1]}: {rest}"
    return check.message


def key(check: Check) -> tuple[str, ...]:
    if check.layer is Layer.SCHEMA and check.rule:
        return (_kind(check), "rule", check.rule, normalise(_schema_message(check)))
    return (_kind(check), "message", normalise(check.message) or check.id, check.note or "")


def group(checks: list[Check]) -> list[Cause]:
    """The notable checks of a run as causes: failures and errors first, then accepted, then warnings."""
    causes: dict[tuple[str, ...], Cause] = {}
    for check in checks:
        if not check.notable:
            continue
        k = key(check)
        if k not in causes:
            text = _schema_message(check) if check.layer is Layer.SCHEMA and check.rule else check.message
            tag = check.tag if check.rule else ""  # a FAIL without a rule is an ERR: no need to say it twice
            causes[k] = Cause(_kind(check), tag, normalise(text), note=check.note)
        causes[k].checks.append(check)
    order = {"FAIL": 0, "ERROR": 0, "ACCEPTED": 1, "WARN": 2}
    return sorted(causes.values(), key=lambda c: order[c.kind])


def shortened(message: str, limit: int = MESSAGE_LIMIT) -> str:
    return message if len(message) <= limit else message[: limit - 30].rstrip() + " … (full text in the JSON report)"


def counts(checks: list[Check]) -> dict[str, int]:
    return {
        "passed": sum(c.status is Status.PASSED and c.severity is not Severity.WARN for c in checks),
        "warnings": sum(c.severity is Severity.WARN for c in checks),
    }
