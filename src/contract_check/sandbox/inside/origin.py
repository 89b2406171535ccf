"""Where a failing contract's error came from (stdlib + pytest only; copied into the sandbox next to the
plugin as ``contract_check_origin``): the phase, the fixture whose setup raised, or the contract's own
statement that called the code that raised. The plugin puts it in a result's ``origin`` (see
``sandbox_plugin``), so that a ``ValidationError`` raised while a contract builds its test data is not read
as a break of the property the contract checks.
"""

from __future__ import annotations

import linecache
import os
from typing import Any

import pytest

CODE_LIMIT = 160  # characters of the statement


def relative(path: str, root: str) -> str:
    """*path* relative to *root* (the session's rootdir, as node ids are), else its file name."""
    path, root = os.path.realpath(path), os.path.realpath(root)
    inside = (path + os.sep).startswith(root + os.sep)
    return (os.path.relpath(path, root) if inside else os.path.basename(path)).replace(os.sep, "/")


# an exception a fixture's setup raised -> (the exception, where): pytest re-raises a session fixture's cached
# exception for every contract that requests it, so the exception itself says which fixture it came from
_FIXTURE_ERRORS: dict[int, tuple[BaseException, dict[str, Any]]] = {}


def fixture_failed(exc: BaseException, fixturedef: Any, request: Any) -> None:
    """Remember that the setup of *fixturedef* raised *exc* (from ``pytest_fixture_setup``)."""
    code = getattr(getattr(fixturedef, "func", None), "__code__", None)
    where: dict[str, Any] = {"fixture": str(getattr(fixturedef, "argname", "") or "?")}
    if code is not None:
        where["path"] = relative(code.co_filename, str(request.config.rootpath))
        where["line"] = _def_line(code.co_filename, code.co_firstlineno)
    _FIXTURE_ERRORS.setdefault(id(exc), (exc, where))  # the innermost fixture raises first


def _def_line(path: str, first: int) -> int:
    """The ``def`` line of a function whose code starts at *first* (its first decorator)."""
    for number in range(first, first + 20):
        if linecache.getline(path, number).lstrip().startswith(("def ", "async def ")):
            return number
    return first


def _statement(entry: Any) -> str:
    try:
        statement = " ".join(str(entry.statement).split())
    except Exception:  # no source (a zipped or generated module)
        return ""
    return statement if len(statement) <= CODE_LIMIT else statement[: CODE_LIMIT - 1] + "…"


def origin_of(item: pytest.Item, call: pytest.CallInfo[None]) -> dict[str, Any]:
    """``{"phase"[, "fixture"][, "path", "line"][, "code"]}`` for a failed phase of *item*."""
    out: dict[str, Any] = {"phase": call.when}
    excinfo = call.excinfo
    if excinfo is None:
        return out
    if call.when == "setup":
        known = _FIXTURE_ERRORS.get(id(excinfo.value))
        if known is not None and known[0] is excinfo.value:
            out.update(known[1])
        return out
    own = str(getattr(item, "path", "") or "")
    entries = list(excinfo.traceback)
    mine = [e for e in entries if str(e.path) == own]
    if call.when == "call" and mine and entries[-1] is not mine[-1]:  # raised by code the contract called
        out["path"] = relative(own, str(item.config.rootpath))
        out["line"] = mine[-1].lineno + 1
        code = _statement(mine[-1])
        if code:
            out["code"] = code
    return out
