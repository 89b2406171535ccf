"""Every setting of one invocation, each declared once: the ``Options`` field is the declaration, and its
``setting(...)`` says how a user reaches it (the model is nox's per-option metadata, ``nox/_options.py``):

- ``flags``, ``metavar``, ``help``: the command-line option; ``cli.options`` builds each command's typer
  parameters from these, so a command cannot take a flag that sets nothing, nor a setting lose its flag;
- ``key``: the ``[tool.contract-check]`` key (``config.pyproject`` reads exactly these);
- ``suite``: the suite's attribute that is the default when neither a flag nor the config sets it;
- ``paths``: how a path in the value is read (relative to what), ``together``: options chosen as a whole.

Where a value came from (a flag, a key, ``$UV_INDEX_URL``, the suite) is named in messages by ``Origin``.
Options that only steer what a command prints or writes (``--json``, ``--format``) are declared the same way,
as ``Spec`` values, in ``cli.options``; ``SETTINGS`` and those together are every option the tool has.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from contract_check.sources.index import IndexSettings
from contract_check.verdict import accept

DEFAULT_TIMEOUT = 300.0


class Paths(Enum):
    """How a path in an option's value is read: a config value relative to the project the config is in, a
    flag's relative to the current directory (children run elsewhere, so both are made absolute)."""

    AS_GIVEN = "as given"
    LOCAL = "a local path"
    LOCAL_OR_URL = "a local path, or a URL as given"
    STORE = "a Store: in the config a path when it looks like one; a flag as given (resolved against the cwd)"
    INTERPRETER = "a name or version as given; a path (a separator, or ~ or . first) relative to the cwd"
    REFS = "Core refs: a relative path in the config re-expressed relative to the cwd"


