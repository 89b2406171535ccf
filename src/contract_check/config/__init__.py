"""Settings: command-line flags over ``[tool.contract-check]`` in the Store's pyproject.toml over the suite's
defaults. Each setting is declared once, as an ``Options`` field (``config.options``); ``build``
(``config.compose``) merges, normalises and validates them; ``config.pyproject`` reads the Store's file and
``config.values`` checks single values."""

from __future__ import annotations

import os
from pathlib import Path

from contract_check.config.compose import build
from contract_check.config.options import DEFAULT_TIMEOUT, Options, Origin, Paths, Spec, by_key, settings
from contract_check.config.pyproject import (
    PYPROJECT_LIMIT,
    declared_specifier,
    depends_on,
    read_pyproject,
    split_refs,
    tool_table,
)
from contract_check.config.values import (
    GIT_URL_FORMS,
    MAX_TIMEOUT,
    check_git_url,
    check_range,
    check_text,
    shown,
    versions_usable,
)


def cache_root() -> Path:
    """Where shared environments, built Store wheels and results are kept: ``$CONTRACT_CHECK_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/contract-check``, else ``~/.cache/contract-check``; absolute (a relative value means the
    current directory's: children run elsewhere, and a wheel's ``file:`` URL must be absolute), ``~`` expanded.
    What the tool may write and delete there: ``cachedir``."""
    explicit = os.environ.get("CONTRACT_CHECK_CACHE_DIR")
    if explicit:
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(os.path.abspath(os.path.expanduser(xdg) if xdg else Path.home() / ".cache")) / "contract-check"


__all__ = [
    "DEFAULT_TIMEOUT",
    "GIT_URL_FORMS",
    "MAX_TIMEOUT",
    "PYPROJECT_LIMIT",
    "Options",
    "Origin",
    "Paths",
    "Spec",
    "build",
    "by_key",
    "cache_root",
    "check_git_url",
    "check_range",
    "check_text",
    "declared_specifier",
    "depends_on",
    "read_pyproject",
    "settings",
    "shown",
    "split_refs",
    "tool_table",
    "versions_usable",
]
