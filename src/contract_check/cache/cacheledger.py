"""The cache's ledger and its bound: what each entry costs and when it was last used, and what to evict.

The ledger (``<cache>/ledger.jsonl``) holds one JSON line per event: an entry written (its size, when it stops
being usable), used again, or removed. Writers append (under a shared lock, so that they never wait for each
other); compaction rewrites the file under the exclusive lock. Eviction reads only the ledger, never the cache's
files, and runs at most once per command, at its end (``end_of_command``), when the command wrote to the cache
or used it. It removes, least recently used first, what is past its use (a result older than its TTL, a base
older than a day), unused for longer than the age bound, and what is over the size bound; an entry that a
running check holds (its lock) is skipped, and so is anything the ledger names that is not recognisably the
tool's (``cachedir.recognise``): a damaged or edited ledger can make the tool forget an entry, never delete
someone else's file.

The bound is declared once here (``SETTINGS``): ``CONTRACT_CHECK_CACHE_MAX_SIZE`` (default 1 GiB) and
``CONTRACT_CHECK_CACHE_MAX_AGE`` (default 7 days); ``cache prune --max-size/--max-age`` override them once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contract_check.cache import cachedir
from contract_check.cache.cachedir import LEDGER, LEDGER_LOCK, Entry, Outcome
from contract_check.errors import ContractCheckError, UsageError
from contract_check.util import fsread

log = logging.getLogger("contract_check")

LEDGER_LIMIT = 64 * fsread.MIB


# ------------------------------------------------------------------------------------------------- the bound


@dataclass(frozen=True)
class Setting:
    variable: str
    option: str
    default: str
    meaning: str


SIZE = Setting("CONTRACT_CHECK_CACHE_MAX_SIZE", "--max-size", "1GiB", "the most the cache may hold")
AGE = Setting("CONTRACT_CHECK_CACHE_MAX_AGE", "--max-age", "7d", "how long an unused entry is kept")
SETTINGS = (SIZE, AGE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str, what: str) -> int | None:
    """``1GiB``, ``500M``, ``1.5g``, ``2048`` (bytes); K, M, G, T are powers of 1024; ``none``: no bound."""
    value = text.strip().lower().replace(" ", "")
    if value in ("none", "off"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt]?)(?:i?b)?", value)
    if not m:
        raise UsageError(f"{what} {text!r} is not a size", tip="e.g. 1GiB, 500M or none (K, M, G, T: powers of 1024)")
    return int(float(m[1]) * _UNITS[m[2]])


def parse_age(text: str, what: str) -> float | None:
    """``7d``, ``36h``, ``90m``, ``3600s`` or seconds; ``none``: no bound."""
    value = text.strip().lower().replace(" ", "")
    if value in ("none", "off"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw]?)", value)
    seconds = float(m[1]) * _SECONDS[m[2]] if m else math.nan
    if not math.isfinite(seconds):
        raise UsageError(f"{what} {text!r} is not an age", tip="e.g. 7d, 36h, 90m or none")
    return seconds


@dataclass(frozen=True)
class Bound:
    max_size: int | None
    max_age: float | None


def bound(
    environ: Mapping[str, str] | None = None, *, max_size: str | None = None, max_age: str | None = None
) -> Bound:
    """The bound: the options given, else the variables, else the defaults (a bad value is a UsageError)."""
    environ = os.environ if environ is None else environ
    size_text = max_size if max_size is not None else environ.get(SIZE.variable) or SIZE.default
    age_text = max_age if max_age is not None else environ.get(AGE.variable) or AGE.default
    size_what = SIZE.option if max_size is not None else SIZE.variable
    age_what = AGE.option if max_age is not None else AGE.variable
    return Bound(parse_size(size_text, size_what), parse_age(age_text, age_what))


# ------------------------------------------------------------------------------------------------ the ledger


@dataclass(frozen=True)
class Record:
    path: str  # relative to the cache root: folder/name
    kind: str
    size: int
    used: float
    expires: float | None = None


_touched: set[Path] = set()


def _append(root: Path, lines: Iterable[dict[str, object]], *, used: bool = True) -> None:
    data = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
    if not data:
        return
    try:
        with cachedir.locked(root / LEDGER_LOCK, exclusive=False):
            fd = os.open(root / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
    except (OSError, ContractCheckError) as exc:  # a ledger that cannot be written costs the bound its precision
        log.info("could not write the cache ledger %s: %s", root / LEDGER, exc)
        return
    if used:  # the cache was written or used: this command ends with an eviction
        _touched.add(root)


def record(root: Path, rel: str, kind: str, size: int, *, expires: float | None = None) -> None:
    """*rel* was written (or rebuilt): its size, and when it stops being usable (None: it does not)."""
    _append(root, [{"path": rel, "kind": kind, "size": size, "used": time.time(), "expires": expires}])


def touch(root: Path, rel: str) -> None:
    """*rel* was used again."""
    _append(root, [{"path": rel, "used": time.time()}])


def forget(root: Path, rels: Iterable[str]) -> None:
    _append(root, [{"path": rel, "gone": True} for rel in rels], used=False)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def read(root: Path) -> tuple[dict[str, Record], int]:
    """The ledger folded (the last word on each entry), and how many lines it had. Damaged lines, and lines
    naming anything but a folder/name in the cache, are skipped."""
    raw = fsread.read_cached(root / LEDGER, limit=LEDGER_LIMIT) or b""
    records: dict[str, Record] = {}
    lines = raw.splitlines()
    for line in lines:
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            continue
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str) or not _valid_rel(path):
            continue
        if item.get("gone") is True:
            records.pop(path, None)
            continue
        used = _number(item.get("used"))
        if used is None:
            continue
        if "kind" not in item:  # used again
            if path in records:
                records[path] = Record(path, records[path].kind, records[path].size, used, records[path].expires)
            continue
        size, kind = item.get("size"), item.get("kind")
        if isinstance(size, int) and size >= 0 and kind in ("result", "base", "wheel"):
            records[path] = Record(path, str(kind), size, used, _number(item.get("expires")))
    return records, len(lines)


def _valid_rel(rel: str) -> bool:
    folder, _, name = rel.partition("/")
    return folder in cachedir.FOLDERS and bool(name) and "/" not in name and name not in (".", "..")


def compact(root: Path) -> None:
    """Rewrite the ledger as its folded records (under the exclusive lock: no append is lost)."""
    try:
        with cachedir.locked(root / LEDGER_LOCK, exclusive=True):
            records, _ = read(root)
            fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{LEDGER}.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for r in sorted(records.values(), key=lambda r: r.used):
                    item = {"path": r.path, "kind": r.kind, "size": r.size, "used": r.used, "expires": r.expires}
                    fh.write(json.dumps(item, separators=(",", ":")) + "\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, root / LEDGER)
    except (OSError, ContractCheckError) as exc:
        log.info("could not compact the cache ledger %s: %s", root / LEDGER, exc)


def adopt(root: Path, entries: Iterable[Entry]) -> None:
    """Record what an earlier release's cache holds (its sizes measured once), when the tool adopts it."""
    lines: list[dict[str, object]] = []
    for entry in entries:
        if entry.kind in ("result", "base", "wheel"):
            path = root / entry.rel
            try:
                used = path.stat().st_mtime
            except OSError:
                continue
            size = cachedir.tree_size(path)
            lines.append({"path": entry.rel, "kind": entry.kind, "size": size, "used": used, "expires": None})
    _append(root, lines)


