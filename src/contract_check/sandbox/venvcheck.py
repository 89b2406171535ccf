"""Is a directory still the virtualenv the tool made? Checked before anything is installed into it.

A venv is only a venv while its ``pyvenv.cfg`` is there: without it, its ``bin/python`` (a link to the Python it
was made from) starts as that Python, and ``uv pip install --python <venv>/bin/python`` installs into that
Python's own site-packages. A clean-up of the cache while a sandbox is cloned from a shared environment can
leave exactly that, so the sandbox records its venv's identity when it is made and compares it before and
after every uv call that installs or uninstalls (``sandbox.Sandbox.verify_venv``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.util import fsread

Identity = tuple[int, int, bytes]  # pyvenv.cfg's device, inode and bytes


def interpreter(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def identity(venv: Path) -> Identity | None:
    """pyvenv.cfg's device, inode and bytes when *venv* is whole: a real directory, its scripts directory a real
    directory inside it holding the interpreter, its pyvenv.cfg a regular file that names a home; else None."""
    cfg = venv / "pyvenv.cfg"
    python = interpreter(venv)
    try:
        if not (stat.S_ISDIR(venv.lstat().st_mode) and stat.S_ISDIR(python.parent.lstat().st_mode)):
            return None
        st = cfg.lstat()
        if not (stat.S_ISREG(st.st_mode) and os.path.lexists(python)):
            return None
        data = fsread.read_bytes(cfg, limit=64 * fsread.KIB, what="pyvenv.cfg")
    except (OSError, UsageError):
        return None
    if not any(line.partition("=")[0].strip() == "home" for line in data.decode("utf-8", "replace").splitlines()):
        return None
    return st.st_dev, st.st_ino, data


def whole(venv: Path) -> bool:
    return identity(venv) is not None


def verify(venv: Path, created: Identity | None) -> None:
    """EnvironmentProblem (exit 3) unless *venv* is whole and still has the pyvenv.cfg it was *created* with.
    Called before and after every uv call that installs or uninstalls, and before its interpreter writes
    bytecode."""
    if created is not None and identity(venv) == created:
        return
    what = "has no pyvenv.cfg or no interpreter" if created is None else "is no longer the one it created"
    raise unusable(venv, f"{what}, so nothing was installed: uv would have installed into the Python it was made from")


def unusable(venv: Path, what: str) -> EnvironmentProblem:
    """The error for a sandbox whose venv cannot be used (exit 3, this ref only)."""
    return EnvironmentProblem(
        f"the sandbox's virtualenv {venv} {what} (was the cache directory cleaned up while the check ran?)",
        tip="run the check again; contract-check cache clear and prune leave environments in use alone",
        kind="environment",
    )
