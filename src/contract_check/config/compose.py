"""``build``: the Options of one invocation, in four small steps over the declarations (``config.options``):

- ``merge``: flags over ``[tool.contract-check]`` over the user's uv/pip index configuration, each value with
  where it came from (``Origin``: what a message about it names);
- ``normalise``: each value in the form the code below uses (absolute paths, float seconds, the accept file's
  entries added); a value that has no such form is a usage error;
- ``from_suite``: the suite's defaults for what nothing else set (the Core's name and git URL, the Store);
- ``validate``: what is well formed but not allowed (a value uv would read as an option, a missing path).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contract_check.suite as suites
from contract_check.config import project_root
from contract_check.config.options import Options, Origin, Paths, config_origin, flag_origin, settings
from contract_check.config.pyproject import read_pyproject, tool_table
from contract_check.config.values import (
    check_git_url,
    check_range,
    check_text,
    is_url,
    local_path,
    no_option,
    seconds,
)
from contract_check.errors import UsageError
from contract_check.sources import refs
from contract_check.util import fsread
from contract_check.verdict import accept

# the user's uv/pip configuration of the index, first wins; the sandbox scrubs these, so they are read here
# and passed to uv explicitly (IndexSettings.uv_args)
_INDEX_ENV = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")
_PROJECT_NAME = re.compile(r"[A-Z0-9]([A-Z0-9._-]*[A-Z0-9])?", re.IGNORECASE)  # PEP 508 names


@dataclass(frozen=True)
class Merged:
    """Options values by field name, where each came from, and the blank ranges that were dropped."""

    values: dict[str, Any]
    origins: dict[str, Origin]
    blank: tuple[str, ...] = ()  # e.g. "--core-range ''": said when nothing else is asked

    def label(self, name: str) -> str:
        """How a message names the value of *name*: where it came from, else its flag."""
        origin = self.origins.get(name)
        return origin.label if origin else settings()[name].flag


def build(flags: Mapping[str, Any], cwd: Path, *, environ: Mapping[str, str] | None = None) -> Options:
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
    table = tool_table(pyproject, project, subjects=subjects)
    merged = merge(flags, table, os.environ if environ is None else environ)
    elsewhere = enclosing if enclosing is not None and enclosing != cwd.resolve() else None
    merged = from_suite(normalise(merged, cwd, config_dir=elsewhere, subjects=subjects))
    options = Options(**merged.values)
    validate(options, merged)
    return options


def merge(flags: Mapping[str, Any], table: Mapping[str, Any], environ: Mapping[str, str]) -> Merged:
    """The flags given (not None, not empty) over the config's *table* over the index configured in
    *environ*, with their origins. A group of options (``Spec.together``) is replaced as a whole by a flag of
    it; a blank range (an unset CI variable: ``--core-range "$RANGE"``) means no range, as '' always did."""
    specs = settings()
    unknown = set(flags) - set(specs)
    if unknown:  # pragma: no cover - a programming error, not a user one
        raise TypeError(f"unknown options {sorted(unknown)}")
    flags, table, blank = _without_blank_ranges(flags, table)
    given = {k: v for k, v in flags.items() if v is not None and v != () and v != []}
    chosen = {specs[k].together for k, v in given.items() if v and specs[k].together}
    values = {k: v for k, v in table.items() if specs[k].together not in chosen or not specs[k].together}
    origins = {k: config_origin(specs[k]) for k in values}
    for name, value in given.items():
        origin = flag_origin(specs[name])
        for item in value if isinstance(value, tuple | list) else [value]:
            if isinstance(item, str | Path):
                check_text(str(item), origin.label)  # what the config holds was checked as it was read
        values[name], origins[name] = value, origin
    if not values.get("index_url"):
        variable = next((k for k in _INDEX_ENV if environ.get(k)), None)
        if variable:
            values["index_url"], origins["index_url"] = environ[variable], Origin("environment", f"${variable}")
    return Merged(values, origins, blank)


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _without_blank_ranges(
    flags: Mapping[str, Any], table: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    blank = []
    flags, table = dict(flags), dict(table)
    if _blank(flags.get("core_range")):
        blank.append(f"--core-range {flags['core_range']!r}")
        flags["core_range"] = None
    if _blank(table.get("core_range")):
        blank.append(f"[tool.contract-check] core-range {table.pop('core_range')!r}")
    return flags, table, tuple(blank)


def normalise(merged: Merged, cwd: Path, *, config_dir: Path | None, subjects: accept.Subjects) -> Merged:
    """Every value as the code below uses it: paths absolute (a flag's relative to *cwd*; the config's already
    are, but for refs, which are re-expressed relative to *cwd* when the config is in *config_dir*, another
    directory), the timeout as float seconds, the ``--accept`` file's entries after the config's."""
    specs = settings()
    values = dict(merged.values)
    for name, value in merged.values.items():
        origin = merged.origins.get(name)
        in_config = config_dir if origin is not None and origin.kind == "config" else None
        values[name] = _absolute(specs[name].paths, value, cwd, merged.label(name), in_config)
    if "timeout" in values:
        values["timeout"] = seconds(values["timeout"])
    if values.get("accept_file") is not None:  # merged with the pyproject's entries, which come first
        from_file = accept.load_file(values["accept_file"], subjects=subjects)
        values["acceptances"] = (*values.get("acceptances", ()), *from_file)
    return dataclasses.replace(merged, values=values)


def _absolute(rule: Paths, value: Any, cwd: Path, label: str, config_dir: Path | None) -> Any:
    """*value* with the paths in it made absolute by *rule* (children run in the sandbox directory)."""
    if value is None:
        return None
    if rule is Paths.LOCAL:
        if isinstance(value, tuple):
            return tuple(local_path(cwd, p, label) for p in value)
        return local_path(cwd, value, label)
    if rule is Paths.LOCAL_OR_URL:
        return tuple(v if is_url(v) else str(local_path(cwd, v, label)) for v in value)
    if rule is Paths.INTERPRETER and (os.sep in value or "/" in value or value.startswith(("~", "."))):
        return str(local_path(cwd, value, label))
    if rule is Paths.REFS and config_dir is not None:  # a relative path in the config: relative to it
        return tuple(
            project_root.relative(config_dir / r, cwd) if refs.looks_like_path(r) and r[0] not in "/~" else r
            for r in value
        )
    return value


def from_suite(merged: Merged) -> Merged:
    """The suite's defaults (``Spec.suite``) for the options nothing else set."""
    suite_dir = merged.values.get("suite")
    chosen = suites.load(suite_dir) if suite_dir else suites.builtin()
    values, origins = dict(merged.values), dict(merged.origins)
    for name, spec in settings().items():
        value = getattr(chosen, spec.suite) if spec.suite else None
        if value is not None and name not in values:
            key = spec.suite.replace("_", "-") if spec.suite else ""
            values[name], origins[name] = value, Origin("suite", f"suite {chosen.name!r} {key}")
    return dataclasses.replace(merged, values=values, origins=origins)


