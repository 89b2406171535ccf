"""Settings: command-line flags over ``[tool.contract-check]`` in the Store's pyproject.toml over defaults."""

from __future__ import annotations

import math
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import contract_check.suite as suites
from contract_check.config import project_root
from contract_check.errors import UsageError
from contract_check.sources import refs
from contract_check.sources.index import IndexSettings
from contract_check.util import fsread
from contract_check.util.proc import redact
from contract_check.verdict import accept

DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 7 * 24 * 3600.0  # a week; far larger values overflow time arithmetic and the OS's wait calls
PYPROJECT_LIMIT = 4 * fsread.MIB

GIT_URL_FORMS = """accepted --core-git forms (each may start with git+, as in git+https://):
  https://HOST/PATH              e.g. https://HOST/OWNER/REPO.git, or https://USER:TOKEN@HOST/...
  ssh://[USER@]HOST[:PORT]/PATH  write USER@HOST:OWNER/REPO.git as ssh://USER@HOST/OWNER/REPO.git
  git://HOST/PATH
  file:///PATH                   a repository on this machine"""
_GIT_SCHEMES = {"https", "ssh", "git", "file"}
_SCP_LIKE = re.compile(r"[^/:@]+@[^/:]+:.*")
# option -> the flag that sets it (for messages); the rest are "--" + the name with dashes
_FLAG_NAMES = {"core_refs": "--core-ref", "contracts": "--contracts", "find_links": "--find-links", "with_": "--with"}

# the user's uv/pip configuration of the index, first wins; the sandbox scrubs these, so they are read here
# and passed to uv explicitly (IndexSettings.uv_args)
_INDEX_ENV = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")
_PROJECT_NAME = re.compile(r"[A-Z0-9]([A-Z0-9._-]*[A-Z0-9])?", re.IGNORECASE)  # PEP 508 names
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list of strings",
}


