"""The REF grammar: what the user typed after --core-ref, turned into one requirement for uv.

Parsing is pure (``parse``); ``resolve`` asks the index only for the forms that need it (a version must
exist, ``latest`` must be looked up). Nothing here reaches a shell: the result is one PEP 508 line.

A ref that starts like a version but is none (``1.4.6l``, ``v1.4.61x``, ``1.4..61``) and is no hex SHA is a
usage error answered before anything else runs (git above all), with the versions it most likely meant when
an index listing is at hand; so is a word one edit away from a keyword (``lastest``, ``Latest``: "did you mean
latest?"), which would otherwise be fetched as a git branch. ``git_failure`` turns git's output, as uv relays
it, into one line.
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

from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import Source
from contract_check.sources import index
from contract_check.util import fsread
from contract_check.util.proc import redact

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


ReleaseLister = Callable[[], list[index.Release]]


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
    # the SHA-256 of every file uv may install for it (artifacts.plan), which uv is told to verify; () if unknown
    hashes: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        return redact(self.requirement)

    @property
    def local_path(self) -> Path | None:
        """The local file or directory a path ref installs (its ``file:`` URL decoded), else None."""
        target = self.requirement.split(" @ ", 1)[-1]
        return index.file_url_path(target) if self.source is Source.PATH and target.startswith("file:") else None


def is_git_ref_name(name: str) -> bool:
    """Whether *name* is a valid git ref name (the rules of ``git check-ref-format --allow-onelevel``)."""
    if not name or name == "@" or name.startswith(("-", "/")) or name.endswith(("/", ".", ".lock")):
        return False
    if ".." in name or "//" in name or "@{" in name or _GIT_FORBIDDEN.search(name):
        return False
    return all(part and not part.startswith(".") and not part.endswith(".lock") for part in name.split("/"))


def _usage(ref: str, why: str, flag: str = "--core-ref") -> UsageError:
    shown = redact(ref)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return UsageError(f"invalid {flag} {shown!r}: {why}", tip=ACCEPTED_FORMS)


KEYWORDS = ("latest",)  # the words of the grammar; --against adds "pin"


def one_edit_apart(a: str, b: str) -> bool:
    """Whether *a* becomes *b* by one insertion, deletion, substitution or swap of two neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


def near_keyword(ref: str, keywords: tuple[str, ...] = KEYWORDS) -> str | None:
    """The keyword *ref* most likely meant (``lastest``, ``latets``, ``Latest`` -> ``latest``); None for the
    keyword itself and for anything further away."""
    folded = ref.casefold()
    for word in keywords:
        if ref != word and (folded == word or one_edit_apart(folded, word)):
            return word
    return None


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


def _as_version(ref: str, text: str, flag: str = "--core-ref") -> Version | None:
    if not re.fullmatch(r"[vV]?\d[0-9A-Za-z.!+_-]*", text):
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise _usage(ref, "a number in this version is too long (Python reads at most 4,300 digits)", flag) from None


_VERSIONISH = re.compile(r"[vV]?\d")
_HEX_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


def looks_mistyped(ref: str) -> bool:
    """Whether *ref* starts like a version (a digit, or v/V and a digit) but is neither a valid version nor a
    hex SHA of 7+ characters."""
    if not _VERSIONISH.match(ref) or _HEX_SHA.fullmatch(ref):
        return False
    try:
        Version(ref)
    except (InvalidVersion, ValueError):
        return True
    return False


def mistyped(
    ref: str, *, releases: ReleaseLister | None = None, python: Version | None = None, flag: str = "--core-ref"
) -> UsageError:
    """The error for a ref that looks like a mistyped version, naming the index versions it most likely meant
    (when *releases* can list them; a listing that fails only loses the hint)."""
    near: list[Version] = []
    if releases is not None:
        try:
            near = index.similar(releases(), ref, python=python)
        except ContractCheckError:
            near = []
    shown = redact(ref)[:200]
    hint = f" (did you mean {near[0]}? near it on the index: {', '.join(map(str, near))})" if near else ""
    tip = "versions look like 1.4.61, v1.4.61 or 1.5.0rc1"
    if is_git_ref_name(ref):
        tip += f"; a git branch or tag that starts with a digit is written git:{shown}"
    return UsageError(f"invalid {flag} {shown!r}: it starts like a version but is not one{hint}", tip=tip)


_EXTRAS = re.compile(r"^(?P<base>.+?)\[(?P<extras>[A-Za-z0-9._,\s-]*)\]$")


def split_extras(spec: str) -> tuple[str, tuple[str, ...]]:
    """``./store[dev, test]`` -> (``./store``, (``dev``, ``test``)); a spec without extras is returned whole."""
    found = _EXTRAS.match(spec)
    if not found:
        return spec, ()
    extras = tuple(e.strip() for e in found["extras"].split(",") if e.strip())
    return found["base"], extras


