"""What is wrong with a requirements file that pip cannot read, said precisely (byte offsets, what the bytes are).

``bump`` leaves such a file alone and tells the user why, in terms they can act on: a UTF-16 file with an odd
number of bytes (a one-byte line feed from ``echo >>`` or ``sed``), NUL characters (padding), a line appended in
another encoding (UTF-8 text after UTF-16), bytes that are not UTF-8, UTF-16 without a byte order mark. Each
finding names its bytes, in the order they come in the file; ``keep`` is the length to truncate the file to
when all of the damage is NUL padding and stray bytes at its end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from contract_check.bump.requirements_file import UTF8, Encoding, Line

_NULS = re.compile("\x00+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # what no requirement or option holds (TAB and breaks aside)
_SHOWN = 4  # runs of NUL characters listed
_NAMES = {0x0A: "a line feed", 0x0D: "a carriage return", 0x00: "NUL", 0x20: "a space"}


@dataclass(frozen=True)
class Damage:
    findings: tuple[str, ...]  # in file order
    pip: str  # what pip does with the file
    keep: int | None = None  # truncating to this many bytes removes all of the damage (padding at the end)


def _bytes(start: int, end: int) -> str:
    """``byte 12 is`` or ``bytes 12-20 are`` (inclusive), with thousands separators."""
    return f"byte {start:,} is" if end - start == 1 else f"bytes {start:,}-{end - 1:,} are"


def _byte(value: int) -> str:
    return f"0x{value:02X}" + (f", {_NAMES[value]}" if value in _NAMES else "")


def undecodable(data: bytes, encoding: Encoding, error: str) -> Damage:
    """*data* does not decode as *encoding* (pip's choice; *error* is the decoder's message): why, where."""
    pip = f'pip cannot read it either: it stops with "UnicodeDecodeError: {error}"'
    if encoding.codec.startswith("utf-16"):
        return _utf16(data, encoding, pip)
    found: list[tuple[int, str]] = []
    start = len(encoding.bom)
    try:
        data[start:].decode(encoding.codec)
    except UnicodeDecodeError as exc:
        bad = data[start + exc.start : start + exc.end]
        found.append(
            (
                start + exc.start,
                f"{_bytes(start + exc.start, start + exc.end)} not {encoding.label} "
                f"({', '.join(_byte(b) for b in bad[:4])}: {exc.reason}); that part is in another encoding "
                "(Latin-1 or cp1252?)",
            )
        )
    return Damage(tuple(text for _, text in sorted(found)), pip)


def _utf16(data: bytes, encoding: Encoding, pip: str) -> Damage:
    start = len(encoding.bom)
    body = data[start:]
    found: list[tuple[int, str]] = []
    end = len(body)
    foreign = _foreign_tail(data, encoding)
    if foreign is not None:
        found.append(foreign)
        end = foreign[0] - start
    keep = None
    if end % 2:
        value = body[end - 1]
        echo = ", what `echo >>` or `sed` leave on a UTF-16 file" if value == 0x0A else ""
        found.append(
            (
                start + end - 1,
                f"{_bytes(start + end - 1, start + end)} half a UTF-16 character ({_byte(value)}): the file has an "
                f"odd number of bytes ({len(data):,}){echo}",
            )
        )
        end -= 1
        keep = start + end
    try:
        text = body[:end].decode(encoding.codec)
    except UnicodeDecodeError as exc:
        found.append((start + exc.start, f"{_bytes(start + exc.start, start + exc.end)} not UTF-16 ({exc.reason})"))
        text = body[: exc.start].decode(encoding.codec)
        keep = None
    nuls = _nul_runs(text, lambda i: start + len(text[:i].encode(encoding.codec)))
    found += [(offset, finding) for offset, finding, _ in nuls]
    if keep is not None and nuls and nuls[-1][2]:
        keep = start + len(text.rstrip("\x00").encode(encoding.codec))
    return Damage(tuple(text for _, text in sorted(found)), pip, None if foreign is not None else keep)


def _utf16_without_bom(data: bytes) -> str | None:
    if len(data) < 4:
        return None
    odd, even = data[1::2].count(0), data[0::2].count(0)
    half = len(data) // 2
    if odd >= 0.4 * half and even < 0.1 * half:
        return "UTF-16 LE"
    if even >= 0.4 * half and odd < 0.1 * half:
        return "UTF-16 BE"
    return None


def _foreign_tail(data: bytes, encoding: Encoding) -> tuple[int, str] | None:
    """Where UTF-8 text appended to a UTF-16 file starts (after its last 0x00 byte), and the finding."""
    start = len(encoding.bom)
    body = data[start:]
    zero = body.rfind(b"\x00")
    begin = zero + 1 + ((zero + 1) % 2) if zero >= 0 else 0  # the end of the UTF-16 character holding it
    shown = _as_ascii_text(body[begin:])
    if shown is None:
        return None
    return start + begin, (
        f"{_bytes(start + begin, len(data))} not UTF-16: they read as UTF-8 text {shown!r} (a line appended in "
        "another encoding)"
    )


def _as_ascii_text(tail: bytes) -> str | None:
    """*tail* shown as text when it reads as UTF-8 text with some ASCII letters (not as UTF-16); else None."""
    if len(tail) < 2:
        return None
    try:
        text = tail.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not re.search(r"[A-Za-z]", text) or not all(c.isprintable() or c in "\r\n\t" for c in text):
        return None
    return text if len(text) <= 60 else text[:57] + "..."


def _nul_runs(text: str, byte_of: Callable[[int], int]) -> list[tuple[int, str, bool]]:
    """(byte offset, finding, whether it ends the file) for the first few runs of NUL characters in *text*."""
    out: list[tuple[int, str, bool]] = []
    runs = list(_NULS.finditer(text))
    for run in runs[:_SHOWN]:
        first, last = byte_of(run.start()), byte_of(run.end())
        before = text[: run.start()] + "x"  # "x" stands for the run: the line it starts on
        line = len(before.splitlines())
        at_end = run.end() == len(text)
        where = "after the last line" if at_end and before.splitlines()[-1] == "x" else f"on line {line}"
        count = run.end() - run.start()
        plural = "s" if count > 1 else ""
        out.append((first, f"{_bytes(first, last)} {count} NUL character{plural} (U+0000), {where}", at_end))
    if len(runs) > _SHOWN:
        out.append((byte_of(runs[_SHOWN].start()), f"and {len(runs) - _SHOWN} more runs of NUL characters", False))
    return out


def unreadable_lines(text: str, data: bytes, encoding: Encoding, lines: list[Line]) -> Damage | None:
    """The file decodes, but a line pip reads is garbage: NUL padding, UTF-16 without a byte order mark (read
    as UTF-8), or UTF-8 text appended to UTF-16 (read as CJK characters). None when pip reads every line (NULs
    inside a comment are nothing to pip)."""
    start = len(encoding.bom)

    def byte_of(index: int) -> int:
        return start + len(text[:index].encode(encoding.codec))

    if encoding.codec.startswith("utf-16"):
        foreign = _foreign_tail(data, encoding)
        last = next((ln for ln in reversed(lines) if ln.body), None)
        end = last.offset(len(last.body) - 1) if last is not None else None
        if foreign is not None and last is not None and end is not None and byte_of(end + 1) > foreign[0]:
            pip = f"pip cannot read it either: it reads line {last.number} ({last.body[:30]!r}) as a requirement"
            return Damage((foreign[1],), pip + ", which it is not")
    bad = next((line for line in lines if _CONTROL.search(line.body)), None)
    if bad is None:
        return None
    what = "an option" if bad.body.startswith("-") else "a requirement"
    pip = f"pip cannot read it either: it reads line {bad.number} ({bad.body[:30]!r}) as {what}, which it is not"
    without_bom = _utf16_without_bom(data) if encoding == UTF8 else None
    if without_bom:
        finding = (
            f"it looks like {without_bom} without a byte order mark (every other byte is 0x00); pip reads it as UTF-8"
        )
        return Damage((finding,), pip)
    nuls = _nul_runs(text, byte_of)
    findings = [f for _, f, _ in nuls] or [f"line {bad.number} holds control characters ({bad.body[:40]!r})"]
    keep = byte_of(len(text.rstrip("\x00"))) if len(nuls) == 1 and nuls[0][2] else None
    return Damage(tuple(findings), pip, keep)


def mentions(data: bytes, core: str) -> bool:
    """Whether *core*'s name appears in *data* in any spelling and in UTF-8 or UTF-16 (NUL bytes ignored)."""
    pattern = "[-_.]+".join(re.escape(part) for part in re.split(r"[-_.]+", core.lower()))
    return re.search(pattern, data.replace(b"\x00", b"").decode("latin-1").lower()) is not None
