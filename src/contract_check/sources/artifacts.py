"""What uv will install for Core: known before the install (the result cache keys on it), checked after it.

``plan`` names the artifact a resolved ref installs, from the listing ``refs.resolve`` already read, so a
cache hit costs no clone and no install:

- **an index version**: every file of that version the index and ``--find-links`` offer, read with uv's own
  name rules (``Market_Data_Core-1.98.04-py3-none-any.whl`` is market-data-core 1.98.4; a ``file:`` URL is a
  local directory): local files by the SHA-256 of their bytes, index files by the hash the index gives (by
  name when it gives none). A version that a remote find-links page offers is never pinned: the page and its
  files may change behind their names;
- **a git ref**: the commit it resolves to now (``git ls-remote``); **a local path**: the digest of its
  content; **a URL**: never pinned.

``installed`` reads what uv put in the sandbox (Core's ``RECORD`` and ``direct_url.json``, bounded reads),
and ``verify`` says whether that is the planned artifact (a local wheel's own RECORD entries, the git commit,
the version) and where it came from (``models.Artifact``, which the report shows). A run whose install does
not match its plan is not cached.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from contract_check.errors import ContractCheckError
from contract_check.models import Artifact, Source
from contract_check.sources import gitrev
from contract_check.sources.index import Release, ReleaseFile
from contract_check.sources.refs import ResolvedRef
from contract_check.util import fsread
from contract_check.util.fingerprint import content_digest, digest, file_digest

RECORD_LIMIT = 16 * fsread.MIB  # a RECORD lists every file of a distribution: a few hundred KiB at most
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Plan:
    """The artifact a resolved ref will install, as far as it is known before the install."""

    source: Source
    identity: str | None  # what the result cache keys on; None: it cannot be pinned (never cached)
    why_not: str = ""  # why identity is None
    version: Version | None = None
    local: tuple[Path, ...] = ()  # local files uv may pick (find-links files, the wheel or sdist given)
    digests: tuple[str, ...] = ()  # their SHA-256, in the same order
    index: bool = False  # the index offers this version
    remote: tuple[ReleaseFile, ...] = ()  # files a remote find-links page offers for it
    commit: str | None = None  # the git commit a git ref resolves to now
    location: str | None = None  # the git repository, the local path or the URL (redacted when shown)
    # the SHA-256 of every file uv may pick for an index version, when each of them has one: uv is told to
    # verify them, so that an install answered from uv's own cache cannot be another file under the same name
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Installed:
    """Core as uv installed it in the sandbox."""

    version: str | None
    record: dict[str, str]  # file -> hash, for the files outside the .dist-info directory
    direct_url: dict[str, Any] | None  # PEP 610, for a direct reference (a git ref, a file, a URL)


# ------------------------------------------------------------------------------------------------- plan


def plan(resolved: ResolvedRef, *, releases: Callable[[], list[Release]] | None, pin_git: bool = True) -> Plan:
    """The artifact *resolved* installs (see the module docstring). *releases*: the listing (index refs);
    *pin_git*: resolve a git ref to its commit (only the result cache needs it: it costs a ``git ls-remote``)."""
    if resolved.source is Source.INDEX:
        return _index_plan(resolved, releases() if releases is not None else [])
    if resolved.source is Source.GIT:
        commit = git_commit(resolved) if pin_git else None
        return Plan(
            Source.GIT,
            f"git:{commit}" if commit else None,
            why_not="" if commit else "the git ref could not be resolved to a commit",
            commit=commit,
            location=resolved.git_url,
        )
    target = resolved.requirement.split(" @ ", 1)[-1]
    path = resolved.local_path
    if path is not None:
        found = content_digest(path)
        local = (path,) if path.is_file() else ()
        digests = (found.removeprefix("file:"),) if found and local else ()
        return Plan(Source.PATH, found, why_not="" if found else "the path cannot be read", local=local,
                    digests=digests, location=str(path))  # fmt: skip
    return Plan(resolved.source, None, why_not="a URL may change behind the same name", location=target)


def _index_plan(resolved: ResolvedRef, found: list[Release]) -> Plan:
    release = next((r for r in found if resolved.version is not None and r.version == resolved.version), None)
    files = release.files if release is not None else ()
    local = [(f, f.local_path) for f in files if f.local_path is not None]
    remote = tuple(f for f in files if f.local_path is None and f.origin != "index")
    indexed = sorted((f.filename, f.sha256 or "") for f in files if f.origin == "index")
    paths = tuple(path for _, path in local)
    digests = tuple(_file_sha(path) for path in paths)
    base = Plan(Source.INDEX, None, version=resolved.version, local=paths, digests=digests, index=bool(indexed),
                remote=remote)  # fmt: skip
    if remote:
        return _replace(base, why_not="a remote --find-links page offers it: it may change behind its name")
    if release is None:  # offline, uv answers from its own cache: nothing says which file that is
        return _replace(base, why_not="the listing does not name its files (offline, and not in --find-links)")
    named = sorted(zip((p.name for p in paths), digests, strict=True))
    known = [*digests, *(sha for _, sha in indexed)]
    hashes = tuple(sorted(set(known))) if known and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in known) else ()
    return _replace(base, identity=digest("index", resolved.requirement, named, indexed), hashes=hashes)


def _file_sha(path: Path) -> str:
    """The SHA-256 of a find-links file; a file that went away or cannot be read is keyed as such (uv will
    not install it either). A FIFO or a device is a usage error naming it (``fsread``)."""
    try:
        return file_digest(path, "--find-links file")
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"


def _replace(plan: Plan, **changes: Any) -> Plan:
    return dataclasses.replace(plan, **changes)


def git_commit(resolved: ResolvedRef) -> str | None:
    """The commit a git ref resolves to now (``gitrev.commit_of``), or None when it cannot be told for sure
    (unreachable, unknown, or a name that is both a branch and a tag): such a ref is never cached."""
    url, rev = resolved.git_url, resolved.git_rev
    if not url or not rev:
        return None
    try:
        return gitrev.commit_of(url, rev, timeout=30)
    except (ContractCheckError, OSError):
        return None


# -------------------------------------------------------------------------------------------- installed


def installed(venv: Path, dist: str) -> Installed | None:
    """Core's installed distribution in *venv* (its version, RECORD and direct_url.json); None if not found."""
    wanted = canonicalize_name(dist)
    for info in sorted(venv.glob("lib*/python*/site-packages/*.dist-info")) + sorted(
        venv.glob("Lib/site-packages/*.dist-info")
    ):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        if canonicalize_name(name) != wanted:
            continue
        record = fsread.read_cached(info / "RECORD", limit=RECORD_LIMIT)
        direct = fsread.read_cached(info / "direct_url.json", limit=fsread.MIB)
        try:
            direct_url = json.loads(direct) if direct else None
        except (ValueError, RecursionError):
            direct_url = None
        return Installed(
            version=version or None,
            record=_entries(record.decode("utf-8", "replace") if record else "", skip=info.name),
            direct_url=direct_url if isinstance(direct_url, dict) else None,
        )
    return None


