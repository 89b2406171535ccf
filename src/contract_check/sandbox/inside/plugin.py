"""pytest plugin that runs INSIDE the sandbox (stdlib + pytest only; copied there, never imported by the host).

It appends one JSON object per line to ``$CONTRACT_CHECK_OUT`` and flushes each line, so that a contract
that hangs, segfaults or calls ``os._exit`` still leaves behind everything that happened before it:
  {"event": "env", "versions": {...}, "requires": {...}}
  {"event": "start", "nodeid", "id", "subject", "layer"}
  {"event": "result", "nodeid", "outcome", "message", "duration", "id", "subject", "layer", "warnings"[, "missing"]}
  {"event": "collect_error", "nodeid", "message"[, "missing"]}
  {"event": "artifact", "name", "data"}
  {"event": "origins", "modules": {dist: {module: file}}}
  {"event": "end", "exitstatus": int}
``outcome`` is passed, failed, error, skipped, xfailed or xpassed. Contracts mark themselves with
``@pytest.mark.contract(id=..., subject=..., layer=...)``; a test without the marker (a user's own
contract) is reported by its node id.

``missing`` is set when a failure (a test, a collection, a conftest loaded at start-up) comes from a
``ModuleNotFoundError``: ``{"module": its name, "importer": who ran the import ("core", "store", "user" for a
file under the rootdir, "other"), "owner": "core" or "store" when the missing module is theirs, else null,
"local": whether a file or directory of that name sits next to the importing file or in the rootdir}``.
``$CONTRACT_CHECK_DISTS`` names Core first, then the Store. ``origin`` (a failed result) says where the error
came from: the phase, the fixture whose setup raised, or the contract's statement (see ``sandbox_origin``).

Run as a script (``python -I -B contract_check_plugin.py --sealed|--user -- PYTEST-ARGS``) it is also the
launcher: it drops the pytest variables that a ``sitecustomize`` or ``.pth`` file may have set after the host
scrubbed the environment, and runs pytest with this plugin.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import warnings
from importlib import metadata
from typing import Any

import pytest

_OUT = os.environ.get("CONTRACT_CHECK_OUT", "")


try:  # copied next to this file by the host; absent only when the plugin is imported on its own
    from contract_check_rules import Rule
except ImportError:  # pragma: no cover
    Rule = None
try:  # copied next to this file too; absent when the launcher runs (before sys.path has this directory)
    import contract_check_origin as sandbox_origin  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    sandbox_origin = None


class ContractWarning(UserWarning):
    """Raised (via warnings.warn) by a contract to report a compatible-but-notable change: a WARN row."""


class SubjectError(Exception):
    """A subject of the suite cannot be loaded; the message starts with the rule ID the host reports."""


def warn(rule: Any, message: str) -> None:
    """Report a compatible-but-notable change as a WARN row under *rule* (a ``Rule`` member)."""
    warnings.warn(ContractWarning(f"{rule}: {message}"), stacklevel=2)


def read_json(path: str, limit: int = 64 * 1024 * 1024) -> Any:
    """A JSON file the host wrote into this sandbox (suite.json, the baseline's payloads), read bounded."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RuntimeError(f"{path} is larger than {limit} bytes: not a file contract-check wrote")
    return json.loads(data.decode("utf-8"))


def _suite() -> dict[str, Any]:
    path = os.environ.get("CONTRACT_CHECK_SUITE", "")
    return dict(read_json(path)) if path else {"subjects": {}, "examples": {}, "golden": None}


SUITE = _suite()


def load_subject(name: str) -> Any:
    """The object a subject names (``module:attr`` in suite.toml), imported in this sandbox."""
    target = SUITE["subjects"].get(name)
    if target is None:
        raise SubjectError(f"MODEL_MISSING: the suite declares no subject {name!r}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure at import time is a broken contract
        raise SubjectError(f"IMPORT_FAILED: import {module_name} failed: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SubjectError(f"MODEL_MISSING: {module_name} no longer exports {attr}") from None


@pytest.fixture(scope="session")
def subject() -> Any:
    """``subject(name)``: the candidate's object for a subject of the suite (IMPORT_FAILED/MODEL_MISSING)."""
    return load_subject


class ContractAborted(Exception):
    """A contract (or the code it called) raised KeyboardInterrupt or SystemExit: that contract failed."""


def _emit(record: dict[str, Any]) -> None:
    if not _OUT:
        return
    with open(_OUT, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=repr) + "\n")
        fh.flush()


def _dist(name: str) -> tuple[str | None, list[str]]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None, []
    return dist.version, list(dist.requires or [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract(id, subject, layer='assertion'): a contract-check check")
    config.addinivalue_line("filterwarnings", "always::contract_check_plugin.ContractWarning")
    if getattr(config.option, "dist", "no") != "no":  # pytest-xdist asked for workers (-n in a user's addopts):
        # the contracts run in this process, where a crash or a hang is told apart from the others
        config.option.dist, config.option.tx, config.option.numprocesses = "no", [], 0
    names = [n for n in os.environ.get("CONTRACT_CHECK_DISTS", "").split(",") if n]
    versions, requires = {}, {}
    for name in [*names, "pydantic", "pytest"]:
        version, reqs = _dist(name)
        if version is not None:
            versions[name] = version
            requires[name] = reqs
    versions["python"] = ".".join(map(str, sys.version_info[:3]))
    _emit({"event": "env", "versions": versions, "requires": requires})


def _describe(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker("contract")
    if marker is None:
        return {
            "id": item.nodeid,
            "subject": item.path.stem if hasattr(item, "path") else "user",
            "layer": "user",
        }
    callspec = getattr(item, "callspec", None)
    suffix = f"[{callspec.id}]" if callspec is not None else ""
    return {
        "id": marker.kwargs.get("id", item.name) + suffix,
        "subject": marker.kwargs.get("subject", "?"),
        "layer": marker.kwargs.get("layer", "assertion"),
    }


_WARNINGS: dict[str, list[str]] = {}


def pytest_warning_recorded(warning_message: warnings.WarningMessage, when: str, nodeid: str, location: Any) -> None:
    if issubclass(warning_message.category, ContractWarning):
        _WARNINGS.setdefault(nodeid, []).append(str(warning_message.message))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _emit({"event": "start", "nodeid": item.nodeid, **_describe(item)})
    result = yield
    _finish(item)
    return result


_REPORTS = pytest.StashKey[list[pytest.TestReport]]()
_MISSING = pytest.StashKey[dict[str, Any]]()
_ORIGIN = pytest.StashKey[dict[str, Any]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, []).append(report)
    if report.failed and call.excinfo is not None and _MISSING not in item.stash:
        found = missing_module(call.excinfo.value, str(item.config.rootpath))
        if found is not None:
            item.stash[_MISSING] = found
    if report.failed and _ORIGIN not in item.stash and sandbox_origin is not None:
        item.stash[_ORIGIN] = sandbox_origin.origin_of(item, call)
    return report


def _message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(report.longrepr or "")


def _guards(item: pytest.Item) -> str:
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _finish(item: pytest.Item) -> None:
    reports = item.stash.get(_REPORTS, [])
    outcome, message, duration = "passed", _guards(item), 0.0
    for report in reports:
        duration += report.duration
        if hasattr(report, "wasxfail"):  # xfail: neither a pass nor a failure of the contract it names
            outcome, message = ("xfailed" if report.skipped else "xpassed"), str(report.wasxfail or "")
            continue
        if report.failed:
            # a failure outside the test body (fixture setup/teardown) is an error, not a failed assertion
            outcome, message = ("failed" if report.when == "call" else "error"), _message(report)
            break
        if report.skipped:
            outcome, message = "skipped", _message(report)
    record = {
        "event": "result",
        "nodeid": item.nodeid,
        "outcome": outcome,
        "message": message,
        "duration": round(duration, 4),
        "warnings": _WARNINGS.get(item.nodeid, []),
        **_describe(item),
    }
    if outcome in ("failed", "error") and _MISSING in item.stash:
        record["missing"] = item.stash[_MISSING]
    if outcome in ("failed", "error") and _ORIGIN in item.stash:
        record["origin"] = item.stash[_ORIGIN]
    _emit(record)


_COLLECT_MISSING: dict[str, dict[str, Any]] = {}  # node id of a failed collection -> its missing module


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report: pytest.CollectReport = yield
    call = getattr(report, "call", None)  # pytest keeps the collection's CallInfo on the report until it is sent
    excinfo = getattr(call, "excinfo", None)
    if report.failed and excinfo is not None:
        found = missing_module(excinfo.value, str(collector.config.rootpath))
        if found is not None:
            _COLLECT_MISSING[report.nodeid] = found
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        record: dict[str, Any] = {"event": "collect_error", "nodeid": report.nodeid}
        record["message"] = str(report.longrepr)[-2000:]
        if report.nodeid in _COLLECT_MISSING:
            record["missing"] = _COLLECT_MISSING[report.nodeid]
        _emit(record)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    """A conftest.py that fails to import at start-up ends pytest before any hook reports it: say so here
    when a missing module is why (pytest then exits with status 4)."""
    try:
        return (yield)
    except Exception as exc:
        root = str(early_config.rootpath)
        found = missing_module(exc, root)
        if found is not None:
            path = str(getattr(exc, "path", "") or "conftest.py")
            nodeid = os.path.relpath(path, root) if os.path.isabs(path) else path
            cause = getattr(exc, "cause", None) or exc
            message = f"ImportError while loading conftest {nodeid}: {type(cause).__name__}: {cause}"
            nodeid = nodeid.replace(os.sep, "/")
            _emit({"event": "collect_error", "nodeid": nodeid, "message": message, "missing": found})
        raise


_IMPORTLIB_DIR = os.path.dirname(importlib.__file__)


def _roles() -> dict[str, str]:
    """Top-level module -> "core" or "store": the modules the checked distributions install, and the modules
    the suite's subjects name (Core's, even when Core installed none of them)."""
    names = [n for n in os.environ.get("CONTRACT_CHECK_DISTS", "").split(",") if n]
    wanted = {_canonical(name): role for name, role in zip(names, ("core", "store"), strict=False)}
    out: dict[str, str] = {}
    try:
        tops = metadata.packages_distributions()
    except Exception:
        tops = {}
    for top, dists in tops.items():
        for dist in dists:
            role = wanted.get(_canonical(dist))
            if role is not None:
                out.setdefault(top, role)
    for target in SUITE.get("subjects", {}).values():
        out.setdefault(str(target).partition(":")[0].split(".")[0], "core")
    return out


def missing_module(exc: BaseException | None, root: str, roles: dict[str, str] | None = None) -> dict[str, Any] | None:
    """What ``missing`` says (see the module docstring) when *exc* is, or was caused by, a
    ModuleNotFoundError; None otherwise. The importer is the innermost frame outside importlib; *roles*
    (top-level module -> core/store) defaults to what this environment has installed (``_roles``)."""
    for _ in range(8):  # pytest wraps it: CollectError from ImportError, ConftestImportFailure(cause=...)
        if exc is None or isinstance(exc, ModuleNotFoundError):
            break
        exc = getattr(exc, "cause", None) or exc.__cause__
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    frame = None
    tb = exc.__traceback__
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        if not (file.startswith("<frozen importlib") or os.path.dirname(file) == _IMPORTLIB_DIR):
            frame = tb.tb_frame
        tb = tb.tb_next
    roles = _roles() if roles is None else roles
    top = exc.name.split(".")[0]
    importer, local = "other", False
    if frame is not None:
        file = os.path.realpath(frame.f_code.co_filename)
        module = str(frame.f_globals.get("__name__") or "")
        under_root = bool(root) and (file + os.sep).startswith(os.path.realpath(root) + os.sep)
        importer = roles.get(module.split(".")[0]) or ("user" if under_root else "other")
        places = [os.path.dirname(file), *([root] if root else [])]
        local = any(os.path.exists(os.path.join(p, name)) for p in places for name in (top, top + ".py"))
    return {"module": exc.name, "importer": importer, "owner": roles.get(top), "local": local}


@pytest.fixture
def contract_artifact() -> Any:
    """``contract_artifact(name, data)``: hand JSON-able data (schemas, payloads) to the host."""

    def record(name: str, data: Any) -> None:
        _emit({"event": "artifact", "name": name, "data": data})

    return record


def _aborted(exc: BaseException) -> ContractAborted:
    return ContractAborted(f"{type(exc).__name__} raised while the contract ran: {exc!r}")


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    try:
        return (yield)
    except (KeyboardInterrupt, SystemExit) as exc:  # nothing outside sends these: the code under test did
        raise _aborted(exc) from None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Any:
    try:
        return (yield)
    except (KeyboardInterrupt, SystemExit) as exc:
        aborted = _aborted(exc)
        if sandbox_origin is not None:
            sandbox_origin.fixture_failed(aborted, fixturedef, request)
        raise aborted from None
    except Exception as exc:
        if sandbox_origin is not None:
            sandbox_origin.fixture_failed(exc, fixturedef, request)
        raise


def _origins() -> dict[str, dict[str, str]]:
    """Where the modules of the checked distributions were imported from (their ``__file__``)."""
    names = [n for n in os.environ.get("CONTRACT_CHECK_DISTS", "").split(",") if n]
    try:
        tops = metadata.packages_distributions()
    except Exception:
        return {}
    wanted = {_canonical(n): n for n in names}
    out: dict[str, dict[str, str]] = {}
    for top, dists in tops.items():
        for dist in dists:
            name = wanted.get(_canonical(dist))
            if name is None:
                continue
            for module_name, module in list(sys.modules.items()):
                if module_name != top and not module_name.startswith(top + "."):
                    continue
                file = getattr(module, "__file__", None)
                if isinstance(file, str):
                    out.setdefault(name, {})[module_name] = os.path.realpath(file)
    return out


def _canonical(name: str) -> str:
    return "".join("-" if c in "._" else c for c in name.lower())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _emit({"event": "origins", "modules": _origins()})
    _emit({"event": "end", "exitstatus": int(exitstatus)})


# pytest variables a sitecustomize or .pth file could set after the host scrubbed the environment
_CLEARED = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_DEBUG")


def main(argv: list[str]) -> int:
    """``--sealed -- ARGS``: the built-in suite, no plugin autoloading; ``--user -- ARGS``: user contracts."""
    mode, _, args = argv[0], argv[1], argv[2:]
    for name in _CLEARED:
        os.environ.pop(name, None)
    if mode == "--sealed":
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1:]))
