"""The REF grammar: what the user typed after --core-ref, turned into one requirement for uv.

Parsing is pure (``parse``); ``resolve`` asks the index only for the forms that need it (a version must
exist, ``latest`` must be looked up). Nothing here reaches a shell: the result is one PEP 508 line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from contract_check import fsread, index
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import Source
from contract_check.proc import redact

ACCEPTED_FORMS = """accepted --core-ref forms:
  1.4.55, v1.4.55, 1.5.0rc1    a version from the package index
  latest                       the newest release on the index
  git:REF                      a tag, branch or commit of the Core git repository (--core-git)
  main, feature/x, a1b2c3d     any other valid git ref name, as git:REF
  ./core, dist/core.whl        a local directory, wheel (.whl) or sdist (.tar.gz, .zip)
  'NAME @ URL'                 a PEP 508 direct reference"""

_ARCHIVES = (".whl", ".tar.gz", ".zip")
# whitespace other than a plain space, and C0/C1 controls (a space may only appear in "NAME @ URL")
_CONTROL = re.compile(r"[^\S ]|[\x00-\x1f\x7f-\x9f]")
_GIT_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# controls, format characters (RTL marks, zero-width spaces, the BOM), separators other than a plain space,
# private-use and surrogate code points: invisible or meaningless in a ref, so each is named in the error
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"}
_CONTROL_NAMES = {"\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\x00": "NUL", "\x1b": "ESCAPE"}


@dataclass(frozen=True)
class ParsedRef:
    ref: str
    source: Source
    target: str  # version text, "latest", git ref, absolute path, or the requirement as given
    latest: bool = False


@dataclass(frozen=True)
class ResolvedRef:
    ref: str
    requirement: str  # the PEP 508 line written to uv's overrides file
    source: Source
    version: Version | None = None  # known up front for index refs
    git_url: str | None = None  # for git refs: the repository (without "git+") and the revision, as given
    git_rev: str | None = None

    @property
    def display(self) -> str:
        return redact(self.requirement)


def is_git_ref_name(name: str) -> bool:
    """Whether *name* is a valid git ref name (the rules of ``git check-ref-format --allow-onelevel``)."""
    if not name or name == "@" or name.startswith(("-", "/")) or name.endswith(("/", ".", ".lock")):
        return False
    if ".." in name or "//" in name or "@{" in name or _GIT_FORBIDDEN.search(name):
        return False
    return all(part and not part.startswith(".") and not part.endswith(".lock") for part in name.split("/"))


def _usage(ref: str, why: str) -> UsageError:
    shown = redact(ref)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return UsageError(f"invalid --core-ref {shown!r}: {why}", tip=ACCEPTED_FORMS)


def invisible(text: str) -> str | None:
    """The first character of *text* that cannot be seen or typed as meant, described ("U+200F
    RIGHT-TO-LEFT MARK at position 1"); None when there is none. A plain space is not one of them."""
    for position, char in enumerate(text, 1):
        category = unicodedata.category(char)
        if char != " " and category in _INVISIBLE:
            if category == "Cs":  # how Python holds a byte of the command line that was not UTF-8
                return f"a byte that is not valid UTF-8 at position {position}"
            name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "CONTROL CHARACTER")
            return f"U+{ord(char):04X} {name}".strip() + f" at position {position}"
    return None


def _as_version(ref: str, text: str) -> Version | None:
    if not re.fullmatch(r"[vV]?\d[0-9A-Za-z.!+_-]*", text):
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise _usage(ref, "a number in this version is too long (Python reads at most 4,300 digits)") from None


def parse(ref: str, *, core_package: str, cwd: Path | None = None) -> ParsedRef:
    """Classify *ref*; raise UsageError (exit 2) with the accepted forms when it is none of them."""
    if not ref:
        raise _usage(ref, "it is empty")
    if ref.startswith("-"):
        raise _usage(ref, "it starts with '-'")
    hidden = invisible(ref)
    if hidden:
        raise _usage(ref, f"it holds whitespace or control characters, some invisible: {hidden}")
    if ref.strip() != ref or _CONTROL.search(ref) or (" " in ref and " @ " not in ref):
        raise _usage(ref, "it holds whitespace or control characters")
    if ref == "latest":
        return ParsedRef(ref, Source.INDEX, "latest", latest=True)
    if ref.startswith("git:"):
        name = ref[4:]
        if not is_git_ref_name(name):
            raise _usage(ref, f"{name!r} is not a valid git ref name")
        return ParsedRef(ref, Source.GIT, name)
    if "@" in ref and not ref.startswith("@"):
        direct = _direct_reference(ref, core_package)
        if direct is not None:
            return direct
    version = _as_version(ref, ref)
    if version is not None:
        return ParsedRef(ref, Source.INDEX, str(version))
    try:
        given = Path(ref).expanduser()
    except RuntimeError:  # ~user of an unknown user
        given = Path(ref)
    path = (cwd or Path.cwd()) / given
    if path_exists(path) or ref.endswith(_ARCHIVES) or ref.startswith(("./", "../", "/", "~")):
        return _local(ref, path)
    if is_git_ref_name(ref):
        return ParsedRef(ref, Source.GIT, ref)
    raise _usage(ref, "it is not a version, a path, a direct reference or a valid git ref name")