def _entries(text: str, *, skip: str) -> dict[str, str]:
    """RECORD rows -> {file: hash}, leaving out the .dist-info files (an installer writes its own there)
    and the ``.data`` directory (its files move when installed)."""
    out = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 2 or not row[1]:
            continue
        top = row[0].split("/", 1)[0]
        if top == skip or top.endswith((".dist-info", ".data")) or row[0].startswith(".."):
            continue
        out[row[0]] = row[1]
    return out


def wheel_record(path: Path) -> dict[str, str] | None:
    """The package files a wheel's own RECORD lists, as ``_entries``; None when it is no readable wheel."""
    try:
        with fsread.open_regular(path, "--find-links file") as fh, zipfile.ZipFile(fh) as wheel:
            names = [n for n in wheel.namelist() if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)]
            if len(names) != 1 or wheel.getinfo(names[0]).file_size > RECORD_LIMIT:
                return None
            text = wheel.read(names[0]).decode("utf-8", "replace")
            return _entries(text, skip=names[0].split("/", 1)[0])
    except (OSError, zipfile.BadZipFile, ValueError, KeyError):
        return None


def record_hash(data: bytes) -> str:
    """A RECORD hash of *data* (``sha256=`` and urlsafe base64 without padding)."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# ----------------------------------------------------------------------------------------------- verify


def verify(planned: Plan, found: Installed | None, *, redact: Callable[[str], str]) -> tuple[bool, Artifact | None]:
    """(whether *found* is the artifact *planned* named, where Core came from). Not verified: nothing found,
    another version, another commit, or files that match none of the local candidates."""
    if found is None:
        return False, None
    if planned.source is Source.GIT:
        info = (found.direct_url or {}).get("vcs_info") or {}
        commit = info.get("commit_id") if isinstance(info, dict) else None
        commit = commit if isinstance(commit, str) else None
        artifact = Artifact(
            origin="git", location=redact(planned.location or ""), digest=f"git:{commit}" if commit else None
        )
        return planned.commit is not None and commit == planned.commit, artifact
    if planned.source is Source.URL:
        return False, Artifact(origin="url", location=redact(planned.location or ""))
    version_ok = _same_version(planned.version, found.version) if planned.version is not None else True
    for path, sha in zip(planned.local, planned.digests, strict=True):
        record = wheel_record(path) if path.name.endswith(".whl") else None
        if record and found.record and all(found.record.get(name) == value for name, value in record.items()):
            origin = "path" if planned.source is Source.PATH else "find-links"
            return version_ok, Artifact(origin=origin, location=str(path), digest=f"sha256:{sha}")
    if planned.source is Source.PATH:
        only = planned.local[0] if planned.local else None
        sdist = only is not None and not only.name.endswith(".whl")
        shown = Artifact(origin="path", location=planned.location, digest=planned.identity)
        return (sdist or only is None) and found.version is not None, shown  # a wheel whose files differ: no
    if planned.index and found.direct_url is None:
        return version_ok, Artifact(origin="index")
    if planned.remote:
        where = planned.remote[0].location if len(planned.remote) == 1 else None
        return False, Artifact(origin="find-links", location=redact(where) if where else None)
    sdists = [p for p in planned.local if not p.name.endswith(".whl")]
    if sdists and not any(p.name.endswith(".whl") for p in planned.local):  # built from the only sdist there is
        sha = planned.digests[planned.local.index(sdists[0])]
        return version_ok and len(sdists) == 1, Artifact(
            origin="find-links", location=str(sdists[0]), digest=f"sha256:{sha}"
        )
    return False, None


def _same_version(wanted: Version, found: str | None) -> bool:
    try:
        return found is not None and Version(found) == wanted
    except InvalidVersion:
        return False