def split_refs(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Core refs as given (repeated and/or comma-separated); a PEP 508 direct reference is never split."""
    out: list[str] = []
    for value in values:
        out += value.split(",") if "," in value and " @ " not in value else [value]
    return tuple(out)


# key in [tool.contract-check] -> (attribute, accepted python types)
_CONFIG_KEYS: dict[str, tuple[str, tuple[type, ...]]] = {
    "core-package": ("core_package", (str,)),
    "core-git": ("core_git", (str,)),
    "store": ("store", (str,)),
    "contracts": ("contracts", (list,)),
    "python": ("python", (str,)),
    "timeout": ("timeout", (int, float)),
    "index-url": ("index_url", (str,)),
    "find-links": ("find_links", (list,)),
    "strict": ("strict", (bool,)),
    "jobs": ("jobs", (int,)),
    # which Core refs a bare `contract-check` checks; any of --core-ref/--core-range/--since-pin replaces all three
    "core-ref": ("core_refs", (list, str)),
    "core-range": ("core_range", (str,)),
    "since-pin": ("since_pin", (bool,)),
    "suite": ("suite", (str,)),  # a suite directory replacing the built-in one
    "golden": ("golden", (str,)),  # the golden directory checks read and `snapshot` writes
    "with": ("with_", (list,)),  # extra requirements installed into the sandbox (test dependencies)
    "store-extras": ("store_extras", (list,)),  # extras of the Store to install (e.g. ["dev"])
    "against": ("against", (str,)),  # the baseline: a Core ref checked live (or "pin"), instead of the golden
    "accept": ("acceptances", (list,)),  # [[tool.contract-check.accept]]: known breaks accepted until a date
}
# the options that choose which Core refs to check: given on the command line, they replace the configured choice
_REF_SELECTION = ("core_refs", "core_range", "since_pin")


def cache_root() -> Path:
    """Where shared environments, built Store wheels and results are kept: ``$CONTRACT_CHECK_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/contract-check``, else ``~/.cache/contract-check``; absolute (a relative value means the
    current directory's: children run elsewhere, and a wheel's ``file:`` URL must be absolute), ``~`` expanded.
    What the tool may write and delete there: ``cachedir``."""
    explicit = os.environ.get("CONTRACT_CHECK_CACHE_DIR")
    if explicit:
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(os.path.abspath(os.path.expanduser(xdg) if xdg else Path.home() / ".cache")) / "contract-check"


@dataclass(frozen=True)
class Options:
    """Every setting of one invocation; ``build`` fills the Core's name, git URL and default Store from the suite."""

    core_refs: tuple[str, ...] = ()
    store: str | None = None
    core_package: str = ""
    core_git: str = ""
    store_package: str | None = None  # the Store checked when there is no --store and no project at hand
    suite: Path | None = None  # None: the built-in suite
    golden: Path | None = None  # None: the suite's golden/
    with_: tuple[str, ...] = ()
    store_extras: tuple[str, ...] = ()
    against: str | None = None  # a Core ref (or "pin") whose live schemas are the baseline instead of the golden
    acceptances: tuple[accept.Acceptance, ...] = ()  # from [tool.contract-check] and --accept FILE, in that order
    accept_file: Path | None = None
    contracts: tuple[Path, ...] = ()
    python: str | None = None
    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    offline: bool = False
    strict: bool = False
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout: float = DEFAULT_TIMEOUT
    keep_venv: bool = False
    no_cache: bool = False
    core_range: str | None = None
    pre: bool = False
    since_pin: bool = False
    verbose: int = 0

    @property
    def index(self) -> IndexSettings:
        return IndexSettings(self.index_url, self.find_links, self.offline)


def read_pyproject(project: Path) -> dict[str, Any] | None:
    """The parsed pyproject.toml of *project*, None if there is none; a broken file is a usage error.

    Only a regular file is read, at most ``PYPROJECT_LIMIT`` bytes, and the tables this tool reads
    (``[project]`` with its name and dependencies, ``[tool]``) must have the types PEP 621 gives them.
    """
    path = project / "pyproject.toml"
    if fsread.kind_of(path) is None:
        return None
    tip = "fix the file or pass --store"
    try:
        data = tomllib.loads(fsread.read_text(path, limit=PYPROJECT_LIMIT, what="the project file"))
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, an integer of more than 4,300 digits
        raise UsageError(f"{path} is not valid TOML: {exc}", tip=tip) from None
    except RecursionError:
        raise UsageError(f"{path} is not usable: its arrays or tables are nested too deeply", tip=tip) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", tip=tip) from None
    _check_shape(data, path)
    return data


def _check_shape(data: dict[str, Any], path: Path) -> None:
    def wrong(key: str, wanted: str, value: Any) -> UsageError:
        return UsageError(
            f"{key} in {path} must be {wanted}, not {type(value).__name__}",
            tip="fix the file: see the pyproject.toml specification (PEP 621)",
        )

    project, tool = data.get("project"), data.get("tool")
    if project is not None:
        if not isinstance(project, dict):
            raise wrong("project", "a table ([project])", project)
        name, dependencies = project.get("name"), project.get("dependencies")
        if name is not None and not isinstance(name, str):
            raise wrong("[project] name", "a string", name)
        if dependencies is not None and not (
            isinstance(dependencies, list) and all(isinstance(d, str) for d in dependencies)
        ):
            raise wrong("[project] dependencies", "a list of strings", dependencies)
    if tool is not None and not isinstance(tool, dict):
        raise wrong("tool", "a table ([tool])", tool)


def tool_table(
    pyproject: dict[str, Any] | None, where: Path, *, subjects: accept.Subjects | None = None
) -> dict[str, Any]:
    """``[tool.contract-check]``, validated, as Options keyword arguments, relative paths made absolute.
    *subjects*: the active suite's, for the example an acceptance error shows."""
    tool = (pyproject or {}).get("tool") or {}
    table = tool.get("contract-check", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise UsageError(f"[tool.contract-check] in {where / 'pyproject.toml'} must be a table")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _CONFIG_KEYS:
            raise UsageError(
                f"unknown key {key!r} in [tool.contract-check] of {where / 'pyproject.toml'}",
                tip="known keys: " + ", ".join(sorted(_CONFIG_KEYS)),
            )
        attr, types = _CONFIG_KEYS[key]
        if attr == "acceptances":  # tables, not strings: validated entry by entry, each named in a mistake
            out[attr] = tuple(accept.parse_entries(value, accept.PYPROJECT_ORIGIN, subjects=subjects))
            continue
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and isinstance(value, list):
            ok = all(isinstance(v, str) for v in value)
        if not ok:
            wanted = "a number" if float in types else " or ".join(_TYPE_NAMES[t] for t in types)
            raise UsageError(
                f"[tool.contract-check] {key} in {where / 'pyproject.toml'} must be {wanted}, "
                f"not {type(value).__name__} {value!r}"
            )
        what = f"[tool.contract-check] {key}"
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, what)
        if attr == "core_refs":
            value = tuple(r.strip() for r in split_refs([value] if isinstance(value, str) else value) if r.strip())
        elif attr == "contracts":
            value = tuple(_local_path(where, v, what) for v in value)
        elif attr == "find_links":
            value = tuple(str(_local_path(where, v, what)) if not _is_url(v) else v for v in value)
        elif attr in ("suite", "golden"):
            value = _local_path(where, value, what)
        elif attr in ("with_", "store_extras"):
            value = tuple(value)
        elif attr == "store" and refs.looks_like_path(value):
            value = str(_local_path(where, value, what))
        out[attr] = value
    return out


def _local_path(base: Path, text: str | Path, what: str) -> Path:
    """*text* as an absolute path (``~`` expanded, relative to *base*); an unusable one is a usage error."""
    try:
        return (base / Path(text).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # ~nobody, a NUL byte, a name too long
        raise UsageError(f"{what} {str(text)[:200]!r} is not a usable path: {exc}") from None


def _is_url(text: str) -> bool:
    return "://" in text


def declared_specifier(requirements: list[Any], package: str, *, skip_marked: bool = False) -> str | None:
    """The specifier *requirements* (PEP 508 lines) put on *package* ("" for any version); None if none names it.

    *skip_marked*: ignore lines with a marker (a wheel's Requires-Dist lists its extras that way).
    """
    for line in requirements:
        try:
            req = Requirement(line)
        except (InvalidRequirement, TypeError):
            continue
        if skip_marked and req.marker:
            continue
        if canonicalize_name(req.name) == canonicalize_name(package) and versions_usable(req.specifier):
            return str(req.specifier)
    return None


def versions_usable(spec: SpecifierSet) -> bool:
    """Whether every version in *spec* can be compared (one of 5,000 digits cannot: Python caps int parsing)."""
    try:
        for item in spec:
            if item.operator != "===":
                Version(item.version.removesuffix(".*"))
    except ValueError:  # InvalidVersion, or "Exceeds the limit (4300 digits) for integer string conversion"
        return False
    return True


def check_text(value: str, what: str) -> None:
    """UsageError for text no file name, URL or requirement may hold: a NUL byte, or bytes that were not
    UTF-8 (the command line holds them as lone surrogates)."""
    if "\x00" in value:
        raise UsageError(f"{what} {shown(value)} holds a NUL byte", tip="remove it")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise UsageError(
            f"{what} {shown(value)} holds bytes that are not valid UTF-8",
            tip="give the value as UTF-8 text (check the encoding of the terminal or the script)",
        )


def shown(value: str) -> str:
    """*value* as quoted in a message: redacted, cut at 200 characters, escapes visible."""
    text = redact(value)
    return repr(text if len(text) <= 200 else text[:200] + "...")


def check_git_url(url: str, what: str = "--core-git") -> None:
    """UsageError unless *url* is a git URL of an accepted scheme that no program can read as an option.

    Accepted: https, ssh, git and file URLs, each with or without ``git+``. Refused: a leading ``-`` (git
    reads it as an option, and ``--upload-pack=CMD`` runs CMD); other schemes and transports (``ext::``
    runs a command too); the scp-like ``user@host:path``, which means ``ssh://user@host/path`` and is asked
    for in that spelling, the one uv understands; a host or user starting with ``-`` (an ssh option);
    whitespace and control characters (a new line would start a new line in uv's overrides file); and a
    query or fragment (uv would read the ``@REF`` appended after it as part of them).
    """

    def bad(why: str) -> UsageError:
        return UsageError(f"{what} {shown(url)} {why}", tip=GIT_URL_FORMS)

    check_text(url, what)
    if url.startswith("-"):
        raise bad("starts with '-', so git would read it as an option")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in url):
        raise bad("holds whitespace or control characters")
    bare = url.removeprefix("git+")
    scheme, sep, _ = bare.partition("://")
    if not sep or scheme.lower() not in _GIT_SCHEMES:
        if not sep and _SCP_LIKE.fullmatch(bare):
            raise bad("is an scp-like address: write it as ssh://USER@HOST/PATH")
        raise bad("is not a git URL of an accepted scheme")
    if "?" in bare or "#" in bare:
        raise bad("has a query or fragment ('?' or '#'), which a repository URL does not need")
    try:
        parts = urllib.parse.urlsplit(bare)
        port = parts.port
    except ValueError as exc:  # a bad IPv6 literal or port number
        raise bad(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise bad("must name an absolute path on this machine (file:///PATH)")
        return
    host, user = parts.hostname or "", parts.username or ""
    if not host or host.startswith("-") or user.startswith("-"):
        raise bad("has no host, or a host or user name that starts with '-'")
    if port is None and parts.netloc.endswith(":"):
        raise bad("has an empty port")


def _seconds(value: float) -> float:
    """A --timeout value as float seconds: positive, finite, at most ``MAX_TIMEOUT``; else a usage error."""
    huge = False
    try:
        seconds = float(value)
    except OverflowError:  # an integer of hundreds of digits, from the config file
        seconds, huge = (math.inf if value > 0 else -math.inf), True
    if not (seconds > 0 and (math.isfinite(seconds) or huge)):
        raise UsageError(f"--timeout must be a positive number of seconds, not {seconds:g}")
    if seconds > MAX_TIMEOUT:
        raise UsageError(
            f"--timeout must be at most {MAX_TIMEOUT:g} seconds (a week), not "
            + (f"{seconds:g}" if math.isfinite(seconds) else "a number that large"),
            tip="the timeout is per phase (install, contracts); a phase that runs longer has hung",
        )
    return seconds


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def check_range(text: str) -> None:
    """UsageError unless *text* is a version specifier whose versions can be compared."""
    try:
        usable = versions_usable(SpecifierSet(text))
    except InvalidSpecifier:
        usable = False
    if not usable:
        raise UsageError(f"--core-range {shown(text)} is not a usable version specifier", tip="e.g. '>=1.4,<2'")


def _no_option(value: str | None, what: str) -> None:
    """A value passed to uv as an argument must not read as an option."""
    if value and value.startswith("-"):
        raise UsageError(
            f"{what} {shown(value)} starts with '-', so it would be read as an option",
            tip="give a path (./-name for a file whose name starts with '-'), a URL or a version",
        )


def depends_on(pyproject: dict[str, Any] | None, package: str) -> str | None:
    """The specifier declared on *package* ("" for any version); None if it does not depend on it."""
    return declared_specifier(((pyproject or {}).get("project") or {}).get("dependencies") or [], package)


def _suite_subjects(flags: dict[str, Any], pyproject: dict[str, Any] | None, cwd: Path) -> accept.Subjects:
    """The subjects of the suite this invocation uses (``--suite``, else the config's ``suite``, else the
    built-in), read only when asked: an acceptance error's example names one of them."""

    def subjects() -> list[str]:
        table = ((pyproject or {}).get("tool") or {}).get("contract-check") or {}
        given = flags.get("suite") or (table.get("suite") if isinstance(table, dict) else None)
        if given is not None and not isinstance(given, str | Path):
            return []
        chosen = suites.load(_local_path(cwd, given, "--suite")) if given else suites.builtin()
        return list(chosen.subjects)

    return subjects


def build(flags: dict[str, Any], cwd: Path, *, environ: Mapping[str, str] | None = None) -> Options:
    """Options from the flags the user gave (None = not given) over the config of the project *cwd* is in
    (``project_root.enclosing``; its relative paths are relative to that project, the flags' to *cwd*).

    Without an index URL from either, the one the user configured for uv or pip (``UV_DEFAULT_INDEX``,
    ``UV_INDEX_URL``, ``PIP_INDEX_URL``) is used; without that, uv's own default. The refs to check are chosen
    as a whole: any of ``--core-ref``/``--core-range``/``--since-pin`` replaces ``core-ref``/``core-range``/
    ``since-pin`` of the config (a configured ``since-pin`` does not add to the refs given on the command line).
    """
    enclosing = project_root.enclosing(cwd)
    project = enclosing or cwd
    pyproject = read_pyproject(project)
    subjects = _suite_subjects(flags, pyproject, project)
    merged: dict[str, Any] = tool_table(pyproject, project, subjects=subjects)
    if enclosing is not None and enclosing != cwd.resolve() and "core_refs" in merged:  # a relative path: in it
        merged["core_refs"] = tuple(
            project_root.relative(project / r, cwd) if refs.looks_like_path(r) and r[0] not in "/~" else r
            for r in merged["core_refs"]
        )
    # a blank range (an unset CI variable: --core-range "$RANGE") means no range, as '' always did
    blank = [f"--core-range {flags['core_range']!r}"] if _blank(flags.get("core_range")) else []
    flags = {**flags, "core_range": None} if blank else flags
    if _blank(merged.get("core_range")):
        blank.append(f"[tool.contract-check] core-range {merged.pop('core_range')!r}")
    if any(flags.get(k) for k in _REF_SELECTION):  # flags win over the configured choice of refs as a whole
        for key in _REF_SELECTION:
            merged.pop(key, None)
    given = {k: v for k, v in flags.items() if v is not None and v != () and v != []}
    # where each value came from, for messages: a flag, else the config key
    names = {attr: f"[tool.contract-check] {key}" for key, (attr, _) in _CONFIG_KEYS.items() if attr in merged}
    for attr, value in given.items():
        names[attr] = _FLAG_NAMES.get(attr, "--" + attr.replace("_", "-"))
        for item in value if isinstance(value, tuple | list) else [value]:
            if isinstance(item, str | Path):
                check_text(str(item), names[attr])
    merged.update(given)
    if not merged.get("index_url"):
        environ = os.environ if environ is None else environ
        variable = next((k for k in _INDEX_ENV if environ.get(k)), None)
        if variable:
            merged["index_url"], names["index_url"] = environ[variable], f"${variable}"
    known = {f.name for f in fields(Options)}
    unexpected = set(merged) - known
    if unexpected:  # pragma: no cover - a programming error, not a user one
        raise TypeError(f"unknown options {sorted(unexpected)}")
    # children run in the sandbox directory: a relative path given on the command line is made absolute here
    merged["contracts"] = tuple(_local_path(cwd, p, "--contracts") for p in merged.get("contracts", ()))
    merged["find_links"] = tuple(
        v if _is_url(v) else str(_local_path(cwd, v, "--find-links")) for v in merged.get("find_links", ())
    )
    python = merged.get("python")
    if python and (os.sep in python or "/" in python or python.startswith(("~", "."))):
        merged["python"] = str(_local_path(cwd, python, "--python"))
    for attr in ("suite", "golden"):
        if merged.get(attr) is not None:
            merged[attr] = _local_path(cwd, merged[attr], names.get(attr, "--" + attr))
    if merged.get("accept_file") is not None:  # merged with the pyproject's entries, which come first
        merged["accept_file"] = _local_path(cwd, merged["accept_file"], "--accept")
        from_file = accept.load_file(merged["accept_file"], subjects=subjects)
        merged["acceptances"] = (*merged.get("acceptances", ()), *from_file)
    if merged.get("against") is not None:
        _no_option(merged["against"], names.get("against", "--against"))
    chosen = suites.load(merged["suite"]) if merged.get("suite") else suites.builtin()
    merged.setdefault("core_package", chosen.core_package)
    merged.setdefault("core_git", chosen.core_git or "")
    merged.setdefault("store_package", chosen.store_package)
    options = Options(**merged)
    if not _PROJECT_NAME.fullmatch(options.core_package):
        raise UsageError(f"--core-package {options.core_package!r} is not a valid distribution name")
    options = replace(options, timeout=_seconds(options.timeout))
    if options.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {options.jobs}")
    # every value that reaches git or uv as an argument, or uv's overrides file, must not read as an option
    if options.core_git:
        check_git_url(options.core_git, names.get("core_git", "--core-git"))
    for attr in ("store", "python", "index_url"):
        _no_option(getattr(options, attr), names.get(attr, "--" + attr.replace("_", "-")))
    for link in options.find_links:  # a local one is an absolute path by now
        _no_option(link, names.get("find_links", "--find-links"))
    if options.core_range is not None:
        check_range(options.core_range)
    if blank and not (options.core_refs or options.core_range or options.since_pin):
        raise UsageError(
            f"{blank[0]} is blank, which means no range, and no other Core ref is given",
            tip="give a range (--core-range '>=1.4,<2'), --core-ref REF or --since-pin; is the variable that "
            "should hold the range set?",
        )
    for path in options.contracts:
        try:
            found = path.exists()
        except (OSError, ValueError):  # a name too long for the file system
            found = False
        if not found:
            raise UsageError(f"--contracts path does not exist: {path}", tip="give a pytest file or directory")
        fsread.check_regular_or_dir(path, "--contracts path")
        if path.is_dir():  # pytest would block reading a FIFO or a device in it
            fsread.check_tree(path, "--contracts directory")
        elif path.suffix != ".py":  # pytest collects nothing else; /proc/self/mem is no contract either
            raise UsageError(
                f"--contracts file {path} is not a Python file (.py)", tip="give a pytest file or a directory"
            )
    for link in options.find_links:
        if not _is_url(link):
            fsread.check_regular_or_dir(Path(link), "--find-links path")
    return options