def validate(options: Options, merged: Merged) -> None:
    """UsageError for a value that is well formed but not allowed; *merged* names where it came from."""
    if not _PROJECT_NAME.fullmatch(options.core_package):
        raise UsageError(f"--core-package {options.core_package!r} is not a valid distribution name")
    if options.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {options.jobs}")
    # every value that reaches git or uv as an argument, or uv's overrides file, must not read as an option
    if options.core_git:
        check_git_url(options.core_git, merged.label("core_git"))
    for name in ("store", "python", "index_url", "against"):
        no_option(getattr(options, name), merged.label(name))
    for link in options.find_links:  # a local one is an absolute path by now
        no_option(link, merged.label("find_links"))
    if options.core_range is not None:
        check_range(options.core_range)
    if merged.blank and not (options.core_refs or options.core_range or options.since_pin):
        raise UsageError(
            f"{merged.blank[0]} is blank, which means no range, and no other Core ref is given",
            tip="give a range (--core-range '>=1.4,<2'), --core-ref REF or --since-pin; is the variable that "
            "should hold the range set?",
        )
    for path in options.contracts:
        _check_contracts(path)
    for link in options.find_links:
        if not is_url(link):
            fsread.check_regular_or_dir(Path(link), "--find-links path")


def _check_contracts(path: Path) -> None:
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
        raise UsageError(f"--contracts file {path} is not a Python file (.py)", tip="give a pytest file or a directory")


def _suite_subjects(flags: Mapping[str, Any], pyproject: dict[str, Any] | None, cwd: Path) -> accept.Subjects:
    """The subjects of the suite this invocation uses (``--suite``, else the config's ``suite``, else the
    built-in), read only when asked: an acceptance error's example names one of them."""

    def subjects() -> list[str]:
        table = ((pyproject or {}).get("tool") or {}).get("contract-check") or {}
        given = flags.get("suite") or (table.get("suite") if isinstance(table, dict) else None)
        if given is not None and not isinstance(given, str | Path):
            return []
        chosen = suites.load(local_path(cwd, given, "--suite")) if given else suites.builtin()
        return list(chosen.subjects)

    return subjects
