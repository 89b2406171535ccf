"""The cache root as the commands see it: made usable by a writer (created with its marker, an empty directory
marked, an earlier release's cache adopted, anything else refused), summarised (``cache info``) and cleared
(``cache clear``). The layout and the rules of what is the tool's are ``cachedir``'s; sizes and last uses are
``cacheledger``'s.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from contract_check.cache import cachedir, cacheledger
from contract_check.cache.cachedir import FOLDERS, TAG, Entry, Outcome
from contract_check.config import cache_root
from contract_check.errors import UsageError

log = logging.getLogger("contract_check")


@dataclass(frozen=True)
class Scan:
    entries: list[Entry]
    foreign: list[str]  # relative names of what the tool did not write (never touched)


def scan(root: Path, *, legacy: bool = False) -> Scan:
    """The entries of the cache at *root* (one level inside each folder; an entry's own files are not walked
    except to recognise it), and everything else there."""
    entries: list[Entry] = []
    others: list[str] = []
    try:
        top = sorted(os.listdir(root))
    except OSError:
        return Scan([], [])
    for name in top:
        if name not in cachedir.TOP_LEVEL:
            others.append(name)
        elif name in FOLDERS:
            if not cachedir.is_real_dir(root / name):
                others.append(name)
                continue
            try:
                children = sorted(os.listdir(root / name))
            except OSError:
                others.append(name)
                continue
            for child in children:
                found = cachedir.recognise(root, f"{name}/{child}", legacy=legacy)
                if found:
                    entries.append(found)
                else:
                    others.append(f"{name}/{child}")
    return Scan(entries, others)


def foreign(root: Path, *, first: bool = False) -> list[str]:
    """What in the unmarked directory *root* neither this nor an earlier release wrote (``first``: stop at the
    first one found); nothing means it may be adopted."""
    found: list[str] = []
    try:
        top = sorted(os.listdir(root))
    except OSError as exc:
        return [f"a directory that cannot be listed ({exc.strerror})"]
    for name in top:
        if cachedir.TOP_PARTIAL_NAME.fullmatch(name):
            continue  # the marker or the ledger being written by another process right now
        # a cache tag that is not contract-check's is another tool's cache: never adopted
        not_ours = name not in cachedir.TOP_LEVEL or name == cachedir.TAG
        if not_ours or (name in FOLDERS and not cachedir.is_real_dir(root / name)):
            found.append(name)
        elif name in FOLDERS:
            try:
                children = sorted(os.listdir(root / name))
            except OSError as exc:
                return [*found, f"{name}, which cannot be listed ({exc.strerror})"]
            for child in children:
                if cachedir.recognise(root, f"{name}/{child}", legacy=True) is None:
                    found.append(f"{name}/{child}")
                    if first:
                        return found
        elif name in (cachedir.LEDGER, cachedir.LEDGER_LOCK) and not stat.S_ISREG(os.lstat(root / name).st_mode):
            found.append(name)
        if first and found:
            return found
    return found


_refused: set[Path] = set()


def usable(root: Path | None = None) -> Path | None:
    """The cache root, ready to write in: created with the marker when missing, marked when empty or when it is
    an earlier release's cache (everything in it recognisably the tool's); None when it is someone else's
    directory or cannot be made (said once per process), so that the caller runs without the cache."""
    root = root or cache_root()
    if cachedir.is_marked(root):
        return root
    problem = f"{root} is not a contract-check cache (it is not a directory)"
    try:
        if not os.path.lexists(root):
            root.mkdir(parents=True, exist_ok=True)
            cachedir.write_tag(root)
            return root
        if root.is_dir():
            found = foreign(root, first=True)
            if not found:
                return _adopt(root)
            if cachedir.is_marked(root):  # another process marked it meanwhile
                return root
            problem = f"{root} is not a contract-check cache (it holds {found[0]}, which contract-check did not write)"
    except OSError as exc:
        problem = f"the cache directory {root} cannot be used ({exc.strerror or exc})"
    if root not in _refused:
        _refused.add(root)
        log.warning(
            "%s: running without the cache; point CONTRACT_CHECK_CACHE_DIR at a new or empty directory, or remove "
            "from it what is not contract-check's",
            problem,
        )
    return None


def _adopt(root: Path) -> Path:
    """Mark *root*, which holds nothing but an earlier release's entries (or nothing at all); those entries
    get what this release writes with them (a built wheel's marker, a line in the ledger)."""
    entries = scan(root, legacy=True).entries
    for entry in entries:
        path = root / entry.rel
        if entry.kind == "wheel":
            cachedir.mark_wheel_dir(path, "adopted")
        elif entry.kind == "base" and not (path / cachedir.BASE_MARKER).exists():  # discarded by the earlier release
            (path / cachedir.BASE_MARKER).write_text(json.dumps({"discarded": time.time(), "fingerprint": ""}))
        elif entry.kind == "partial" and path.is_dir() and not (path / cachedir.STAGING).exists():
            (path / cachedir.STAGING).touch()  # a staging or trash directory the earlier release left
    cachedir.write_tag(root)
    if entries:
        cacheledger.adopt(root, entries)
        log.info("adopted the cache of an earlier release in %s", root)
    return root


def marked_or_refuse(root: Path) -> bool:
    """For ``cache clear`` and ``prune``: True for a marked cache (an earlier release's is adopted first), False
    when there is nothing there (no directory, or an empty one: left unmarked); a UsageError for anything else."""
    if cachedir.is_marked(root):
        return True
    if not os.path.lexists(root) or (root.is_dir() and not any(root.iterdir())):
        return False
    found = foreign(root, first=True) if root.is_dir() else ["it is not a directory"]
    if root.is_dir() and not found:
        _adopt(root)
        return True
    what = f"it holds {found[0]}, which contract-check did not write" if found else "it has no marker"
    raise UsageError(
        f"{root} is not a contract-check cache (no {TAG} written by contract-check; {what}): nothing was removed",
        tip="check CONTRACT_CHECK_CACHE_DIR (or XDG_CACHE_HOME): it must name a directory contract-check made",
    )


# ---------------------------------------------------------------------------------------------------- info


@dataclass
class Summary:
    root: Path
    state: str  # missing | foreign | marked
    counts: Counter[str] = field(default_factory=Counter)  # result, base, wheel, other (by name)
    size: int = 0  # of the entries the ledger knows
    unknown: int = 0  # entries the ledger does not know (their size is not counted)
    expired: int = 0
    limit: cacheledger.Bound | None = None
    plan: list[cacheledger.Eviction] = field(default_factory=list)


def _kind_of(root: Path, folder: str, name: str) -> str:
    """An entry's kind from its name (and, for a base or a wheel directory, its marker's presence: one stat)."""
    if folder == "results":
        if cachedir.RESULT_NAME.fullmatch(name):
            return "result"
        return "partial" if cachedir.RESULT_PARTIAL_NAME.fullmatch(name) else "other"
    if cachedir.ENTRY_NAME[folder].fullmatch(name):
        marker = root / folder / name / (cachedir.BASE_MARKER if folder == "envs" else cachedir.WHEEL_MARKER)
        try:
            ours = stat.S_ISREG(marker.lstat().st_mode) and cachedir.is_real_dir(marker.parent)
        except OSError:
            ours = False
        return ("base" if folder == "envs" else "wheel") if ours else "other"
    if cachedir.LOCK_NAME[folder].fullmatch(name) or cachedir.PARTIAL_NAME[folder].fullmatch(name):
        return "partial"
    return "other"


def summary(root: Path | None = None, limit: cacheledger.Bound | None = None) -> Summary:
    """What ``cache info`` shows: from the names in the three folders, the markers' presence and the ledger (no
    entry is walked or read; an unmarked directory is not even listed)."""
    root = root or cache_root()
    if not os.path.lexists(root):
        return Summary(root, "missing")
    if not cachedir.is_marked(root):
        return Summary(root, "foreign")
    found = Summary(root, "marked", limit=limit)
    records, _ = cacheledger.read(root)
    now = time.time()
    for folder in FOLDERS:
        try:
            names = os.listdir(root / folder) if not (root / folder).is_symlink() else []
        except OSError:
            continue
        for name in names:
            kind = _kind_of(root, folder, name)
            found.counts[kind] += 1
            record = records.get(f"{folder}/{name}")
            if kind in ("result", "base", "wheel"):
                if record is None:
                    found.unknown += 1
                else:
                    found.size += record.size
                    found.expired += record.expires is not None and record.expires <= now
    present = [r for r in records.values() if os.path.lexists(root / r.path)]
    found.plan = cacheledger.plan(present, limit, now) if limit else []
    return found


# --------------------------------------------------------------------------------------------------- clear


@dataclass
class Cleared:
    root: Path
    removed: Counter[str] = field(default_factory=Counter)
    freed: int = 0
    held: list[str] = field(default_factory=list)  # in use by a running check: kept
    failed: list[str] = field(default_factory=list)  # the file system refused
    foreign: list[str] = field(default_factory=list)  # not the tool's: never touched


_ORDER = {"result": 0, "partial": 1, "base": 2, "wheel": 2, "lock": 3}


def clear(root: Path | None = None) -> Cleared:
    """Remove every entry of the cache at *root* that is recognisably the tool's and that no running check
    holds; keep the marker and everything the tool did not write. The caller checked ``marked_or_refuse``."""
    root = root or cache_root()
    done = Cleared(root)
    if not cachedir.is_marked(root):
        return done
    records, _ = cacheledger.read(root)
    found = scan(root)
    done.foreign = found.foreign
    gone: list[str] = []
    for entry in sorted(found.entries, key=lambda e: (_ORDER[e.kind], e.rel)):
        known = records.get(entry.rel)
        size = known.size if known else cachedir.tree_size(root / entry.rel) if entry.kind != "lock" else 0
        outcome = cachedir.remove(root, entry)
        if outcome in (Outcome.HELD, Outcome.FAILED):
            if entry.kind != "lock":
                (done.held if outcome == Outcome.HELD else done.failed).append(entry.rel)
            continue
        gone.append(entry.rel)
        if outcome == Outcome.REMOVED:
            done.removed[entry.kind] += 1
            done.freed += size
    cacheledger.forget(root, [rel for rel in gone if rel in records])
    cacheledger.compact(root)
    return done
