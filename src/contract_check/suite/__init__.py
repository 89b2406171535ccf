"""A contract suite: a directory with ``suite.toml``, optional pytest contract files and ``golden/``.

``suite.toml`` declares the Core and Store distributions and the *subjects* (``Name = "module:attr"``), the
models and enums the schema and payload layers compare; optionally example payloads per subject. The
suite's ``test_*.py`` files are built-in contracts: they run sealed, and every check they declare must
report. The built-in market-data suite is one such directory (``contracts/``).

The host knows which checks must report before anything runs: every ``test_*`` function of the suite's
``test_*.py`` files, with the id its ``@pytest.mark.contract(id=...)`` marker gives (else its node id), times
the cases of literal ``@pytest.mark.parametrize`` decorators, plus the generic layer checks
(``schema.snapshot`` and one ``payload.golden.<Subject>`` per subject with golden payloads). Nothing is
imported or collected: a run that leaves one of these without a result (deselected, skipped, xfailed, never
reached) cannot be "compatible". A parametrisation that cannot be read statically is expected as "at least
one case".
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import json
import math
import re
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract_check import PACKAGE_DIR
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.util import fsread

SUITE_FILE = "suite.toml"
SUITE_FILE_LIMIT = fsread.MIB
SOURCE_LIMIT = 16 * fsread.MIB  # a contract file larger than this is no contract file
_SUBJECT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Suite:
    directory: Path
    name: str
    core_package: str
    store_package: str | None = None
    core_git: str | None = None
    subjects: dict[str, str] = field(default_factory=dict)  # Name -> "module:attr"
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def golden(self) -> Path:
        return self.directory / "golden"

    def declared_checks(self, golden_payloads: list[str]) -> list[Expected]:
        """Every check a run of this suite must report: its test files' and the generic layer's."""
        layer = [Expected("schema.snapshot", "*", "schema", "The candidate's schemas and payloads are recorded.")]
        layer += [
            Expected(f"payload.golden.{name}", name, "payload", f"Every golden {name} payload still validates.")
            for name in self.subjects
            if name in golden_payloads
        ]
        return [*declared_checks(self.directory), *layer]

    def sandbox_config(self, golden: Path | None, *, recording: bool = False) -> str:
        """What the in-sandbox plugin and layer read (JSON: the sandbox may run a Python without tomllib).
        *recording*: this run records a baseline (``snapshot``), so boundary payloads are produced too."""
        return json.dumps(
            {
                "name": self.name,
                "subjects": self.subjects,
                "examples": self.examples,
                "golden": str(golden) if golden else None,
                "recording": recording,
            }
        )


def builtin_dir() -> Path:
    """The built-in suite (``contracts/``): inside the wheel (``_contracts``) or at the repository root."""
    packaged = PACKAGE_DIR / "_contracts"
    if packaged.is_dir():
        return packaged
    for parent in PACKAGE_DIR.parents:
        candidate = parent / "contracts"
        if (candidate / SUITE_FILE).is_file():
            return candidate
    raise FileNotFoundError("the built-in suite is missing from this installation")


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise UsageError(f"{where}: [{key}] must be a table")
    return value


@contextlib.contextmanager
def _installation(directory: Path) -> Iterator[None]:
    """A bad file in the built-in suite is not the user's mistake: the installation is damaged (exit 3)."""
    try:
        yield
    except UsageError as exc:
        try:
            builtin = directory.resolve() == builtin_dir().resolve()
        except (OSError, FileNotFoundError):
            builtin = False
        if not builtin:
            raise
        raise EnvironmentProblem(
            f"the built-in suite of this installation is damaged: {exc.message}", tip="reinstall contract-check"
        ) from None


def _copied(name: str) -> bool:
    """Whether ``runner.prepare`` copies a directory of this name into the sandbox (see its ignore list)."""
    return not (name.startswith(".") or name in ("__pycache__", "golden"))


def load(directory: Path) -> Suite:
    """Read and validate ``directory/suite.toml``; every mistake is a UsageError naming the key. A FIFO or a
    device anywhere in what the sandbox gets a copy of is refused here (the copy would block on it)."""
    with _installation(directory):
        return _load(directory)


