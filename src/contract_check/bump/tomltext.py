"""Finding and editing string values in the text of a TOML document, without re-serialising it.

``string_spans`` lists every string token of a valid TOML text (basic ``"..."``, literal ``'...'`` and both
multi-line forms; comments skipped); ``retoken`` gives a token a new value by replacing only the characters
that differ, so the quotes, escape sequences elsewhere in the string and everything around it stay as they
were. The caller parses the edited document again to check that exactly the intended value changed.
"""

from __future__ import annotations

import tomllib
from typing import Any


def loads(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def value_of(token: str) -> object:
    parsed = loads(f"v = {token}")
    return None if parsed is None else parsed.get("v")


def string_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every string token (quotes included) of a valid TOML text, comments skipped."""
    spans, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, i) else char
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if char == '"' and text[j] == "\\" else 1
            end = j + len(quote)
            while len(quote) == 3 and end < n and end - j < 5 and text[end] == char:  # '""""' ends with a quote
                end += 1
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


def retoken(token: str, old: str, new: str) -> str | None:
    """*token* (a TOML string whose value is *old*) with value *new*: only the differing characters change.

    None when they cannot be replaced in the raw text (they sit in an escape sequence or a line-ending
    backslash) or the result would not read back as *new*.
    """
    quote = token[:3] if token[:3] in ('"""', "'''") else token[0]
    body = token[len(quote) : len(token) - len(quote)]
    lead = ""
    if len(quote) == 3:  # a newline right after the opening quotes is not part of the value
        lead = "\r\n" if body.startswith("\r\n") else "\n" if body.startswith("\n") else ""
    raw = body[len(lead) :]
    offsets = _raw_offsets(raw) if quote[0] == '"' else list(range(len(raw) + 1))
    if offsets is None or len(offsets) != len(old) + 1:
        return None
    prefix = _common_prefix(old, new)
    suffix = _common_prefix(old[prefix:][::-1], new[prefix:][::-1])
    middle = new[prefix : len(new) - suffix]
    result = quote + lead + raw[: offsets[prefix]] + middle + raw[offsets[len(old) - suffix] :] + quote
    return result if value_of(result) == new else None


_ESCAPE_LENGTH = {"u": 6, "U": 10, **dict.fromkeys('btnfre"\\', 2)}


def _raw_offsets(raw: str) -> list[int] | None:
    """Where each character of a basic string's value starts in *raw*, plus len(raw); None if unsure."""
    offsets, i = [], 0
    while i < len(raw):
        offsets.append(i)
        if raw[i] == "\\":
            step = _ESCAPE_LENGTH.get(raw[i + 1 : i + 2])
            if step is None:  # a line-ending backslash folds lines: no one-to-one mapping
                return None
            i += step
        else:
            i += 1
    return [*offsets, len(raw)]


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