def looks_like_path(spec: str) -> bool:
    """Whether a Store spec (or Core ref) is meant as a path: the one answer to "path or requirement?"."""
    base, _ = split_extras(spec)
    if "://" in base:  # "name @ https://host/store.whl" is a direct reference, whatever it ends with
        return False
    return base.startswith((".", "/", "~")) or base.endswith(_ARCHIVES)


def parse(
    ref: str,
    *,
    core_package: str,
    cwd: Path | None = None,
    releases: ReleaseLister | None = None,
    python: Version | None = None,
    flag: str = "--core-ref",
    keywords: tuple[str, ...] = KEYWORDS,
) -> ParsedRef:
    """Classify *ref*; raise UsageError (exit 2) with the accepted forms when it is none of them. *releases*
    and *python* only serve the hint for a mistyped version (``mistyped``); *flag* names the option in errors,
    *keywords* the words a near miss is checked against (``--against`` also takes ``pin``)."""
    if not ref:
        raise _usage(ref, "it is empty", flag)
    if ref.startswith("-"):
        raise _usage(ref, "it starts with '-'", flag)
    hidden = invisible(ref)
    if hidden:
        raise _usage(ref, f"it holds whitespace or control characters, some invisible: {hidden}", flag)
    if ref.strip() != ref or _CONTROL.search(ref) or (" " in ref and " @ " not in ref):
        raise _usage(ref, "it holds whitespace or control characters", flag)
    if ref == "latest":
        return ParsedRef(ref, Source.INDEX, "latest", latest=True)
    if ref.startswith("git:"):
        name = ref[4:]
        if not is_git_ref_name(name):
            raise _usage(ref, f"{name!r} is not a valid git ref name", flag)
        return ParsedRef(ref, Source.GIT, name)
    if "@" in ref and not ref.startswith("@"):
        direct = _direct_reference(ref, core_package, flag)
        if direct is not None:
            return direct
    version = _as_version(ref, ref, flag)
    if version is not None:
        return ParsedRef(ref, Source.INDEX, str(version))
    try:
        given = Path(ref).expanduser()
    except RuntimeError:  # ~user of an unknown user
        given = Path(ref)
    path = (cwd or Path.cwd()) / given
    if path_exists(path) or looks_like_path(ref):
        return _local(ref, path, flag)
    if looks_mistyped(ref):
        raise mistyped(ref, releases=releases, python=python, flag=flag)
    meant = near_keyword(ref, keywords)
    if meant is not None:  # a git branch of that name is still reachable as git:REF
        raise UsageError(
            f"invalid {flag} {redact(ref)!r}: did you mean {meant}?",
            tip=f"{flag} {meant}"
            + (f"; a git branch or tag of that name is written git:{ref}" if is_git_ref_name(ref) else ""),
        )
    if is_git_ref_name(ref):
        return ParsedRef(ref, Source.GIT, ref)
    raise _usage(ref, "it is not a version, a path, a direct reference or a valid git ref name", flag)


def _direct_reference(ref: str, core_package: str, flag: str) -> ParsedRef | None:
    try:
        req = Requirement(ref)
    except InvalidRequirement:
        return None
    if not req.url or "://" not in req.url:
        return None  # "feature@x" is a git ref name, not a requirement with the URL "x"
    if canonicalize_name(req.name) != canonicalize_name(core_package):
        raise _usage(ref, f"it names {req.name!r}, but the Core package is {core_package!r} (see --core-package)", flag)
    if req.marker is not None:  # a marker could exclude the sandbox's Python: no Core would be installed at all
        why = f"it carries an environment marker ({req.marker}); a Core ref is installed unconditionally"
        raise _usage(ref, why, flag)
    return ParsedRef(ref, Source.URL, str(req))


def path_exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system is no path of ours
        return False


def _local(ref: str, path: Path, flag: str = "--core-ref") -> ParsedRef:
    if not path_exists(path):
        raise _usage(ref, f"no such file or directory: {path}", flag)
    fsread.check_regular_or_dir(path, flag)  # a FIFO or a device would hang uv
    path = path.resolve()
    if path.is_dir():
        if not (path / "pyproject.toml").is_file() and not (path / "setup.py").is_file():
            raise _usage(ref, f"{path} is a directory but not a Python project (no pyproject.toml or setup.py)", flag)
    elif not path.name.endswith(_ARCHIVES):
        raise _usage(ref, f"{path} is a file but not a wheel (.whl) or sdist (.tar.gz, .zip)", flag)
    return ParsedRef(ref, Source.PATH, str(path))