def _direct_reference(ref: str, core_package: str) -> ParsedRef | None:
    try:
        req = Requirement(ref)
    except InvalidRequirement:
        return None
    if not req.url or "://" not in req.url:
        return None  # "feature@x" is a git ref name, not a requirement with the URL "x"
    if canonicalize_name(req.name) != canonicalize_name(core_package):
        raise _usage(ref, f"it names {req.name!r}, but the Core package is {core_package!r} (see --core-package)")
    if req.marker is not None:  # a marker could exclude the sandbox's Python: no Core would be installed at all
        raise _usage(ref, f"it carries an environment marker ({req.marker}); a Core ref is installed unconditionally")
    return ParsedRef(ref, Source.URL, str(req))


def path_exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system is no path of ours
        return False


def _local(ref: str, path: Path) -> ParsedRef:
    if not path_exists(path):
        raise _usage(ref, f"no such file or directory: {path}")
    fsread.check_regular_or_dir(path, "--core-ref")  # a FIFO or a device would hang uv
    path = path.resolve()
    if path.is_dir():
        if not (path / "pyproject.toml").is_file() and not (path / "setup.py").is_file():
            raise _usage(ref, f"{path} is a directory but not a Python project (no pyproject.toml or setup.py)")
    elif not path.name.endswith(_ARCHIVES):
        raise _usage(ref, f"{path} is a file but not a wheel (.whl) or sdist (.tar.gz, .zip)")
    return ParsedRef(ref, Source.PATH, str(path))


ReleaseLister = Callable[[], list[index.Release]]


def resolve(parsed: ParsedRef, *, core_package: str, core_git: str, releases: ReleaseLister) -> ResolvedRef:
    """Turn a parsed ref into the requirement uv installs, asking the index where the form needs it."""
    if parsed.source is Source.GIT:
        if not core_git:
            raise UsageError(
                f"--core-ref {redact(parsed.ref)!r} is a git ref, but no Core git repository is known",
                tip="give --core-git URL (or core-git in suite.toml or [tool.contract-check])",
            )
        url = core_git if core_git.startswith("git+") else f"git+{core_git}"
        # uv splits the revision off at the last "@" and decodes it: a ref holding "@", "#" or "%" is encoded
        rev = parsed.target.replace("%", "%25").replace("@", "%40").replace("#", "%23")
        requirement = f"{core_package} @ {url}@{rev}"
        return ResolvedRef(parsed.ref, requirement, Source.GIT, git_url=url.removeprefix("git+"), git_rev=parsed.target)
    if parsed.source is Source.PATH:
        return ResolvedRef(parsed.ref, f"{core_package} @ {Path(parsed.target).as_uri()}", Source.PATH)
    if parsed.source is Source.URL:
        return ResolvedRef(parsed.ref, parsed.target, Source.URL)
    found = releases()
    if parsed.latest:
        newest = index.newest(found)
        if newest is None:
            raise EnvironmentProblem(
                f"the index has no release of {core_package}",
                tip="check --index-url / --find-links and --core-package",
                kind="ref-not-found",
            )
        return ResolvedRef(parsed.ref, f"{core_package}=={newest}", Source.INDEX, newest)
    wanted = Version(parsed.target)
    if found and wanted not in {r.version for r in found}:
        near = ", ".join(str(v) for v in index.nearest(found, wanted)) or "none"
        raise EnvironmentProblem(
            f"{core_package} {wanted} is not on the index (nearest: {near})",
            tip=f"check the version, or check an unreleased tag with --core-ref git:v{wanted}",
            kind="ref-not-found",
        )
    return ResolvedRef(parsed.ref, f"{core_package}=={wanted}", Source.INDEX, wanted)
