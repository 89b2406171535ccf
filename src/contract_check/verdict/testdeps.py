"""Test dependencies of user contracts: a contract whose own file imports a module that is not installed.

Such a failure says nothing about Core: the sandbox lacks a package the contract needs (``jsonschema`` from the
Store's ``[dev]`` extra, say). When every failure of a run is of this kind, the run could not be checked (exit
3), and the tip names the flag or the Store's extra that would install the module. Who imported the module
decides (the plugin reads the importing frame): a Core or Store module importing something missing, or a
missing Core or Store module, stays a break, and so does any built-in contract.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from contract_check.models import Check, Layer
from contract_check.run.events import MissingModule
from contract_check.run.pytest_session import Outcome
from contract_check.sources.refs import looks_like_path, split_extras
from contract_check.util.proc import redact

_EXTRA = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def unmet(checks: list[Check], outcome: Outcome) -> list[tuple[str, MissingModule]]:
    """(check id, missing module) of every failing check, when each of them is a user contract that failed on
    a test dependency of its own (``MissingModule.test_dependency``); [] when any failure is something else."""
    found = []
    for check in checks:
        if not check.is_failure:
            continue
        missing = outcome.missing_modules.get(check.id) if check.layer is Layer.USER else None
        if missing is None or not missing.test_dependency:
            return []
        found.append((check.id, missing))
    return found


def extras_providing(module: str, requires: list[str]) -> list[tuple[str, str]]:
    """(extra, requirement name) for each of the Store's extras that requires a distribution called like
    *module* (``tomli_w`` -> ``tomli-w``), from its Requires-Dist lines (``jsonschema>=4; extra == "dev"``)."""
    wanted = canonicalize_name(module)
    found: list[tuple[str, str]] = []
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != wanted or req.marker is None:
            continue
        found += [(e, req.name) for e in _EXTRA.findall(str(req.marker)) if (e, req.name) not in found]
    return found


def _store_with(spec: str, extra: str) -> str:
    """The ``--store`` value that adds *extra* to the Store as the user gave it."""
    base, extras = split_extras(spec)
    if not looks_like_path(spec):
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            pass
        else:
            req.extras = {*req.extras, extra}
            return str(req)
    return f"{base}[{','.join(dict.fromkeys((*extras, extra)))}]"


def remedy(module: MissingModule, *, store_spec: str, store_requires: list[str]) -> str:
    """How to get *module* into the sandbox: the Store's extra that lists it, else ``--with``."""
    top = module.top
    if module.local:
        return (
            f"{top} is a file of the project, not a package: make it importable for pytest "
            "(the `pythonpath` setting of the project's pytest configuration, or a conftest.py)"
        )
    extras = extras_providing(top, store_requires)
    if extras:
        extra, name = extras[0]
        return (
            f"--store '{_store_with(store_spec or '.', extra)}' (its [{extra}] extra requires {name}), "
            f'or store-extras = ["{extra}"] in [tool.contract-check]'
        )
    return f'--with {top} (or with = ["{top}"] in [tool.contract-check]), naming the package that provides it'


def could_not_check(checks: list[Check], outcome: Outcome, *, store_name: str | None, store_spec: str) -> str | None:
    """The run's error when its only failures are user contracts missing a test dependency (see ``unmet``):
    "could not check: ..." and a tip per module. None when the run is judged as usual."""
    found = unmet(checks, outcome)
    if not found:
        return None
    requires = outcome.requires.get(store_name or "", [])
    by_module: dict[str, list[str]] = {}
    first: dict[str, MissingModule] = {}
    for check_id, missing in found:
        by_module.setdefault(missing.module, []).append(check_id)
        first.setdefault(missing.module, missing)
    parts = []
    for name, ids in by_module.items():
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        parts.append(f"{name} (needed by {shown})")
    tips = dict.fromkeys(remedy(m, store_spec=store_spec, store_requires=requires) for m in first.values())
    return redact(
        "could not check: user contracts import modules that are not installed in the sandbox: "
        + "; ".join(parts)
        + "\ntip: install them: "
        + "; ".join(tips)
    )