def resolve(
    parsed: ParsedRef,
    *,
    core_package: str,
    core_git: str,
    releases: ReleaseLister,
    python: Version | None = None,
    offline: bool = False,
) -> ResolvedRef:
    """Turn a parsed ref into the requirement uv installs, asking the index where the form needs it. *python*
    is the sandbox's Python: ``latest`` and the hints only name releases whose requires-python admit it."""
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
        newest = index.newest(found, python=python)
        if newest is None:
            raise _no_release(core_package, found, python, offline=offline)
        return ResolvedRef(parsed.ref, f"{core_package}=={newest}", Source.INDEX, newest)
    wanted = Version(parsed.target)
    release = next((r for r in found if r.version == wanted), None)
    if found and release is None:
        near = ", ".join(str(v) for v in index.nearest(found, wanted, python=python)) or "none"
        raise EnvironmentProblem(
            f"{core_package} {wanted} is not on the index (nearest: {near})",
            tip=f"check the version, or check an unreleased tag with --core-ref git:v{wanted}",
            kind="ref-not-found",
        )
    if release is not None and not release.admits(python):
        raise EnvironmentProblem(
            f"{core_package} {wanted} requires Python {' or '.join(release.requires_python)}; the sandbox runs "
            f"Python {python}",
            tip="check it with a Python it supports: --python X.Y",
            kind="resolution",
        )
    return ResolvedRef(parsed.ref, f"{core_package}=={wanted}", Source.INDEX, wanted)


def _no_release(
    core_package: str, found: list[index.Release], python: Version | None, *, offline: bool
) -> EnvironmentProblem:
    if index.newest(found) is not None:  # there are releases, none for this Python
        return EnvironmentProblem(
            f"no release of {core_package} supports the sandbox's Python {python} (requires-python of each)",
            tip="check with a Python they support: --python X.Y",
            kind="ref-not-found",
        )
    if offline:  # only --find-links were read: uv's cache holds files, not a listing
        return EnvironmentProblem(
            f"offline, the newest {core_package} cannot be known: only --find-links are listed, and none offers it",
            tip="name a version uv has cached (--core-ref X.Y.Z), give --find-links DIR, or drop --offline",
            kind="ref-not-found",
        )
    return EnvironmentProblem(
        f"the index has no release of {core_package}",
        tip="check --index-url / --find-links and --core-package",
        kind="ref-not-found",
    )


# uv's words for a failed git operation (fetching or finding the revision)
_GIT_OPERATION = re.compile(r"git operation failed|failed to (?:fetch|find) (?:branch|tag|commit)|`\S*git fetch ", re.I)
# git's words (as uv relays them) -> why a git ref could not be fetched; the first that matches wins
_GIT_FAILURES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(
            r"authentication failed|could not read (?:username|password)|terminal prompts disabled|"
            r"permission denied \(publickey|returned error: 40[13]|repository not found|access denied",
            re.I,
        ),
        "the repository refused access (authentication)",
        "auth",
    ),
    (
        re.compile(
            r"could not resolve host|failed to connect|connection refused|connection timed out|timed out after|"
            r"network is unreachable|no route to host|could not read from remote repository|ssl certificate problem|"
            r"unable to access",
            re.I,
        ),
        "the repository could not be reached",
        "network",
    ),
    (
        re.compile(r"does not appear to be a git repository|not a git repository", re.I),
        "there is no git repository at that URL",
        "ref-not-found",
    ),
    (
        re.compile(
            r"couldn't find remote ref|failed to find branch, tag, or commit|unknown revision|not a valid object name|"
            r"did not match any|not our ref|failed to fetch (?:branch or tag|commit)",
            re.I,
        ),
        "the repository has no such branch, tag or commit",
        "ref-not-found",
    ),
)
_TIPS = {
    "auth": "give credentials in --core-git (https://TOKEN@HOST/...; never printed) or set up git's credential "
    "helper; -v shows git's own output",
    "network": "check the network and --core-git; -v shows git's own output",
    "ref-not-found": "check the ref and --core-git (git ls-remote URL lists the refs); -v shows git's own output",
}


def git_failure(resolved: ResolvedRef, output: str) -> EnvironmentProblem | None:
    """One line for a git ref that could not be fetched (unreachable host, unknown ref, authentication), from
    uv's output; None when the output says something else (a build failure keeps its own error)."""
    if resolved.source is not Source.GIT or not _GIT_OPERATION.search(output):
        return None  # uv failed elsewhere (the index, a build): its own error says more
    for pattern, why, kind in _GIT_FAILURES:
        if pattern.search(output):
            fatal = [line.strip() for line in output.splitlines() if line.strip().startswith("fatal:")]
            detail = f" ({fatal[-1][:160]})" if fatal else ""
            where = redact(resolved.git_url or "the Core git repository")
            return EnvironmentProblem(
                redact(f"could not fetch {resolved.git_rev or resolved.ref} from {where}: {why}{detail}"),
                tip=_TIPS[kind],
                kind=kind,
            )
    return None
