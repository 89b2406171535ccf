"""Which versions of a package exist: the index's simple API (PEP 691 JSON, PEP 503 HTML) and --find-links.

uv has no command that lists versions, so the tool asks the index itself. The index URL is never written
here: it comes from the user (flags, uv or pip configuration), else from the default uv reports. Each
release keeps the ``requires-python`` of its files (``data-requires-python`` in HTML), so that ``latest`` and
the "did you mean" hints only name releases the sandbox's Python can install.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import difflib
import http.client
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from contract_check.errors import EnvironmentProblem
from contract_check.util import fsread, proc

_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
PAGE_LIMIT = 64 * fsread.MIB  # a project page of the largest projects on public indexes is a few MiB


def file_url_path(url: str) -> Path:
    """The local path a ``file:`` URL names, percent-decoded (``Path.as_uri()`` encodes a space as %20)."""
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release, where the listing found it: what uv may install for that version."""

    filename: str
    origin: str  # "index", "find-links directory" or "find-links page"
    location: str  # a path (a find-links directory) or the URL the page links to (may hold credentials)
    sha256: str | None = None  # the hash the index or page gives (PEP 691 "hashes", PEP 503 "#sha256=")

    @property
    def local_path(self) -> Path | None:
        """The find-links file on this machine (a directory entry or a ``file:`` link); None for a remote one
        and for an index file (an index names a release by its hash)."""
        if self.origin == "find-links directory":
            return Path(self.location)
        if self.origin == "find-links page" and self.location.startswith("file:"):
            return file_url_path(self.location)
        return None


@dataclass(frozen=True)
class Release:
    version: Version
    yanked: bool = False
    # the requires-python of its files; empty when one of them has none (any Python installs that one)
    requires_python: tuple[str, ...] = ()
    # every file of this version the index and --find-links offer (what the result cache keys on)
    files: tuple[ReleaseFile, ...] = field(default=(), compare=False)

    def admits(self, python: Version | None) -> bool:
        """Whether a sandbox running *python* can install this release (None: unknown, so yes). An invalid
        requires-python is uv's to judge, so it admits too."""
        if python is None or not self.requires_python:
            return True
        for spec in self.requires_python:
            try:
                if SpecifierSet(spec).contains(python, prereleases=True):
                    return True
            except InvalidSpecifier:
                return True
        return False


# per version: (yanked, requires-python of its files (None in the set: a file without one), the files)
_Found = dict[Version, tuple[bool, set[str | None], list[ReleaseFile]]]
_File = tuple[str, bool, str | None, ReleaseFile]  # filename, yanked, requires-python, where it is


@dataclass(frozen=True)
class IndexSettings:
    """Where packages come from, as the user configured it; passed verbatim to uv."""

    index_url: str | None = None  # None: uv's own default
    find_links: tuple[str, ...] = ()
    offline: bool = False

    def uv_args(self) -> list[str]:
        args: list[str] = []
        if self.index_url:
            args += ["--default-index", self.index_url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.offline:
            args.append("--offline")
        return args


@cache
def default_index_url(uv: str) -> str:
    """The default index that the installed uv reports in its help text (no host name is written here)."""
    done = proc.run([uv, "pip", "install", "--help"], env={"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"})
    match = re.search(r"by default: <([^>]+)>", done.stdout)
    if not match:
        raise EnvironmentProblem(
            "could not tell which package index uv uses by default",
            tip="name one with --index-url",
            kind="uv",
        )
    return match.group(1)


def _version_of(filename: str, name: str) -> Version | None:
    """The version of *name* a wheel or sdist file name holds, read as uv reads it (names and versions
    normalised: ``Market_Data_Core-1.98.04-py3-none-any.whl`` is market-data-core 1.98.4); None otherwise."""
    try:
        if filename.endswith(".whl"):
            dist, version, *_ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            dist, version = parse_sdist_filename(filename)
        else:
            return None
    except ValueError:  # InvalidWheelFilename, InvalidSdistFilename, or a number over 4,300 digits
        return None
    return version if dist == canonicalize_name(name) else None


def _collect(files: Iterable[_File], name: str) -> _Found:
    """(filename, yanked, requires-python) triples -> version -> (yanked, requires-python of its files);
    a version is yanked only if all of its files are."""
    out: _Found = {}
    for filename, yanked, requires_python, where in files:
        version = _version_of(filename, name)
        if version is not None:
            was, specs, known = out.get(version, (True, set(), []))
            out[version] = (was and yanked, specs | {(requires_python or "").strip() or None}, [*known, where])
    return out


def _add(found: _Found, more: _Found) -> None:
    for version, (yanked, specs, files) in more.items():
        was, known, listed = found.get(version, (True, set(), []))
        found[version] = (was and yanked, known | specs, [*listed, *files])


def _sha256(fragment_or_hashes: Any) -> str | None:
    """The sha256 of a PEP 691 ``hashes`` object or a PEP 503 URL fragment (``sha256=...``)."""
    if isinstance(fragment_or_hashes, dict):
        value = fragment_or_hashes.get("sha256")
        return value.lower() if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{64}", value) else None
    if isinstance(fragment_or_hashes, str):
        found = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment_or_hashes)
        return found.group(1).lower() if found else None
    return None


