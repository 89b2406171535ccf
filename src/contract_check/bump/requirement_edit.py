"""Rewriting one PEP 508 requirement on Core so that its lower bound is a new version, as a text edit.

Only the characters that must change are replaced; spacing, parentheses, extras, markers and the order of
clauses stay as written. NEW is the target version without a local label (``>=`` cannot carry one).

- ``>=X`` -> ``>=NEW``; ``==X`` -> ``==NEW``.
- ``>X`` -> ``>=NEW`` (the new version itself is the one that was checked).
- ``~=X`` with k release segments -> ``~=NEW`` written with k release segments (trailing zeros dropped or
  added), so the series it allows stays the same: ``~=1.4.54`` -> ``~=1.4.61``, ``~=1.4`` and NEW 1.5.0 ->
  ``~=1.5``. When NEW needs more than k segments (``~=1.4`` and NEW 1.4.5) the clause becomes
  ``>=1.4.5,==1.*``: the same series, the new floor.
- ``==X.*`` is kept as the upper bound it is, with ``>=NEW,`` inserted in front.
- Only upper bounds or exclusions (``<2``, ``!=1.4.58``): ``>=NEW,`` inserted in front of the first clause.
- No specifier at all: ``>=NEW`` right after the name (and extras).
- ``===X``: refused (arbitrary equality cannot be moved safely). Two lower bounds (``>=1,>1.2``): refused
  (which one to move would be a guess).
- NEW below the current lower bound (``>=1.4.54`` and NEW 1.2.0; ``>1.4.54`` and NEW 1.4.54): refused, naming
  the bound (bump raises a pin; lowering one is a decision made by hand).
- A version specifier when the caller says NEW is not published (*unpublished*, the reason): refused; a pin
  nobody can install from the index helps nobody.
- ``name @ git+URL@REF``: the ``@REF`` of the URL is replaced by the given git ref (appended when the URL
  names none) and, with *git_url*, the repository by the one that was checked (unless it is the same one,
  credentials aside); the ``#subdirectory=``-style fragment stays. Without a git ref: refused. Any other URL
  (a file or archive): refused.

NEW must be admitted by every clause that is kept (and by the series of a ``~=``); otherwise the edit is
refused, naming the clause: a target at or above the declared upper bound needs a deliberate, reviewed
change of that bound. A git ref given for a line that pins a version is not used (the version is).
Every refusal is a ``UsageError``; the result is checked by parsing it again (same name, extras, marker
and the expected specifier set or URL).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import Version

from contract_check.errors import UsageError

_HEAD = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(\s*\[[^\]]*\])?")
_CLAUSE = re.compile(r"(===|~=|==|!=|<=|>=|<|>)(\s*)([^\s,;()]+)")
_GIT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")
_LOWER_OPS = (">=", ">", "~=", "===")


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def rewrite(
    text: str,
    version: Version,
    git_ref: str | None,
    where: str,
    *,
    git_url: str | None = None,
    unpublished: str | None = None,
) -> str:
    """*text* (one requirement on Core) with its lower bound moved to *version*, or its git ref to *git_ref*
    (and its repository to *git_url*)."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"{where}: {text!r} is not a valid requirement ({exc})", tip=_BY_HAND) from None
    if req.url is not None:
        return _rewrite_url(text, req, git_ref, where, git_url)
    head = _HEAD.match(text)
    if head is None:  # pragma: no cover - Requirement() accepted it, so it starts with a name
        raise UsageError(f"{where}: cannot find the name in {text!r}", tip=_BY_HAND)
    region_end = text.find(";", head.end())
    region_end = len(text) if region_end < 0 else region_end
    clauses = list(_CLAUSE.finditer(text, head.end(), region_end))
    leftover = _CLAUSE.sub("", text[head.end() : region_end])
    if leftover.strip(" \t,()"):
        raise UsageError(f"{where}: cannot read the version specifier of {text!r}", tip=_BY_HAND)
    new = Version(version.public)
    lowers = [c for c in clauses if c.group(1) in _LOWER_OPS or (c.group(1) == "==" and not c.group(3).endswith(".*"))]
    if any(c.group(1) == "===" for c in lowers):
        raise UsageError(f"{where}: {text!r} uses arbitrary equality (===), which bump does not move", tip=_BY_HAND)
    if len(lowers) > 1:
        raise UsageError(
            f"{where}: {text!r} has more than one lower bound ({', '.join(c.group(0) for c in lowers)})",
            tip=_BY_HAND,
        )
    if lowers:
        _not_lower(lowers[0], new, text, where)
    kept = [c.group(1) + c.group(3) for c in clauses if c not in lowers]
    series = _series(lowers[0]) if lowers and lowers[0].group(1) == "~=" else None
    for clause in [*kept, *([series] if series else [])]:
        if not Specifier(clause).contains(new, prereleases=True):
            raise UsageError(
                f"{where}: {new} is not admitted by {clause!r} in {text!r}",
                tip="a target at or above the declared upper bound needs a reviewed change of that bound; "
                "edit it by hand first",
            )
    edit, new_lower = _lower_edit(lowers[0] if lowers else None, clauses, head.end(), new)
    result = text[: edit.start] + edit.text + text[edit.end :]
    _verify(text, result, where, SpecifierSet(",".join([*kept, *new_lower])), None)
    if unpublished is not None and result != text:
        raise UsageError(
            f"{where}: {text!r} is a version specifier, and {unpublished}: nobody could install that pin",
            tip="check a release the index serves, or pass --allow-unpublished to write it anyway",
        )
    return result


_BY_HAND = "edit this requirement by hand, or simplify it to e.g. 'market-data-core>=1.4.55,<2.0.0'"


