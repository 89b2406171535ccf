"""Report paths (``--json``, ``--junit-xml``, ``--markdown``) never name a file the command reads or edits.

``bump --json pyproject.toml`` once replaced the just-bumped pyproject with the JSON report. ``refuse_inputs``
is called by the CLI before anything runs: a report path that is one of the command's inputs, or lies inside
a directory it reads as a whole (a suite, a golden, a contracts directory), or that two report options share,
is a usage error (exit 2). Paths are compared resolved (symlinks followed, ``..`` removed) and, for files that
exist, by device and inode, so a hard link or a symlink to an input is caught too.

``inputs`` lists what a command reads: the ``pyproject.toml``, ``setup.py`` and ``setup.cfg`` of the current
directory and every directory above it, the Store project's (and, for ``bump``, the requirements files it
may edit and the files their symlinks lead to), a local Store or Core artifact, the accept file, the Python
given by path, and the suite, golden and contracts directories; ``merge`` passes its shard reports.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import contract_check.suite as suites
from contract_check.config import Options
from contract_check.errors import UsageError
from contract_check.sources import refs

_OPTIONS = {"json": "--json", "junit": "--junit-xml", "markdown": "--markdown"}
_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class Inputs:
    files: tuple[Path, ...] = ()  # read or edited (need not exist)
    trees: tuple[Path, ...] = ()  # read as a whole: nothing may be written inside
    what: Mapping[Path, str] = field(default_factory=dict)  # how a message names an input, by its path


def _resolved(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):  # a name the file system refuses: compared as written
        return Path(os.path.abspath(path))


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system is a later step's usage error
        return False


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def refuse_inputs(outputs: Mapping[str, Path], inputs: Inputs) -> None:
    """UsageError when a report path is an input, lies in an input tree, or is shared by two options."""
    taken: dict[Path, str] = {}
    for name, path in outputs.items():
        option = _OPTIONS.get(name, name)
        where = _resolved(path)
        if where in taken:
            raise UsageError(
                f"{taken[where]} and {option} both name {path}: each report needs a file of its own",
                tip="give each report option a different file",
            )
        taken[where] = option
        problem = _clash(path, where, inputs)
        if problem:
            raise UsageError(
                f"{option} {str(path)!r} {problem}; a report never overwrites a file the command reads or edits",
                tip="write the report somewhere else (e.g. report.json next to pyproject.toml)",
            )


def _clash(path: Path, where: Path, inputs: Inputs) -> str | None:
    identity = _identity(where)
    for given in inputs.files:
        what = inputs.what.get(given, "an input")
        if _resolved(given) == where:
            return f"is {what} ({given})"
        if identity is not None and _identity(given) == identity:
            return f"is the same file as {what} ({given}: a hard link or symbolic link)"
    for tree in inputs.trees:
        root = _resolved(tree)
        if where == root or where.is_relative_to(root):
            return f"is inside {inputs.what.get(tree, 'a directory the command reads')} ({tree})"
    return None


def project_inputs(project: Path) -> list[Path]:
    """The files of a project that describe it: pyproject.toml, setup.py, setup.cfg."""
    return [project / name for name in _PROJECT_FILES]


def upward(cwd: Path) -> list[Path]:
    """The project files of *cwd* and of every directory above it (the config is found upward)."""
    here = _resolved(cwd)
    return [f for directory in (here, *here.parents) for f in project_inputs(directory)]


def collect(
    cwd: Path,
    *,
    files: Iterable[tuple[Path, str]] = (),
    trees: Iterable[tuple[Path, str]] = (),
) -> Inputs:
    """``Inputs`` from (path, what it is) pairs, plus the project files of *cwd* and above."""
    what: dict[Path, str] = {}
    listed: list[Path] = []
    for path in upward(cwd):
        listed.append(path)
        what[path] = "a project file"
    for path, description in files:
        listed.append(path)
        what.setdefault(path, description)
    tree_list = []
    for path, description in trees:
        tree_list.append(path)
        what.setdefault(path, description)
    return Inputs(tuple(listed), tuple(tree_list), what)


def of_options(options: Options, cwd: Path, *, bump_project: Path | None = None) -> Inputs:
    """What ``check`` and (with the project it edits) ``bump`` read for these options (see the module docstring)."""
    files: list[tuple[Path, str]] = []
    if bump_project is not None:
        files += [(p, "a file bump edits") for p in project_inputs(bump_project)]
        files += [(p, "a requirements file bump edits") for p in requirements_files(bump_project)]
    trees: list[tuple[Path, str]] = []
    local = [(options.store, "the Store")] if options.store else []
    local += [(ref, "a Core ref") for ref in options.core_refs]
    for spec, what in local:
        base, _ = refs.split_extras(spec)
        try:
            given = Path(base).expanduser()
        except RuntimeError:  # ~user of an unknown user: not a path of ours (refs says so)
            continue
        path = (cwd / given) if refs.looks_like_path(spec) or refs.path_exists(cwd / base) else None
        if path is None:
            continue
        if _is_dir(path):
            files += [(p, f"a file of {what} project") for p in project_inputs(path)]
            files += [(p, "a requirements file bump edits") for p in requirements_files(path)]
        else:
            files.append((path, f"{what} artifact"))
    if options.accept_file is not None:
        files.append((options.accept_file, "the accept file"))
    if options.python and os.sep in options.python:
        files.append((Path(options.python), "the Python"))
    suite_dir = options.suite or suites.builtin().directory
    trees.append((suite_dir, "the suite"))
    if options.golden is not None:
        trees.append((options.golden, "the golden directory"))
    for contract in options.contracts:
        (trees if _is_dir(contract) else files).append((contract, "your contracts"))
    return collect(cwd, files=files, trees=trees)


def requirements_files(project: Path) -> list[Path]:
    """The requirements files ``bump`` reads in *project*, and the files their symlinks lead to."""
    try:
        found = sorted([*project.glob("requirements*.txt"), *project.glob("requirements*.in")])
        return [*found, *(_resolved(p) for p in found if p.is_symlink())]
    except (OSError, ValueError):
        return []
