"""The narrow settings the code below the pipeline receives, each built here, and only here, from ``Options``
(which stays the command line's and config's type): the ref expansion gets the range options, one ref's
resolution where Core comes from, the contracts' runner what it installs and how it runs, ``plan`` the three of
its own. Each is frozen and holds only what its reader reads, so a new option reaches the code that needs it
by one line here, and a test builds one without the other 25 fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract_check.config import Options
from contract_check.sources.index import IndexSettings


@dataclass(frozen=True)
class RefSelection:
    """Which Core refs to check (``matrix.expand_refs``): those given, a range of releases, the releases from
    the Store's lower bound; and what a message about them names."""

    refs: tuple[str, ...]
    range: str | None
    since_pin: bool
    pre: bool
    core_package: str
    python: str | None  # the sandbox's: refs that install the same release for it are checked once
    offline: bool


@dataclass(frozen=True)
class CoreSource:
    """Where a Core ref is resolved from: the distribution, its git repository, the index (and the sandbox's
    Python, whose releases ``latest`` and the hints name)."""

    package: str
    git: str
    python: str | None
    index: IndexSettings


@dataclass(frozen=True)
class ContractRun:
    """What the contracts' runner installs next to the Store and how it runs the contracts."""

    core_package: str
    find_links: tuple[str, ...]
    with_: tuple[str, ...]
    contracts: tuple[Path, ...]
    timeout: float
    strict: bool


@dataclass(frozen=True)
class StoreChoice:
    """Which Store: the spec given (None: the project at hand), else the suite's Store package."""

    spec: str | None
    default_package: str | None


@dataclass(frozen=True)
class Plan:
    """What ``plan`` reads: the refs, where Core comes from, which Store (for ``--since-pin``)."""

    selection: RefSelection
    core: CoreSource
    store: StoreChoice


def ref_selection(options: Options) -> RefSelection:
    return RefSelection(
        refs=options.core_refs,
        range=options.core_range,
        since_pin=options.since_pin,
        pre=options.pre,
        core_package=options.core_package,
        python=options.python,
        offline=options.offline,
    )


def core_source(options: Options) -> CoreSource:
    return CoreSource(options.core_package, options.core_git, options.python, options.index)


def contract_run(options: Options) -> ContractRun:
    return ContractRun(
        core_package=options.core_package,
        find_links=options.find_links,
        with_=options.with_,
        contracts=options.contracts,
        timeout=options.timeout,
        strict=options.strict,
    )


def store_choice(options: Options) -> StoreChoice:
    return StoreChoice(options.store, options.store_package)


def plan(options: Options) -> Plan:
    return Plan(ref_selection(options), core_source(options), store_choice(options))