def _not_lower(lower: re.Match[str], new: Version, text: str, where: str) -> None:
    op, bound = lower.group(1), Version(lower.group(3))
    if new < bound or (op == ">" and new == bound):
        raise UsageError(
            f"{where}: {new} is below the current lower bound ({op}{lower.group(3)}) of {text!r}; bump only "
            "raises the pin",
            tip="to lower it on purpose, edit the requirement by hand",
        )


def _series(clause: re.Match[str]) -> str:
    """The upper half of ``~=X`` as a prefix match: ``~=1.4.54`` -> ``==1.4.*``."""
    old = Version(clause.group(3))
    epoch = f"{old.epoch}!" if old.epoch else ""
    return "==" + epoch + ".".join(str(p) for p in old.release[:-1]) + ".*"


def _lower_edit(
    lower: re.Match[str] | None, clauses: list[re.Match[str]], head_end: int, new: Version
) -> tuple[_Edit, list[str]]:
    """The edit that sets the lower bound, and the clauses it leaves in place of the old one."""
    if lower is None:
        if clauses:
            return _Edit(clauses[0].start(), clauses[0].start(), f">={new},"), [f">={new}"]
        return _Edit(head_end, head_end, f">={new}"), [f">={new}"]
    op, version_start, version_end = lower.group(1), lower.start(3), lower.end(3)
    if op in (">=", "=="):
        return _Edit(version_start, version_end, str(new)), [f"{op}{new}"]
    if op == ">":
        return _Edit(lower.start(1), version_end, ">=" + lower.group(2) + str(new)), [f">={new}"]
    # ~=: the same number of release segments keeps the same series
    segments = len(Version(lower.group(3)).release)
    release = list(new.release)
    while len(release) > segments and release[-1] == 0:
        release.pop()
    release += [0] * (segments - len(release))
    if len(release) == segments:
        text = _with_release(new, release)
        return _Edit(version_start, version_end, text), [f"~={text}"]
    series = _series(lower)
    return _Edit(lower.start(1), version_end, f">={new},{series}"), [f">={new}", series]


def _with_release(version: Version, release: list[int]) -> str:
    text = (f"{version.epoch}!" if version.epoch else "") + ".".join(str(p) for p in release)
    if version.pre:
        text += f"{version.pre[0]}{version.pre[1]}"
    if version.post is not None:
        text += f".post{version.post}"
    if version.dev is not None:
        text += f".dev{version.dev}"
    return text


def _rewrite_url(text: str, req: Requirement, git_ref: str | None, where: str, git_url: str | None) -> str:
    url = req.url or ""
    if not url.startswith("git+"):
        raise UsageError(
            f"{where}: {text!r} points at a file or archive, not a git repository; bump cannot move it",
            tip="replace the URL by hand, or depend on a version range",
        )
    if git_ref is None:
        raise UsageError(
            f"{where}: {text!r} is a git direct reference; bump needs the git ref to pin",
            tip="give the target as a git ref (e.g. --core-ref git:v1.4.61)",
        )
    if not _GIT_REF.fullmatch(git_ref) or ".." in git_ref:
        raise UsageError(f"git ref {git_ref[:100]!r} cannot be written into a URL safely", tip="give a tag or SHA")
    at_url = text.find(url)
    path_start = url.find("/", url.find("://") + 3) if "://" in url else -1
    if at_url < 0 or text.find(url, at_url + 1) >= 0 or path_start < 0:
        raise UsageError(f"{where}: cannot locate the repository path in {text!r}", tip=_BY_HAND)
    path_end = min([i for i in (url.find("?", path_start), url.find("#", path_start)) if i >= 0] or [len(url)])
    at = url.rfind("@", path_start, path_end)
    repository = url[: at if at >= 0 else path_end]
    if git_url is not None and not same_repository(repository, git_url):
        repository = "git+" + without_credentials(git_url.removeprefix("git+"))
    new_url = repository + "@" + git_ref + url[path_end:]
    result = text[:at_url] + new_url + text[at_url + len(url) :]
    _verify(text, result, where, SpecifierSet(), new_url)
    return result


def without_credentials(url: str) -> str:
    """*url* without a password or token (``https://TOKEN@host/x`` -> ``https://host/x``); an ssh user such as
    ``git@`` is not a credential and stays."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    userinfo, _, host = parts.netloc.rpartition("@")
    if ":" in userinfo:  # user:password@ in any other scheme: the user stays
        return urllib.parse.urlunsplit(parts._replace(netloc=userinfo.split(":", 1)[0] + "@" + host))
    return url


def same_repository(a: str, b: str) -> bool:
    """Whether two git URLs name the same repository: scheme, host, port and path (a trailing ``.git`` or
    ``/`` aside), credentials ignored."""

    def key(url: str) -> tuple[str, str, str]:
        parts = urllib.parse.urlsplit(without_credentials(url.removeprefix("git+")))
        host = parts.netloc.rsplit("@", 1)[-1].lower()
        return parts.scheme.lower(), host, parts.path.rstrip("/").removesuffix(".git")

    return key(a) == key(b)


def _verify(old_text: str, new_text: str, where: str, specifier: SpecifierSet, url: str | None) -> None:
    """The rewritten requirement parses, and differs from the old one only in the specifier or the URL."""
    old = Requirement(old_text)
    try:
        new = Requirement(new_text)
    except InvalidRequirement:
        new = None
    same = new is not None and (new.name, new.extras, str(new.marker)) == (old.name, old.extras, str(old.marker))
    if not (same and new is not None and new.url == url and new.specifier == specifier):
        raise UsageError(f"{where}: cannot rewrite {old_text!r} safely (got {new_text!r})", tip=_BY_HAND)