# ---------------------------------------------------------------------------------------------- eviction


@dataclass(frozen=True)
class Eviction:
    record: Record
    reason: str


def plan(records: Iterable[Record], limit: Bound, now: float) -> list[Eviction]:
    """What to evict, least recently used first: what is past its use, unused for longer than the age bound,
    then the least recently used until the rest fits the size bound (pure)."""
    kept: list[Record] = []
    out: list[Eviction] = []
    for r in sorted(records, key=lambda r: (r.used, r.path)):
        if r.expires is not None and r.expires <= now:
            out.append(Eviction(r, "expired"))
        elif limit.max_age is not None and now - r.used > limit.max_age:
            out.append(Eviction(r, f"unused for {age_text(now - r.used)}"))
        else:
            kept.append(r)
    if limit.max_size is not None:
        total = sum(r.size for r in kept)
        for r in kept:
            if total <= limit.max_size:
                break
            out.append(Eviction(r, "least recently used, over the size bound"))
            total -= r.size
    return out


@dataclass
class Pruned:
    removed: list[Record] = field(default_factory=list)
    held: list[Record] = field(default_factory=list)  # in use by a running check: kept

    @property
    def freed(self) -> int:
        return sum(r.size for r in self.removed)


def prune(root: Path, limit: Bound, now: float | None = None) -> Pruned:
    """Evict what ``plan`` names from the marked cache at *root*; the caller checked the marker."""
    now = time.time() if now is None else now
    records, lines = read(root)
    done = Pruned()
    dropped: list[str] = []
    for eviction in plan(records.values(), limit, now):
        rel = eviction.record.path
        entry = cachedir.recognise(root, rel)
        if entry is None or entry.kind not in ("result", "base", "wheel"):
            dropped.append(rel)  # gone, or not the tool's (any more): forgotten, never touched
            continue
        outcome = cachedir.remove(root, entry)
        if outcome == Outcome.HELD:
            done.held.append(eviction.record)
        elif outcome != Outcome.FAILED:  # a removal the file system refused is tried again next time
            dropped.append(rel)
            if outcome == Outcome.REMOVED:
                done.removed.append(eviction.record)
    forget(root, dropped)
    for leftover in cachedir.partials(root):  # a crashed build's staging, an interrupted removal's trash
        cachedir.remove(root, leftover)  # (one in use is held by its builder or remover: skipped)
    if lines > 2 * (len(records) - len(dropped)) + 64:
        compact(root)
    return done


def end_of_command() -> None:
    """At the end of a command: release what it held, then evict once from each cache it wrote to or used. An
    interrupt stops the eviction between two removals (an entry is renamed into a marked trash directory before
    it is deleted, and the next eviction removes what an interrupted one left) and never changes the exit code."""
    cachedir.release_held()
    roots = sorted(_touched)
    _touched.clear()
    for root in roots:
        if not cachedir.is_marked(root):
            continue
        try:
            pruned = prune(root, bound())
        except UsageError as exc:
            log.warning("the cache was not pruned: %s", exc.message)
            continue
        except (OSError, ContractCheckError) as exc:
            log.info("the cache was not pruned: %s", exc)
            continue
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM while evicting: the command's answer stands; stop here
            log.info("pruning the cache was interrupted")
            return
        if pruned.removed:
            log.info("pruned %d cache entries (%d bytes) from %s", len(pruned.removed), pruned.freed, root)


def age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