def _load(directory: Path) -> Suite:
    path = directory / SUITE_FILE
    where = str(path)
    try:
        data = tomllib.loads(fsread.read_text(path, limit=SUITE_FILE_LIMIT, what="the suite file"))
    except FileNotFoundError:
        raise UsageError(f"{directory} is not a suite: it has no {SUITE_FILE}", tip="see docs/suites.md") from None
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError and TOMLDecodeError are ValueErrors
        raise UsageError(f"{where} cannot be read: {exc}") from None
    fsread.check_tree(directory, "the suite", skip=lambda name: not _copied(name))
    unknown = set(data) - {"suite", "subjects", "examples"}
    if unknown:
        raise UsageError(
            f"{where}: unknown table(s) {', '.join(sorted(unknown))}", tip="known: suite, subjects, examples"
        )
    head = _table(data, "suite", where)
    known = {"name", "core-package", "store-package", "core-git"}
    if set(head) - known:
        raise UsageError(f"{where}: unknown key(s) in [suite]: {', '.join(sorted(set(head) - known))}")
    for key, value in head.items():
        if not isinstance(value, str) or not value or "\0" in value:
            raise UsageError(f"{where}: [suite] {key} must be a non-empty string")
    if "core-package" not in head:
        raise UsageError(f"{where}: [suite] needs core-package (the Core distribution's name)")
    subjects = _table(data, "subjects", where)
    for name, target in subjects.items():
        if not _NAME.fullmatch(name) or not isinstance(target, str) or not _SUBJECT.fullmatch(target):
            raise UsageError(
                f'{where}: subject {name!r} = {target!r} is not Name = "module:attribute"',
                tip='e.g. Order = "acme_core.models:Order"',
            )
    examples = _table(data, "examples", where)
    for name, items in examples.items():
        if name not in subjects:
            raise UsageError(f"{where}: [examples] {name} names no subject")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise UsageError(f"{where}: [examples] {name} must be a list of tables (one payload each)")
    return Suite(
        directory=directory,
        name=head.get("name", directory.name),
        core_package=head["core-package"],
        store_package=head.get("store-package"),
        core_git=head.get("core-git"),
        subjects=dict(subjects),
        examples={k: list(v) for k, v in examples.items()},
    )


def builtin() -> Suite:
    return load(builtin_dir())


@dataclass(frozen=True)
class Expected:
    """One declared check: its id (without a case suffix) and its cases (None: any number, at least one)."""

    id: str
    subject: str
    layer: str
    guards: str
    cases: tuple[str, ...] | None = ()

    def ids(self) -> list[str]:
        """The exact check ids this declaration expects ([] when its cases cannot be known statically)."""
        if self.cases is None:
            return []
        return [f"{self.id}[{case}]" for case in self.cases] if self.cases else [self.id]

    def covers(self, check_id: str) -> bool:
        return check_id == self.id if self.cases == () else check_id.startswith(self.id + "[")


def _literal(node: ast.expr, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    return ast.literal_eval(node)


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = _literal(node.value, names)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue
    return names


def _is_mark(decorator: ast.expr, name: str) -> bool:
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(func, ast.Attribute) and func.attr == name


def _case_id(value: Any, argname: str, index: int) -> str:
    """pytest's id for one parameter value of the simple kinds (see ``_pytest.python._idval``)."""
    if isinstance(value, str):
        return value.encode("unicode_escape").decode("ascii")
    if value is None or isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, float):
        return str(value)
    return f"{argname}{index}"


