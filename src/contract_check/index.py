"""Which versions of a package exist: the index's simple API (PEP 691 JSON, PEP 503 HTML) and --find-links.

uv has no command that lists versions, so the tool asks the index itself. The index URL is never written
here: it comes from the user (flags, uv or pip configuration), else from the default uv reports.
"""

from __future__ import annotations

import base64
import bisect
import http.client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from contract_check import fsread, proc
from contract_check.errors import EnvironmentProblem

_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
PAGE_LIMIT = 64 * fsread.MIB  # a project page of the largest projects on public indexes is a few MiB


@dataclass(frozen=True)
class Release:
    version: Version
    yanked: bool = False


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


def _collect(files: Iterable[tuple[str, bool]], name: str) -> dict[Version, bool]:
    """filename/yanked pairs -> version -> yanked (a version is yanked only if all of its files are)."""
    out: dict[Version, bool] = {}
    for filename, yanked in files:
        version = _version_of(filename, name)
        if version is not None:
            out[version] = out.get(version, True) and yanked
    return out


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, bool]] = []
        self._yanked = False
        self._in_a = False
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            a = dict(attrs)
            self._in_a, self._yanked, self._href = True, "data-yanked" in a, a.get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_a:
            path = urllib.parse.urlsplit(self._href).path
            self.files.append((urllib.parse.unquote(path.rsplit("/", 1)[-1]), self._yanked))
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
            path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
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


def _from_index(index_url: str, name: str, timeout: float) -> dict[Version, bool]:
    url = index_url.rstrip("/") + "/" + canonicalize_name(name) + "/"
    page = _fetch(url, timeout)
    if page is None:
        return {}
    content_type, body = page
    if "json" in content_type:
        try:
            files = [(str(f["filename"]), bool(f.get("yanked"))) for f in json.loads(body).get("files", [])]
        except (ValueError, AttributeError, TypeError, KeyError, RecursionError):  # RecursionError: deep nesting
            raise EnvironmentProblem(
                f"the package index sent a page that is not a PEP 691 project page for {proc.redact(url)}",
                tip="check --index-url: it must be a simple repository API",
                kind="network",
            ) from None
        return _collect(files, name)
    parser = _Anchors()
    parser.feed(body)
    return _collect(parser.files, name)


def _from_find_links(link: str, name: str, timeout: float) -> dict[Version, bool]:
    path = (
        Path(urllib.request.url2pathname(urllib.parse.urlsplit(link).path)) if link.startswith("file:") else Path(link)
    )
    try:
        if path.is_dir():
            return _collect(((p.name, False) for p in path.iterdir()), name)
    except (OSError, ValueError):  # unreadable, or not a name the file system takes: uv will say why
        return {}
    page = _fetch(link, timeout) if "://" in link else None
    if page is None:
        return {}
    parser = _Anchors()
    parser.feed(page[1])
    return _collect(parser.files, name)


def releases(name: str, settings: IndexSettings, *, uv: str, timeout: float = 30.0) -> list[Release]:
    """Every version of *name* that the configured index and find-links offer, oldest first."""
    found: dict[Version, bool] = {}
    for link in settings.find_links:
        for version, yanked in _from_find_links(link, name, timeout).items():
            found[version] = found.get(version, True) and yanked
    if not settings.offline:
        index_url = settings.index_url or default_index_url(uv)
        for version, yanked in _from_index(index_url, name, timeout).items():
            found[version] = found.get(version, True) and yanked
    return [Release(v, y) for v, y in sorted(found.items())]


def newest(found: list[Release], *, pre: bool = False) -> Version | None:
    candidates = [r.version for r in found if not r.yanked and (pre or not r.version.is_prerelease)]
    return max(candidates, default=None)


def nearest(found: list[Release], wanted: Version, count: int = 4) -> list[Version]:
    """The versions closest to *wanted* on either side, for a "did you mean" hint."""
    versions = sorted(r.version for r in found if not r.yanked)
    at = bisect.bisect_left(versions, wanted)
    return versions[max(0, at - count // 2) : at + count // 2]
