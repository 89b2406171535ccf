"""Accepting known breaks: entries that turn a matching failure into an accepted one, until a date.

An entry comes from the Store's ``pyproject.toml`` (``[[tool.contract-check.accept]]``) or from a TOML file
given with ``--accept FILE`` (top-level ``[[accept]]`` tables); both lists are merged, pyproject first::

    [[tool.contract-check.accept]]
    check = "schema.*.queue_size.CONSTRAINT_TIGHTENED"   # a check id or a glob over check ids
    reason = "empty queues are never sent (ticket 42)"     # required, not empty
    until = 2027-06-30                                     # required: a TOML date or the string "2027-06-30"

Rules:

- **Keys.** Exactly ``check``, ``reason`` and ``until``; a missing or unknown key, a wrong type, an empty
  string, a datetime or a date that is not ``YYYY-MM-DD`` is a usage error naming the entry (its origin,
  e.g. ``accept.toml [[accept]] #2``, counted from 1) and the key.
- **Globs.** ``*`` stands for any run of characters (including none, and including ``.``, ``/``, ``[`` and
  ``]``), ``?`` for exactly one character; every other character is literal, so the ``[param]`` of a pytest
  node id needs no escaping. Matching is case-sensitive and takes O(len(pattern) x len(id)) time at worst.
- **Dates.** ``until`` is an inclusive UTC date: an entry is active while ``today <= until``, where today is
  the current UTC date (``utc_today()``; passed in, so nothing here reads a clock).
- **Decisions** (``decide``) are made per failing check id:

  * *accepted*: the first active entry, in file order, whose glob matches the id accepts it;
  * *expired*: no active entry matches, but one or more expired entries do; the failure stands and the
    report says when (and where) the acceptance expired;
  * otherwise the failure stands with nothing to say.

  An entry is *unused* when its glob matches none of the failing check ids, whether it is active or
  expired; the report gives it one note (never a failure). An entry that matches a failing id is never
  unused, even when an earlier entry accepted that id first, or when it is expired and another, active
  entry accepts the id (then it is not mentioned at all: the id is accepted). Pass the failing ids of every
  run of the report at once, so that "unused" means unused in the whole report.
- **Never accepted** (``Check.acceptable``): an import failure, a missing model, an error or a crash; a
  matching entry leaves such a failure standing, and the check says so. A run in which no built-in check
  passed is never compatible, whatever was accepted (``verdicts``).
- **No blanket entries**: an entry whose glob matches every check the suite declares (``*``) is a usage
  error (``refuse_blanket``): it would accept any Core, however broken.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from contract_check.errors import ContractCheckError, UsageError
from contract_check.util import fsread

PYPROJECT_ORIGIN = "pyproject.toml [[tool.contract-check.accept]]"
MAX_FILE_BYTES = 1 << 20  # an accept file is a handful of entries; anything bigger is not one
_KEYS = ("check", "reason", "until")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
Subjects = Callable[[], Sequence[str]]  # the active suite's subjects, asked only when an example is shown


def example(subjects: Subjects | None = None) -> str:
    """An entry to copy, naming a subject of the active suite (``schema.<Subject>.*``)."""
    try:
        names = list(subjects()) if subjects is not None else []
    except ContractCheckError:  # the suite itself cannot be read: its own error comes later
        names = []
    check = f"schema.{names[0]}.*" if names else "CHECK-ID-OR-GLOB"
    return f'e.g. check = "{check}", reason = "ticket 42", until = "2027-06-30"'


@dataclass(frozen=True)
class Acceptance:
    """One entry: failures whose check id matches *check* are accepted for *reason* until *until*."""

    check: str
    reason: str
    until: dt.date
    origin: str  # where it came from, e.g. "pyproject.toml [[tool.contract-check.accept]] #2"

    def active(self, today: dt.date) -> bool:
        return today <= self.until

    def describe(self) -> str:
        return f"accepted by {self.origin}: {self.reason} (until {self.until.isoformat()})"


@dataclass(frozen=True)
class Decision:
    """What the entries say about one failing check id."""

    check_id: str
    accepted_by: Acceptance | None  # the first active entry that matches; None: the failure stands
    expired: tuple[Acceptance, ...]  # expired entries that match; only filled when nothing accepted it

    @property
    def accepted(self) -> bool:
        return self.accepted_by is not None

    def note(self) -> str | None:
        """The line a report shows next to the check; None when no entry matched it."""
        if self.accepted_by is not None:
            return self.accepted_by.describe()
        if self.expired:
            return "; ".join(f"acceptance expired on {e.until.isoformat()} ({e.origin})" for e in self.expired)
        return None


@dataclass(frozen=True)
class Decisions:
    by_check: dict[str, Decision]  # one per distinct failing check id, in the order first given
    unused: tuple[Acceptance, ...]  # entries matching no failing check id, in entry order

    def accepted_by(self, check_id: str) -> Acceptance | None:
        decision = self.by_check.get(check_id)
        return decision.accepted_by if decision else None

    @property
    def accepted_ids(self) -> list[str]:
        return [d.check_id for d in self.by_check.values() if d.accepted]

    def unused_notes(self, today: dt.date) -> list[str]:
        """One report-level note per unused entry (expired ones say so too)."""
        notes = []
        for entry in self.unused:
            note = f"{entry.origin} (check = {entry.check!r}) matched no failing check"
            if not entry.active(today):
                note += f"; it expired on {entry.until.isoformat()}"
            notes.append(note + ": remove it if the break is gone")
        return notes


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def parse_entries(entries: object, origin: str, *, subjects: Subjects | None = None) -> list[Acceptance]:
    """Validate a list of accept tables; entry *i* (from 1) gets the origin ``f"{origin} #{i}"``."""
    if not isinstance(entries, list):
        raise UsageError(
            f"{origin} must be an array of tables, not {_kind(entries)}",
            tip="write each entry as its own [[...]] table: " + example(subjects),
        )
    return [_parse_entry(entry, f"{origin} #{number}", subjects) for number, entry in enumerate(entries, start=1)]


def _parse_entry(entry: object, where: str, subjects: Subjects | None = None) -> Acceptance:
    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be a table, not {_kind(entry)}", tip=example(subjects))
    unknown = sorted(str(key) for key in entry if key not in _KEYS)
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r}",
            tip="an entry has exactly the keys check, reason and until",
        )
    missing = [key for key in _KEYS if key not in entry]
    if missing:
        raise UsageError(
            f"{where}: missing key {missing[0]!r}",
            tip="every entry needs check (a check id or glob), reason and until (YYYY-MM-DD): " + example(subjects),
        )
    check = _text(entry["check"], where, "check", "a check id or a glob over check ids")
    reason = _text(entry["reason"], where, "reason", "why this break is accepted (a ticket, a decision)")
    return Acceptance(check=check, reason=reason, until=_date(entry["until"], where), origin=where)


def _text(value: object, where: str, key: str, wanted: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key} must be a string, not {_kind(value)}", tip=f"give {wanted}")
    if not value.strip():
        raise UsageError(f"{where}: {key} is empty", tip=f"give {wanted}")
    return value


def _date(value: object, where: str) -> dt.date:
    tip = 'give a date as YYYY-MM-DD, e.g. until = 2027-06-30 or until = "2027-06-30" (inclusive, UTC)'
    if isinstance(value, dt.datetime):  # a subclass of date: test it first
        raise UsageError(f"{where}: until must be a date, not a date and time ({value.isoformat()})", tip=tip)
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise UsageError(f"{where}: until must be a date, not {_kind(value)}", tip=tip)
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise UsageError(f"{where}: until {value!r} is not a valid date ({exc})", tip=tip) from None
    raise UsageError(f"{where}: until {value[:40]!r} is not a date in the form YYYY-MM-DD", tip=tip)


def _kind(value: object) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}
    return names.get(type(value), f"a {type(value).__name__}")


def load_file(path: Path, *, subjects: Subjects | None = None) -> list[Acceptance]:
    """The entries of an ``--accept`` file: top-level ``[[accept]]`` tables and nothing else."""
    text = _read_regular(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column, message = _error_position(exc, text)
        raise UsageError(
            f"{path}: line {line}, column {column}: not valid TOML: {message}",
            tip="fix the file; an entry looks like [[accept]] with check, reason and until",
        ) from None
    others = sorted(key for key in document if key != "accept")
    if others:
        raise UsageError(
            f"{path}: unknown top-level key {others[0]!r}",
            tip="an accept file holds only [[accept]] tables (check, reason, until)",
        )
    if "accept" not in document:
        return []
    return parse_entries(document["accept"], f"{path} [[accept]]", subjects=subjects)


def _read_regular(path: Path) -> str:
    """The text of *path* if it is a regular UTF-8 file of at most MAX_FILE_BYTES; anything else: UsageError."""
    tip = "give the path of a TOML file with [[accept]] tables"
    if not path.exists():
        raise UsageError(f"accept file {path} does not exist", tip=tip)
    try:
        data = fsread.read_bytes(path, limit=MAX_FILE_BYTES, what="accept file")
    except OSError as exc:
        raise UsageError(f"accept file {path} cannot be read: {exc.strerror or exc}", tip=tip) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"accept file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})", tip=tip) from None


_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = " (at end of document)"


def _error_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int, str]:
    """(line, column, message) of a TOML error; "at end of document" becomes the position of the end."""
    lineno, colno, msg = getattr(exc, "lineno", None), getattr(exc, "colno", None), getattr(exc, "msg", None)
    if isinstance(lineno, int) and isinstance(colno, int) and isinstance(msg, str):  # Python 3.14+
        return lineno, colno, msg
    message = str(exc)
    found = _POSITION.search(message)
    if found:
        return int(found.group(1)), int(found.group(2)), message[: found.start()]
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1, message.removesuffix(_AT_END)


def matches(pattern: str, check_id: str) -> bool:
    """Whether *check_id* matches the glob *pattern* (``*`` and ``?`` only; everything else literal)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return len(pattern) == len(check_id) and _fits(pattern, check_id, 0)
    first, *middle, last = parts
    if len(first) + len(last) > len(check_id):
        return False
    if not _fits(first, check_id, 0) or not _fits(last, check_id, len(check_id) - len(last)):
        return False
    # Each middle piece is taken at its leftmost fit: any later fit leaves less room for the pieces after
    # it, so if the leftmost choice fails every other does. No backtracking, hence no blow-up.
    position, end = len(first), len(check_id) - len(last)
    for piece in middle:
        found = _find(piece, check_id, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _fits(piece: str, text: str, at: int) -> bool:
    """Whether *piece* (``?`` = any one character) matches *text* at *at*; the caller checked the length."""
    return all(p in ("?", t) for p, t in zip(piece, text[at : at + len(piece)], strict=True))


def _find(piece: str, text: str, start: int, end: int) -> int:
    """The first index >= *start* where *piece* fits inside ``text[:end]``, or -1."""
    if "?" not in piece:
        return text.find(piece, start, end)
    for at in range(start, end - len(piece) + 1):
        if _fits(piece, text, at):
            return at
    return -1


def refuse_blanket(entries: Sequence[Acceptance], declared: Sequence[str]) -> None:
    """Raise UsageError for the first entry whose glob matches every declared check (labels as
    ``verdicts.labels`` writes them); nothing is refused when the suite declares no check."""
    if not declared:
        return
    for entry in entries:
        if all(matches(entry.check, check_id) for check_id in declared):
            raise UsageError(
                f"{entry.origin}: check = {entry.check!r} matches every check the suite declares "
                f"({len(declared)}), so it would accept any Core, however broken",
                tip="accept the checks a known break fails, by id or a narrower glob (contract-check list shows "
                'the ids), e.g. check = "schema.FeedbackEvent.*"',
            )


def decide(check_ids_failing: Sequence[str], entries: Sequence[Acceptance], today: dt.date) -> Decisions:
    """Which failing check ids are accepted, which acceptances expired, and which entries matched nothing."""
    used = [False] * len(entries)
    by_check: dict[str, Decision] = {}
    for check_id in check_ids_failing:
        if check_id in by_check:
            continue
        accepted_by: Acceptance | None = None
        expired: list[Acceptance] = []
        for index, entry in enumerate(entries):
            if not matches(entry.check, check_id):
                continue
            used[index] = True
            if entry.active(today):
                accepted_by = accepted_by or entry
            else:
                expired.append(entry)
        by_check[check_id] = Decision(check_id, accepted_by, () if accepted_by else tuple(expired))
    unused = tuple(entry for entry, was_used in zip(entries, used, strict=True) if not was_used)
    return Decisions(by_check=by_check, unused=unused)