def _cases(decorator: ast.Call, names: dict[str, Any]) -> list[str] | None:
    """The case ids of one ``parametrize`` decorator, or None when they cannot be read statically."""
    try:
        argnames = _literal(decorator.args[0], names)
        values = _literal(decorator.args[1], names)
        ids = next((_literal(k.value, names) for k in decorator.keywords if k.arg == "ids"), None)
    except (IndexError, ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    if isinstance(argnames, str):
        argnames = [a.strip() for a in argnames.split(",") if a.strip()]
    if not isinstance(argnames, list | tuple) or not isinstance(values, list | tuple):
        return None
    if ids is not None:
        if not isinstance(ids, list | tuple) or len(ids) != len(values) or not all(isinstance(i, str) for i in ids):
            return None
        return list(ids)
    out = []
    for index, value in enumerate(values):
        parts = value if len(argnames) > 1 and isinstance(value, list | tuple) else (value,)
        if len(argnames) > 1 and len(parts) != len(argnames):
            return None
        out.append("-".join(_case_id(v, str(a), index) for v, a in zip(parts, argnames, strict=False)))
    return out if len(set(out)) == len(out) else None  # pytest renames duplicates: not predictable here


def _marker_kwargs(decorator: ast.expr) -> dict[str, str] | None:
    if not (isinstance(decorator, ast.Call) and _is_mark(decorator, "contract")):
        return None
    return {
        kw.arg: kw.value.value
        for kw in decorator.keywords
        if kw.arg and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
    }


def _expected(node: ast.FunctionDef, nodeid: str, names: dict[str, Any]) -> Expected:
    marker: dict[str, str] = {}
    grids: list[list[str] | None] = []
    for decorator in reversed(node.decorator_list):  # pytest applies the bottom decorator first
        if isinstance(decorator, ast.Call) and _is_mark(decorator, "parametrize"):
            grids.append(_cases(decorator, names))
        found = _marker_kwargs(decorator)
        if found is not None:
            marker = found
    cases: tuple[str, ...] | None = ()
    if grids:
        known = [g for g in grids if g is not None]
        cases = tuple("-".join(p) for p in itertools.product(*known)) if len(known) == len(grids) else None
    doc = (ast.get_docstring(node) or "").strip().splitlines()
    return Expected(
        id=marker.get("id", nodeid),
        subject=marker.get("subject", nodeid.split("::")[0]),
        layer=marker.get("layer", "assertion" if marker else "user"),
        guards=doc[0] if doc else "",
        cases=cases,
    )


def parse_source(path: Path, what: str) -> ast.Module:
    """The syntax tree of the Python file *path* (bounded read); UsageError naming it when Python could not
    read it: not UTF-8, not valid Python (for the Python contract-check runs on), nested too deeply."""
    tip = "fix the file; a contract that cannot be loaded checks nothing"
    try:
        source = fsread.read_bytes(path, limit=SOURCE_LIMIT, what=what)
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read: {exc.strerror or exc}", tip=tip) from None
    try:
        with warnings.catch_warnings():  # an invalid escape is pytest's to report, not ours
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=str(path))  # bytes: a coding line is honoured, as Python does
    except SyntaxError as exc:  # IndentationError and TabError too
        line = f" (line {exc.lineno})" if exc.lineno else ""
        if exc.msg.startswith("(unicode error)"):
            detail = exc.msg.removeprefix("(unicode error)").strip()
            problem = f"is not UTF-8 text (nor in the encoding a coding line declares): {detail}{line}"
        else:
            problem = f"is not valid Python: {exc.msg}{line}"
    except ValueError as exc:  # a NUL byte, in older Pythons
        problem = f"is not valid Python: {exc}"
    except (RecursionError, MemoryError):  # the parser's own stack: nested a few thousand levels deep
        problem = "is nested too deeply to be parsed"
    raise UsageError(f"{what} {path} {problem}", tip=tip)


def declared_checks(directory: Path) -> list[Expected]:
    """Every check the ``test_*.py`` files directly in *directory* declare, in file and source order."""
    with _installation(directory):
        return _declared_checks(directory)


def _declared_checks(directory: Path) -> list[Expected]:
    out: list[Expected] = []
    for path in sorted(directory.glob("test_*.py")):
        tree = parse_source(path, "the suite's contract file")
        names = _module_constants(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                out.append(_expected(node, f"{path.name}::{node.name}", names))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                        out.append(_expected(item, f"{path.name}::{node.name}::{item.name}", names))
    return out


@dataclass(frozen=True)
class Completeness:
    """How a run's results measure up against the declared checks."""

    missing: tuple[str, ...]  # declared, no result at all (deselected, never reached)
    not_run: tuple[str, ...]  # reported skipped, xfailed or xpassed

    @property
    def complete(self) -> bool:
        return not self.missing and not self.not_run

    def describe(self, limit: int = 8) -> str:
        parts = []
        for label, ids in (("no result", self.missing), ("skipped or xfail", self.not_run)):
            if ids:
                shown = ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
                parts.append(f"{label}: {shown}")
        return "; ".join(parts)


def completeness(declared: list[Expected], results: dict[str, str]) -> Completeness:
    """Compare *results* (check id -> outcome word) with *declared*; ``passed/failed/error`` count as run."""
    ran = {"passed", "failed", "error", "accepted"}
    missing: list[str] = []
    not_run: list[str] = []
    for entry in declared:
        exact = entry.ids()
        if exact:
            for check_id in exact:
                if check_id not in results:
                    missing.append(check_id)
                elif results[check_id] not in ran:
                    not_run.append(check_id)
            continue
        found = {i: o for i, o in results.items() if entry.covers(i)}
        if not found:
            missing.append(entry.id if entry.cases == () else f"{entry.id}[...]")
        not_run += [i for i, o in found.items() if o not in ran]
    return Completeness(tuple(missing), tuple(not_run))
