"""The Store's ``pyproject.toml``: read (bounded, its shape checked), its ``[tool.contract-check]`` table as
Options values (the keys and their types are the settings' declarations, ``config.options``), and what it
declares on Core."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from contract_check.config.options import Paths, Spec, by_key
from contract_check.config.values import check_text, is_url, local_path, versions_usable
from contract_check.errors import UsageError
from contract_check.sources import refs
from contract_check.util import fsread
from contract_check.verdict import accept

PYPROJECT_LIMIT = 4 * fsread.MIB
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
    known = by_key()
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise UsageError(
                f"unknown key {key!r} in [tool.contract-check] of {where / 'pyproject.toml'}",
                tip="known keys: " + ", ".join(sorted(known)),
            )
        spec = known[key]
        if spec.element is accept.Acceptance:  # tables, not strings: validated entry by entry, each named
            out[spec.name] = tuple(accept.parse_entries(value, accept.PYPROJECT_ORIGIN, subjects=subjects))
        else:
            out[spec.name] = config_value(spec, value, where)
    return out


def _accepted(spec: Spec) -> tuple[type, ...]:
    """The TOML types a key takes: a list of strings for a repeatable option (or one string, when it takes
    comma-separated values too), a string for a path, else the option's own type (any number for a float)."""
    if spec.repeatable:
        return (list, str) if spec.split else (list,)
    element = spec.element
    return (int, float) if element is float else (str,) if element is Path else (element,)


def config_value(spec: Spec, value: Any, where: Path) -> Any:
    """One key's *value*, type-checked, as the Options field holds it: paths relative to the project
    *where* made absolute (``Spec.paths``)."""
    types = _accepted(spec)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if ok and isinstance(value, list):
        ok = all(isinstance(v, str) for v in value)
    if not ok:
        wanted = "a number" if float in types else " or ".join(_TYPE_NAMES[t] for t in types)
        raise UsageError(
            f"[tool.contract-check] {spec.key} in {where / 'pyproject.toml'} must be {wanted}, "
            f"not {type(value).__name__} {value!r}"
        )
    what = f"[tool.contract-check] {spec.key}"
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            check_text(item, what)
    if spec.paths is Paths.REFS:
        return tuple(r.strip() for r in split_refs(items) if r.strip())
    if spec.paths is Paths.LOCAL:
        return tuple(local_path(where, v, what) for v in value) if spec.repeatable else local_path(where, value, what)
    if spec.paths is Paths.LOCAL_OR_URL:
        return tuple(v if is_url(v) else str(local_path(where, v, what)) for v in value)
    if spec.paths is Paths.STORE and refs.looks_like_path(value):
        return str(local_path(where, value, what))
    return tuple(value) if spec.repeatable else value


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


def depends_on(pyproject: dict[str, Any] | None, package: str) -> str | None:
    """The specifier declared on *package* ("" for any version); None if it does not depend on it."""
    return declared_specifier(((pyproject or {}).get("project") or {}).get("dependencies") or [], package)