@dataclass(frozen=True)
class Spec:
    """How one option is reached. *name* and *type* are the Options field's for a setting (filled from the
    field); an option of a command alone (``cli.options``) gives them itself."""

    flags: tuple[str, ...] = ()  # () : no flag (set only by the config or the suite)
    help: str = ""
    metavar: str | None = None
    key: str | None = None  # [tool.contract-check] key; None: not settable there
    suite: str | None = None  # attribute of the suite that is the default
    paths: Paths = Paths.AS_GIVEN
    together: str | None = None  # options of one group: one given as a flag replaces the config's whole group
    split: bool = False  # comma-separated values too (and the config may give one string instead of a list)
    count: bool = False  # how many times the flag is given (-v -v)
    name: str = ""
    type: Any = None
    default: Any = None  # an option of a command alone: its default (a setting's is the field's)
    positional: bool = False  # a command's argument, not an option (merge's REPORT.json ...)
    eager: bool = False  # handled before the others, and ends the command (--version)

    @property
    def flag(self) -> str:
        """The flag messages name: the long one (``--verbose``, not ``-v``; ``--summary`` of a ``/`` pair)."""
        if not self.flags:
            return ""
        return next((f for f in self.flags if f.startswith("--")), self.flags[0]).split("/")[0]

    @property
    def element(self) -> Any:
        """The type of one value: the item type of a repeatable option, else the type without ``None``."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        if typing.get_origin(self.type) is tuple:
            return args[0]
        return args[0] if args else self.type

    @property
    def repeatable(self) -> bool:
        return typing.get_origin(self.type) is tuple


def setting(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """An ``Options`` field that is an option: its default and how it is reached (``Spec``)."""
    return field(default=default, default_factory=factory, metadata={"spec": Spec(**spec)})


@dataclass(frozen=True)
class Options:
    """Every setting of one invocation; ``build`` fills the Core's name, git URL and default Store from the suite."""

    core_refs: tuple[str, ...] = setting(
        (),
        flags=("--core-ref",),
        metavar="REF",
        help="Core ref to check (repeatable or comma-separated): 1.4.55, v1.4.55, latest, git:TAG, "
        "a branch or SHA, a path, 'NAME @ URL'.",
        key="core-ref",
        paths=Paths.REFS,
        together="refs",
        split=True,
    )
    store: str | None = setting(
        None,
        flags=("--store",),
        metavar="SPEC",
        help="Store path (PATH[extra,...]) or requirement. Default: the project this directory is in, when it "
        "depends on Core, else the suite's Store, newest on the index.",
        key="store",
        paths=Paths.STORE,
    )
    core_package: str = setting(
        "", flags=("--core-package",), metavar="NAME", help="Core distribution name.", key="core-package",
        suite="core_package",
    )  # fmt: skip
    core_git: str = setting(
        "", flags=("--core-git",), metavar="URL", help="Core git repository for git: refs.", key="core-git",
        suite="core_git",
    )  # fmt: skip
    store_package: str | None = setting(
        None, help="The Store checked when there is no --store and no project at hand.", suite="store_package"
    )
    suite: Path | None = setting(
        None, flags=("--suite",), metavar="DIR", help="A suite directory instead of the built-in.", key="suite",
        paths=Paths.LOCAL,
    )  # fmt: skip  # None: the built-in suite
    golden: Path | None = setting(
        None, flags=("--golden",), metavar="DIR", help="Golden directory to compare with.", key="golden",
        paths=Paths.LOCAL,
    )  # fmt: skip  # None: the suite's golden/
    with_: tuple[str, ...] = setting(
        (), flags=("--with",), metavar="REQ", help="Also install REQ (repeatable).", key="with"
    )  # extra requirements installed into the sandbox (test dependencies)
    store_extras: tuple[str, ...] = setting(
        (), help='Extras of the Store to install (e.g. ["dev"]).', key="store-extras"
    )  # on the command line: --store PATH[extra,...]
    against: str | None = setting(
        None,
        flags=("--against",),
        metavar="REF",
        help="Compare with this Core, checked live ('pin': the Store's).",
        key="against",
    )  # a Core ref (or "pin") whose live schemas are the baseline instead of the golden
    acceptances: tuple[accept.Acceptance, ...] = setting(
        (), help="Known breaks accepted until a date ([[tool.contract-check.accept]]).", key="accept"
    )  # from [tool.contract-check] and --accept FILE, in that order
    accept_file: Path | None = setting(
        None, flags=("--accept",), metavar="FILE", help="TOML file of [[accept]] entries.", paths=Paths.LOCAL
    )
    contracts: tuple[Path, ...] = setting(
        (),
        flags=("--contracts",),
        metavar="PATH",
        help="Your own pytest contracts (repeatable).",
        key="contracts",
        paths=Paths.LOCAL,
    )
    python: str | None = setting(
        None, flags=("--python",), metavar="VERSION|PATH", help="Python for the sandbox.", key="python",
        paths=Paths.INTERPRETER,
    )  # fmt: skip
    index_url: str | None = setting(
        None, flags=("--index-url",), metavar="URL", help="Package index (default: uv's).", key="index-url"
    )
    find_links: tuple[str, ...] = setting(
        (),
        flags=("--find-links",),
        metavar="PATH|URL",
        help="Extra wheel directory.",
        key="find-links",
        paths=Paths.LOCAL_OR_URL,
    )
    offline: bool = setting(False, flags=("--offline",), help="Use only uv's cache and --find-links.")
    strict: bool = setting(False, flags=("--strict",), help="Treat WARN findings as failures.", key="strict")
    jobs: int = setting(
        factory=lambda: os.cpu_count() or 1,
        flags=("--jobs",),
        metavar="N",
        help="Refs checked in parallel (default: CPUs).",
        key="jobs",
    )
    timeout: float = setting(
        DEFAULT_TIMEOUT, flags=("--timeout",), metavar="SECONDS", help="Seconds allowed for each phase.",
        key="timeout",
    )  # fmt: skip
    keep_venv: bool = setting(False, flags=("--keep-venv",), help="Keep the sandbox and print its path.")
    no_cache: bool = setting(
        False, flags=("--no-cache",), help="Neither reuse nor keep shared environments and results."
    )
    core_range: str | None = setting(
        None,
        flags=("--core-range",),
        metavar="SPEC",
        help="Check every release in this range.",
        key="core-range",
        together="refs",
    )
    pre: bool = setting(False, flags=("--pre",), help="Include pre-releases in --core-range/--since-pin.")
    since_pin: bool = setting(
        False,
        flags=("--since-pin",),
        help="Check every release from the Store's declared lower bound.",
        key="since-pin",
        together="refs",
    )
    verbose: int = setting(0, flags=("-v", "--verbose"), help="Log commands; tracebacks on errors.", count=True)

    @property
    def index(self) -> IndexSettings:
        return IndexSettings(self.index_url, self.find_links, self.offline)


@cache
def settings() -> dict[str, Spec]:
    """Every setting by its Options field name, in field order, each with its field's name and type."""
    hints = typing.get_type_hints(Options)
    return {
        f.name: dataclasses.replace(f.metadata["spec"], name=f.name, type=hints[f.name])
        for f in dataclasses.fields(Options)
    }


@cache
def by_key() -> dict[str, Spec]:
    """The settings ``[tool.contract-check]`` may hold, by key."""
    return {spec.key: spec for spec in settings().values() if spec.key}


@dataclass(frozen=True)
class Origin:
    """Where a value came from, as a message names it: ``--timeout``, ``[tool.contract-check] timeout``,
    ``$UV_INDEX_URL``, ``the suite``."""

    kind: str  # "flag", "config", "environment", "suite"
    label: str


def flag_origin(spec: Spec) -> Origin:
    return Origin("flag", spec.flag)


def config_origin(spec: Spec) -> Origin:
    return Origin("config", f"[tool.contract-check] {spec.key}")