class _Anchors(HTMLParser):
    def __init__(self, page_url: str = "", origin: str = "index") -> None:
        super().__init__()
        self.page_url = page_url
        self.origin = origin
        self.files: list[_File] = []
        self._yanked = False
        self._in_a = False
        self._href = ""
        self._requires_python: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            a = dict(attrs)
            self._in_a, self._yanked, self._href = True, "data-yanked" in a, a.get("href") or ""
            self._requires_python = a.get("data-requires-python")  # PEP 503; the parser unescapes &gt;

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_a:
            parts = urllib.parse.urlsplit(self._href)
            filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
            try:
                url = urllib.parse.urljoin(self.page_url, self._href.split("#", 1)[0]) if self.page_url else self._href
            except ValueError:
                url = self._href
            where = ReleaseFile(filename, self.origin, url, _sha256(parts.fragment))
            self.files.append((filename, self._yanked, self._requires_python, where))
            self._in_a = False


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    if not parts.username:
        return url, {}
    host = parts.netloc.rpartition("@")[2]  # keeps an IPv6 host's brackets and the port as written
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    userinfo = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return clean, {"Authorization": "Basic " + base64.b64encode(userinfo.encode()).decode()}


class _NoAuthAcrossHosts(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry the index's credentials to another host (urllib would)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            old_parts, new_parts = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(new.full_url)
            if (old_parts.scheme, old_parts.netloc) != (new_parts.scheme, new_parts.netloc):
                new.remove_header("Authorization")
        return new


def _fetch(url: str, timeout: float) -> tuple[str, str] | None:
    """(content type, body) of *url*, or None when the index has no such project."""
    try:
        if url.startswith("file:"):
            path = file_url_path(url)
            page = path / "index.html" if path.is_dir() else path
            if fsread.kind_of(page) is None:
                return None
            # a FIFO or a device is a usage error (fsread), not a page to wait for
            return "text/html", fsread.read_text(page, limit=PAGE_LIMIT, what="the index page", errors="replace")
        clean, headers = _split_credentials(url)
        request = urllib.request.Request(clean, headers={"Accept": _ACCEPT, **headers})
        opener = urllib.request.build_opener(_NoAuthAcrossHosts())
        with opener.open(request, timeout=timeout) as response:
            body = response.read(PAGE_LIMIT + 1)
            if len(body) > PAGE_LIMIT:
                raise EnvironmentProblem(
                    f"the package index sent more than {PAGE_LIMIT // fsread.MIB} MiB for {proc.redact(url)}",
                    tip="check --index-url: it must be a simple repository API",
                    kind="network",
                )
            return response.headers.get("Content-Type", ""), body.decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise EnvironmentProblem(
            f"the package index answered {exc.code} for {proc.redact(url)}",
            tip="check --index-url and its credentials",
            kind="network",
        ) from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:  # InvalidURL too
        reason = getattr(exc, "reason", exc)
        raise EnvironmentProblem(
            f"could not reach the package index {proc.redact(url)}: {proc.redact(str(reason))}",
            tip="check the network and --index-url, or use --find-links / --offline",
            kind="network",
        ) from None


def parse_page(content_type: str, body: str, name: str, url: str = "") -> _Found:
    """A project page of the simple API (PEP 691 JSON or PEP 503 HTML) -> its versions."""
    if "json" in content_type:
        try:
            files = [
                (
                    str(f["filename"]),
                    bool(f.get("yanked")),
                    _text_or_none(f.get("requires-python")),
                    ReleaseFile(str(f["filename"]), "index", _join(url, f.get("url")), _sha256(f.get("hashes"))),
                )
                for f in json.loads(body).get("files", [])
            ]
        except (ValueError, AttributeError, TypeError, KeyError, RecursionError):  # RecursionError: deep nesting
            raise EnvironmentProblem(
                f"the package index sent a page that is not a PEP 691 project page for {proc.redact(url)}",
                tip="check --index-url: it must be a simple repository API",
                kind="network",
            ) from None
        return _collect(files, name)
    parser = _Anchors(url)
    parser.feed(body)
    return _collect(parser.files, name)


def _join(base: str, url: Any) -> str:
    if not isinstance(url, str):
        return base
    try:
        return urllib.parse.urljoin(base, url) if base else url
    except ValueError:
        return url


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _from_index(index_url: str, name: str, timeout: float) -> _Found:
    url = index_url.rstrip("/") + "/" + canonicalize_name(name) + "/"
    page = _fetch(url, timeout)
    if page is None:
        return {}
    content_type, body = page
    return parse_page(content_type, body, name, url)


def _from_find_links(link: str, name: str, timeout: float) -> _Found:
    path = file_url_path(link) if link.startswith("file:") else Path(link)
    try:
        if path.is_dir():
            listed = [(p.name, ReleaseFile(p.name, "find-links directory", str(p))) for p in path.iterdir()]
            return _collect(((filename, False, None, where) for filename, where in listed), name)
    except (OSError, ValueError):  # unreadable, or not a name the file system takes: uv will say why
        return {}
    page = _fetch(link, timeout) if "://" in link else None
    if page is None:
        return {}
    parser = _Anchors(link, origin="find-links page")
    parser.feed(page[1])
    return _collect(parser.files, name)


def releases(name: str, settings: IndexSettings, *, uv: str, timeout: float = 30.0) -> list[Release]:
    """Every version of *name* that the configured index and find-links offer, oldest first."""
    found: _Found = {}
    for link in settings.find_links:
        _add(found, _from_find_links(link, name, timeout))
    if not settings.offline:
        index_url = settings.index_url or default_index_url(uv)
        _add(found, _from_index(index_url, name, timeout))
    return [
        Release(v, y, () if None in specs else tuple(sorted(s for s in specs if s is not None)), tuple(files))
        for v, (y, specs, files) in sorted(found.items())
    ]


_PYTHON_REQUEST = re.compile(r"(?:c?python|py)?[@-]?(\d+(?:\.\d+){0,2})", re.I)


@cache
def python_version(python: str | None) -> Version | None:
    """The version of the Python a sandbox runs: this interpreter's without ``--python``; for ``--python`` a
    version (``3.12``, ``python3.12``, ``cpython@3.12``) read as written, an interpreter path asked; None when
    it cannot be told (then no release is left out for it)."""
    if python is None:
        return Version(".".join(map(str, sys.version_info[:3])))
    found = _PYTHON_REQUEST.fullmatch(python.strip())
    if found:
        try:
            return Version(found.group(1))
        except ValueError:  # a number over 4,300 digits: not a Python uv would find either
            return None
    executable = shutil.which(python) if not os.path.isabs(python) else python
    if not executable or not os.path.isfile(executable):
        return None
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    try:
        done = proc.run([executable, "-I", "-c", code], env={"PATH": os.environ.get("PATH", "")}, timeout=30)
        return Version(done.stdout.strip()) if done.ok else None
    except (OSError, InvalidVersion, EnvironmentProblem):
        return None


def installable(found: list[Release], python: Version | None) -> list[Release]:
    """The releases a sandbox running *python* can install (not yanked, requires-python admits it)."""
    return [r for r in found if not r.yanked and r.admits(python)]


def newest(found: list[Release], *, pre: bool = False, python: Version | None = None) -> Version | None:
    candidates = [r.version for r in installable(found, python) if pre or not r.version.is_prerelease]
    return max(candidates, default=None)


def nearest(found: list[Release], wanted: Version, count: int = 4, *, python: Version | None = None) -> list[Version]:
    """The versions closest to *wanted* on either side, for a "did you mean" hint."""
    versions = sorted(r.version for r in installable(found, python))
    at = bisect.bisect_left(versions, wanted)
    return versions[max(0, at - count // 2) : at + count // 2]


_LOOKALIKE = str.maketrans("lIoO", "1100")  # a letter typed for the digit it looks like


def similar(found: list[Release], text: str, count: int = 3, *, python: Version | None = None) -> list[Version]:
    """The versions a mistyped one (``1.4.6l``, ``v1.4.61x``, ``1.4..61``) most likely meant, best first:
    the version it spells with look-alike letters read as digits, then the closest by spelling."""
    by_text = {str(r.version): r.version for r in installable(found, python)}
    typed = text[1:] if text[:1] in "vV" else text
    out: list[Version] = []
    with contextlib.suppress(ValueError):  # InvalidVersion, or a number over 4,300 digits
        fixed = Version(typed.translate(_LOOKALIKE))
        if str(fixed) in by_text:
            out.append(fixed)
    for match in difflib.get_close_matches(typed, list(by_text), n=count + 1, cutoff=0.6):
        if by_text[match] not in out:
            out.append(by_text[match])
    return out[:count]
