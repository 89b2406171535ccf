"""The sandbox's Python (``--python``): an interpreter that is installed, never one uv downloads for a check.

Left to itself, uv downloads a CPython it cannot find (16-21 s, and a sandbox on an interpreter nobody chose,
or a network error after a while). Every uv call that is given ``--python`` also gets ``NO_DOWNLOADS``; when
uv then finds no interpreter for the request, ``not_installed`` makes that a usage error (exit 2) naming the
interpreters that are installed (``uv python list --only-installed``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from contract_check.errors import ContractCheckError, UsageError
from contract_check.util import proc

NO_DOWNLOADS = "--no-python-downloads"  # the flag of UV_PYTHON_DOWNLOADS=never
SHOWN = 8  # installed interpreters named in the error
# uv's words when no interpreter matches a request, or the one on PATH cannot run (a pyenv shim of a version
# that is not selected: "pyenv: python3.12: command not found")
_NOT_FOUND = re.compile(r"no interpreter found|failed to inspect python interpreter", re.I)


def installed(uv: str, env: Mapping[str, str]) -> list[str]:
    """The installed interpreters as uv sees them, one per version, newest first ("3.11.7 (/usr/bin/python3)");
    empty when uv cannot say."""
    argv = [uv, "python", "list", "--only-installed", "--no-config", NO_DOWNLOADS, "--output-format", "json"]
    try:
        done = proc.run(argv, env=dict(env), timeout=60, what="uv python list")
        found = json.loads(done.stdout) if done.ok else []
    except (ContractCheckError, OSError, ValueError):
        return []
    out: dict[str, str] = {}
    for entry in found if isinstance(found, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            path = str(entry.get("path") or "?")  # uv names one on PATH relative to where it ran
            out.setdefault(entry["version"], os.path.abspath(path) if path != "?" else path)
    return [f"{version} ({path})" for version, path in out.items()]


def _reason(output: str) -> str:
    """uv's own words: its first ``error:`` paragraph, on one line (uv wraps its lines to the terminal)."""
    lines = [line.strip() for line in output.splitlines()]
    first = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if first is None:
        return ""
    words = [lines[first].removeprefix("error:").strip()]
    for line in lines[first + 1 :]:
        if not line or line.startswith(("cause:", "hint:", "warning:", "error:", "[")):
            break
        words.append(line)
    return " ".join(words)


def not_installed(python: str, output: str, *, uv: str, env: Mapping[str, str]) -> UsageError | None:
    """The usage error for a ``--python`` uv found no interpreter for; None when *output* says something else."""
    if not _NOT_FOUND.search(output):
        return None
    found = installed(uv, env)
    listing = ", ".join(found[:SHOWN]) + (f" and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
    shown = proc.redact(python)
    if os.sep in python:
        wanted = "give the path of a Python interpreter, or a version"
    else:
        wanted = f"install it first (uv python install {shown}), or give one that is installed"
    reason = _reason(output) or "no interpreter found"
    return UsageError(
        f"--python {shown}: no such Python is installed ({reason}); the tool never downloads one",
        tip=f"{wanted}: {listing or 'uv lists none'}",
    )
