"""Settings: command-line flags over ``[tool.contract-check]`` in the Store's pyproject.toml over defaults."""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from contract_check.errors import UsageError
from contract_check.index import IndexSettings

DEFAULT_CORE_PACKAGE = "market-data-core"
DEFAULT_STORE_PACKAGE = "market-data-store"
DEFAULT_CORE_GIT = "https://github.com/mjdevaccount/market-data-core.git"
DEFAULT_TIMEOUT = 300.0

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
}
# the options that choose which Core refs to check: given on the command line, they replace the configured choice
_REF_SELECTION = ("core_refs", "core_range", "since_pin")


@dataclass(frozen=True)
class Options:
    core_refs: tuple[str, ...] = ()
    store: str | None = None
    core_package: str = DEFAULT_CORE_PACKAGE
    core_git: str = DEFAULT_CORE_GIT
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
    """The parsed pyproject.toml of *project*, None if there is none; a broken file is a usage error."""
    path = project / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", tip="fix the file or pass --store") from None


def tool_table(pyproject: dict[str, Any] | None, where: Path) -> dict[str, Any]:
    """``[tool.contract-check]``, validated, as Options keyword arguments, relative paths made absolute."""
    table = ((pyproject or {}).get("tool") or {}).get("contract-check") or {}
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
        if attr == "core_refs":
            value = tuple(r.strip() for r in split_refs([value] if isinstance(value, str) else value) if r.strip())
        elif attr == "contracts":
            value = tuple(_local_path(where, v, what) for v in value)
        elif attr == "find_links":
            value = tuple(str(_local_path(where, v, what)) if not _is_url(v) else v for v in value)
        elif attr == "store" and not _is_requirement_like(value):
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


def _is_requirement_like(text: str) -> bool:
    if _is_url(text):  # "name @ https://.../store.whl" is a direct reference, not a relative path
        return True
    return not (text.startswith((".", "/", "~")) or text.endswith((".whl", ".tar.gz", ".zip")))


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
        if canonicalize_name(req.name) == canonicalize_name(package):
            return str(req.specifier)
    return None


def depends_on(pyproject: dict[str, Any] | None, package: str) -> str | None:
    """The specifier declared on *package* ("" for any version); None if it does not depend on it."""
    return declared_specifier(((pyproject or {}).get("project") or {}).get("dependencies") or [], package)


def build(flags: dict[str, Any], cwd: Path, *, environ: Mapping[str, str] | None = None) -> Options:
    """Options from the flags the user gave (None = not given) over the config in the current project.

    Without an index URL from either, the one the user configured for uv or pip (``UV_DEFAULT_INDEX``,
    ``UV_INDEX_URL``, ``PIP_INDEX_URL``) is used; without that, uv's own default. The refs to check are chosen
    as a whole: any of ``--core-ref``/``--core-range``/``--since-pin`` replaces ``core-ref``/``core-range``/
    ``since-pin`` of the config (a configured ``since-pin`` does not add to the refs given on the command line).
    """
    merged: dict[str, Any] = tool_table(read_pyproject(cwd), cwd)
    if any(flags.get(k) for k in _REF_SELECTION):  # flags win over the configured choice of refs as a whole
        for key in _REF_SELECTION:
            merged.pop(key, None)
    merged.update({k: v for k, v in flags.items() if v is not None and v != () and v != []})
    if not merged.get("index_url"):
        environ = os.environ if environ is None else environ
        configured = next((environ[k] for k in _INDEX_ENV if environ.get(k)), None)
        if configured:
            merged["index_url"] = configured
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
    options = Options(**merged)
    if not _PROJECT_NAME.fullmatch(options.core_package):
        raise UsageError(f"--core-package {options.core_package!r} is not a valid distribution name")
    if not (options.timeout > 0 and math.isfinite(options.timeout)):
        raise UsageError(f"--timeout must be a positive number of seconds, not {options.timeout:g}")
    if options.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {options.jobs}")
    for path in options.contracts:
        try:
            found = path.exists()
        except (OSError, ValueError):  # a name too long for the file system
            found = False
        if not found:
            raise UsageError(f"--contracts path does not exist: {path}", tip="give a pytest file or directory")
    return options
