"""Which project a command stands in: from ``store/tests`` or ``store/src`` it is ``store``, as git, pytest and
uv find theirs by looking upward.

The project is the nearest directory, from the current one upward, that holds a ``pyproject.toml`` or a
``setup.py``, never past the root of the git checkout the command runs in (a directory with ``.git``: a
repository, a worktree or a submodule). Outside any checkout only the current directory counts, so that a
stray ``pyproject.toml`` in a parent directory (``/tmp``, a home directory) is never taken for the Store.
Its ``[tool.contract-check]`` is the configuration (``config.build``), and it is the default Store when it
depends on Core (``target.resolve_store``).
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKERS = ("pyproject.toml", "setup.py")


def _is_project(directory: Path) -> bool:
    return any((directory / name).is_file() for name in _MARKERS)


def _checkout_root(start: Path) -> Path | None:
    return next((d for d in (start, *start.parents) if os.path.lexists(d / ".git")), None)


def enclosing(cwd: Path) -> Path | None:
    """The project *cwd* is in (resolved), or None (see the module docstring)."""
    try:
        here = cwd.resolve()
        top = _checkout_root(here)
        for directory in (here, *here.parents):
            if _is_project(directory):
                return directory
            if top is None or directory == top:
                return None
    except (OSError, ValueError):  # a directory removed under us, a name too long for the file system
        return None
    return None


def relative(project: Path, cwd: Path) -> str:
    """*project* as the user would name it from *cwd* (``.``, ``..``, ``../..``)."""
    return os.path.relpath(project, cwd.resolve())
