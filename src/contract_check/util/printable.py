"""One sanitiser for every text the tool shows: what a contract, a Core, a Store or a user wrote must never
steer the terminal, the CI log or the step summary.

A failure message is text the code under test chose. Left as it is, ``\\x1b[2J\\x1b[32mCOMPATIBLE`` clears the
screen and prints a green verdict; a bidi override (U+202E) shows a check id backwards; U+2028 starts a line
in some viewers; a lone surrogate cannot even be written as UTF-8. Every renderer (the terminal, Markdown,
JUnit, GitHub annotations and the step summary, ``list``) and every error line passes what it shows through
``text`` (or a whole report through ``report``), which replaces each such character with a visible escape
(``\\x1b``, ``\\u202e``) instead of dropping it: the reader sees that something was there. The JSON report
keeps every character, JSON-escaped (``json_text``).

Kept as they are: printable characters, tab and newline (and CR LF pairs) where a text may span lines. In a
one-line value (an id, a name, a ref) newline and tab are escaped too.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

from contract_check.models import Check

# What JSON leaves raw: DEL, C1 controls, the line and paragraph separators, bidi embeddings, overrides,
# isolates and marks, lone surrogates, and the two non-characters XML 1.0 forbids. Text escapes C0 controls too.
_RAW_CLASS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_UNSAFE_CLASS = "\x00-\x08\x0b-\x1f" + _RAW_CLASS  # C0 controls but tab and newline
_UNSAFE_MULTI = re.compile(f"[{_UNSAFE_CLASS}]")
_UNSAFE_ONE_LINE = re.compile(f"[\t\n{_UNSAFE_CLASS}]")
_CR_LF = re.compile("\r\n")

#: report fields whose text may span lines (messages, errors, notes); every other string is one line
MULTILINE_FIELDS = frozenset({"message", "error", "notes", "note"})

M = TypeVar("M", bound=BaseModel)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: str, *, multiline: bool = True) -> str:
    """*value* with every character that could steer a terminal or a viewer shown as an escape.

    With *multiline*, tab, newline and CR LF stay (a lone CR, which moves back over a line, does not)."""
    if multiline:
        if not _UNSAFE_MULTI.search(value):
            return value
        parts = _CR_LF.split(value)  # CR LF is a line end: keep it; every other CR is escaped
        return "\r\n".join(_UNSAFE_MULTI.sub(_visible, part) for part in parts)
    if not _UNSAFE_ONE_LINE.search(value):
        return value
    return _UNSAFE_ONE_LINE.sub(_visible, value)


def _clean(value: Any, multiline: bool) -> Any:
    if isinstance(value, str):
        return text(value, multiline=multiline)
    if isinstance(value, Check):
        return _check(value)
    if isinstance(value, BaseModel):
        return report(value)
    if isinstance(value, list):
        cleaned = [_clean(item, multiline) for item in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    if isinstance(value, dict):
        items = [(_clean(k, False), _clean(v, multiline)) for k, v in value.items()]
        same = all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True))
        return value if same else dict(items)
    return value


def _check(check: Check) -> Check:
    """``report`` for the bulk of a report: a check with nothing to escape costs two searches."""
    if (
        check.origin is None
        and not _UNSAFE_ONE_LINE.search(f"{check.id}{check.subject}{check.rule or ''}")
        and not _UNSAFE_MULTI.search(f"{check.message}{check.note or ''}")
    ):
        return check
    return report(check)


def report(model: M) -> M:
    """A copy of *model* (a report, a run, a check ...) whose every string went through ``text``: messages,
    errors and notes as multi-line text, everything else as one line. Returns *model* itself when nothing
    needed escaping, so a clean report costs one scan."""
    changes: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        cleaned = _clean(value, name in MULTILINE_FIELDS)
        if cleaned is not value:
            changes[name] = cleaned
    return model.model_copy(update=changes) if changes else model


_JSON_UNSAFE = re.compile(f"[{_RAW_CLASS}]")


def json_text(document: str) -> str:
    """JSON text with the characters JSON leaves raw but a terminal or viewer would act on (C1 controls,
    separators, bidi controls, lone surrogates) written as ``\\uXXXX`` escapes: the same data, safe to
    ``cat``. (JSON itself escapes C0 controls; these characters can only occur inside strings.)"""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
