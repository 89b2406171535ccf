"""A user contract missing a test dependency of its own: 'could not check' (3) with the flag that installs it.

Fast tests: the plugin's reading of a real ModuleNotFoundError (who imported what), the events it sends, the
tip, and the verdict. The end-to-end runs in a Store checkout are in test_store_checkout.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import every_builtin_passed
from contract_check import suite
from contract_check.errors import EnvironmentProblem
from contract_check.models import Check, ExitCode, Layer, Source, Status
from contract_check.run import events
from contract_check.run.events import MissingModule
from contract_check.run.pytest_session import Outcome
from contract_check.sandbox.inside import plugin
from contract_check.sources.refs import ResolvedRef
from contract_check.verdict import testdeps
from contract_check.verdict.classify import Baseline, Policy, classify

# ------------------------------------------------------------------------ the plugin reads the import


class World:
    """Modules written under tmp_path: a "Core" and a "Store" package on sys.path (unique names), and user
    files under a project root, imported the way pytest imports a test file."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        tag = uuid.uuid4().hex[:8]
        self.core, self.store = f"fakecore_{tag}", f"fakestore_{tag}"
        self.site, self.root = tmp_path / "site", tmp_path / "project"
        self.site.mkdir()
        self.root.mkdir()
        monkeypatch.syspath_prepend(str(self.site))
        self.roles = {self.core: "core", self.store: "store"}
        self._monkeypatch = monkeypatch

    def package(self, name: str, source: str) -> None:
        folder = self.site / name
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text(source, encoding="utf-8")

    def user_file(self, rel: str, source: str, *, root: Path | None = None) -> Path:
        path = (root or self.root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        return path

    def import_error(self, path: Path) -> BaseException:
        name = f"usermod_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            for loaded in [m for m in sys.modules if m.startswith((self.core, self.store))]:
                self._monkeypatch.delitem(sys.modules, loaded)
            return exc
        raise AssertionError(f"{path} imported without an error")

    def missing(self, exc: BaseException | None) -> dict[str, Any] | None:
        return plugin.missing_module(exc, str(self.root), self.roles)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


def test_a_user_file_importing_a_third_party_module(world: World) -> None:
    exc = world.import_error(world.user_file("tests/contracts/test_schema.py", "import jsonschema_not_here\n"))
    assert world.missing(exc) == {"module": "jsonschema_not_here", "importer": "user", "owner": None, "local": False}
    assert MissingModule("jsonschema_not_here", "user").test_dependency


def test_inside_a_function_and_through_importlib(world: World) -> None:
    source = "import importlib\n\ndef load():\n    return importlib.import_module('yaml_not_here.sub')\n\nload()\n"
    found = world.missing(world.import_error(world.user_file("tests/test_lazy.py", source)))
    assert found is not None and (found["module"], found["importer"]) == ("yaml_not_here", "user")  # the parent


def test_core_importing_something_missing_is_cores(world: World) -> None:
    world.package(world.core, "import orjson_not_here\n")
    exc = world.import_error(world.user_file("tests/test_core.py", f"import {world.core}\n"))
    assert world.missing(exc) == {"module": "orjson_not_here", "importer": "core", "owner": None, "local": False}


def test_the_store_importing_something_missing_is_the_stores(world: World) -> None:
    world.package(world.store, "import tomli_w_not_here\n")
    found = world.missing(world.import_error(world.user_file("tests/test_store.py", f"import {world.store}\n")))
    assert found is not None and (found["importer"], found["owner"]) == ("store", None)


def test_a_missing_core_module_is_owned_by_core(world: World) -> None:
    world.package(world.core, "")
    found = world.missing(world.import_error(world.user_file("tests/test_gone.py", f"import {world.core}.gone\n")))
    assert found is not None and (found["module"], found["importer"], found["owner"]) == (
        f"{world.core}.gone",
        "user",
        "core",
    )
    assert not MissingModule(found["module"], "user", "core").test_dependency


def test_a_file_outside_the_rootdir_is_other(world: World, tmp_path: Path) -> None:
    path = world.user_file("helper.py", "import nothing_here_either\n", root=tmp_path / "elsewhere")
    found = world.missing(world.import_error(path))
    assert found is not None and found["importer"] == "other"


def test_a_module_of_the_project_that_is_not_importable_is_local(world: World) -> None:
    world.user_file("tests/helpers_abc.py", "VALUE = 1\n")
    found = world.missing(world.import_error(world.user_file("tests/test_h.py", "import helpers_abc\n")))
    assert found is not None and found["local"] is True


def test_wrapped_errors_are_followed_to_their_cause(world: World) -> None:
    exc = world.import_error(world.user_file("tests/test_w.py", "import wrapped_not_here\n"))
    collect_error = RuntimeError("ImportError while importing test module")
    collect_error.__cause__ = exc  # how pytest raises a module's CollectError

    class ConftestImportFailure(Exception):
        def __init__(self, cause: BaseException) -> None:
            self.cause = cause

    for wrapped in (collect_error, ConftestImportFailure(exc)):
        found = world.missing(wrapped)
        assert found is not None and found["module"] == "wrapped_not_here"


def test_other_errors_are_not_missing_modules(world: World) -> None:
    world.package(world.core, "")
    exc = world.import_error(world.user_file("tests/test_n.py", f"from {world.core} import nothing\n"))
    assert isinstance(exc, ImportError) and world.missing(exc) is None  # an ImportError, no ModuleNotFoundError
    assert world.missing(ValueError("x")) is None and world.missing(None) is None


# ----------------------------------------------------------------------------------- events on the host


def result_event(**extra: Any) -> dict[str, Any]:
    return {"event": "result", "nodeid": "tests/test_a.py::test_b", "outcome": "failed", "message": "x", **extra}


def test_events_carry_the_missing_module(tmp_path: Path) -> None:
    missing = {"module": "jsonschema", "importer": "user", "owner": None, "local": False}
    lines = [
        result_event(missing=missing),
        {"event": "collect_error", "nodeid": "tests/conftest.py", "missing": missing},
    ]
    path = tmp_path / "out.jsonl"
    path.write_text("".join(f"{__import__('json').dumps(line)}\n" for line in lines), encoding="utf-8")
    read = events.read_events(path)
    assert [events.missing_of(e) for e in read] == [MissingModule("jsonschema", "user")] * 2
    assert events.missing_of(result_event()) is None


@pytest.mark.parametrize(
    "missing",
    [
        "jsonschema",
        {"module": "", "importer": "user"},
        {"module": "x", "importer": "somebody"},
        {"module": "x", "importer": "user", "owner": "pytest"},
        {"module": "x", "importer": "user", "local": "yes"},
    ],
)
def test_a_malformed_missing_field_makes_the_results_unusable(tmp_path: Path, missing: Any) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(result_event(missing=missing)) + "\n", encoding="utf-8")
    with pytest.raises(EnvironmentProblem, match="malformed"):
        events.read_events(path)


# ------------------------------------------------------------------------------------------------ the tip

STORE_REQUIRES = [
    "market-data-core<2.0.0,>=1.4.61",
    'jsonschema>=4.0; extra == "dev"',
    'tomli-w; extra == "test" or extra == "dev"',
    "pydantic>=2",
]


def test_extras_providing_match_module_names_canonically() -> None:
    assert testdeps.extras_providing("jsonschema", STORE_REQUIRES) == [("dev", "jsonschema")]
    assert testdeps.extras_providing("tomli_w", STORE_REQUIRES) == [("test", "tomli-w"), ("dev", "tomli-w")]
    assert testdeps.extras_providing("pydantic", STORE_REQUIRES) == []  # a dependency, not an extra's
    assert testdeps.extras_providing("yaml", STORE_REQUIRES) == []


@pytest.mark.parametrize(
    ("spec", "module", "says"),
    [
        (".", "jsonschema", "--store '.[dev]' (its [dev] extra requires jsonschema)"),
        ("../store[test]", "jsonschema", "--store '../store[test,dev]'"),
        ("market-data-store==0.6.73", "jsonschema", "--store 'market-data-store[dev]==0.6.73'"),
        (".", "hypothesis", '--with hypothesis (or with = ["hypothesis"] in [tool.contract-check])'),
    ],
)
def test_remedy_names_the_extra_or_with(spec: str, module: str, says: str) -> None:
    tip = testdeps.remedy(MissingModule(module, "user"), store_spec=spec, store_requires=STORE_REQUIRES)
    assert says in tip
    if "extra" in says:
        assert 'store-extras = ["dev"]' in tip


def test_remedy_for_a_module_of_the_project_itself() -> None:
    tip = testdeps.remedy(MissingModule("helpers", "user", local=True), store_spec=".", store_requires=[])
    assert "file of the project" in tip and "--with" not in tip


# ----------------------------------------------------------------------------------------------- verdict

RESOLVED = ResolvedRef("1.4.61", "market-data-core==1.4.61", Source.INDEX)
POLICY = Policy(
    core_package="market-data-core",
    store_name="market-data-store",
    store_spec=".",
    declared=tuple(suite.builtin().declared_checks([])),
)


def user_check(check_id: str, status: Status = Status.FAILED) -> Check:
    return Check(id=check_id, subject="test_x", layer=Layer.USER, status=status, message="No module named ...")


def outcome(*extra: Check, missing: dict[str, MissingModule], builtin: list[Check] | None = None) -> Outcome:
    checks = [*(every_builtin_passed() if builtin is None else builtin), *extra]
    return Outcome(
        completed=True,
        checks=checks,
        versions={"market-data-core": "1.4.61", "market-data-store": "0.6.73"},
        requires={"market-data-store": STORE_REQUIRES},
        missing_modules=missing,
    )


def judged(result: Outcome) -> tuple[int, str | None, str | None]:
    run = classify(RESOLVED, result, Baseline(None, "none"), POLICY)
    return run.exit_code, run.error, run.error_kind


def test_only_missing_test_dependencies_could_not_check() -> None:
    a, b = "tests/contracts/test_schema.py::test_valid", "collect:tests/contracts/test_more.py"
    code, error, kind = judged(
        outcome(
            user_check(a),
            user_check(b, Status.ERROR),
            user_check("tests/contracts/test_ok.py::test_ok", Status.PASSED),
            missing={a: MissingModule("jsonschema", "user"), b: MissingModule("jsonschema.validators", "user")},
        )
    )
    assert (code, kind) == (ExitCode.ENVIRONMENT, "missing-test-dependency")
    assert error is not None and "could not check" in error
    assert f"jsonschema (needed by {a})" in error and f"jsonschema.validators (needed by {b})" in error
    assert "tip: install them: --store '.[dev]' (its [dev] extra requires jsonschema)" in error


@pytest.mark.parametrize(
    "missing",
    [
        MissingModule("market_data_core.gone", "user", owner="core"),  # a missing Core module
        MissingModule("orjson", "core"),  # Core imports something missing
        MissingModule("tomli_w", "store"),  # the Store imports something missing
        MissingModule("something", "other"),  # a third-party package imports something missing
    ],
)
def test_missing_modules_that_are_not_the_contracts_own_stay_broken(missing: MissingModule) -> None:
    a = "tests/contracts/test_x.py::test_y"
    code, _, _ = judged(outcome(user_check(a), missing={a: missing}))
    assert code == ExitCode.BROKEN


def test_any_other_failure_keeps_the_run_broken() -> None:
    a, b = "tests/contracts/test_schema.py::test_valid", "tests/contracts/test_x.py::test_assert"
    code, _, _ = judged(outcome(user_check(a), user_check(b), missing={a: MissingModule("jsonschema", "user")}))
    assert code == ExitCode.BROKEN


def test_a_builtin_failing_on_a_missing_module_is_a_break() -> None:
    builtin = every_builtin_passed()
    broken = builtin[0].model_copy(update={"status": Status.FAILED, "message": "No module named 'jsonschema'"})
    result = outcome(builtin=[broken, *builtin[1:]], missing={broken.id: MissingModule("jsonschema", "user")})
    assert judged(result)[0] == ExitCode.BROKEN


def test_a_passing_run_is_untouched() -> None:
    assert judged(outcome(user_check("t::ok", Status.PASSED), missing={}))[:2] == (ExitCode.OK, None)


# ------------------------------------------------------------------ the plugin in a real pytest session


def run_plugin(project: Path, tmp_path: Path, *pytest_args: str) -> list[dict[str, Any]]:
    """The in-sandbox launcher and plugin, run with this environment's pytest in *project* (user mode)."""
    import shutil
    import subprocess

    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    source = Path(plugin.__file__)
    shutil.copyfile(source, plugin_dir / "contract_check_plugin.py")
    shutil.copyfile(source.with_name("rule_ids.py"), plugin_dir / "contract_check_rules.py")
    out = tmp_path / "events.jsonl"
    env = {"PATH": os.environ["PATH"], "CONTRACT_CHECK_OUT": str(out), "CONTRACT_CHECK_DISTS": "pydantic,pytest"}
    argv = [sys.executable, "-I", "-B", str(plugin_dir / "contract_check_plugin.py"), "--user", "--"]
    argv += ["-p", "contract_check_plugin", "-q", "--rootdir", str(project), *pytest_args, str(project)]
    subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []


@pytest.mark.slow
def test_xdist_workers_asked_for_by_addopts_run_in_one_process(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-n 2"\n', encoding="utf-8")
    (project / "test_where.py").write_text(
        "import os\n\nimport pytest\n\n\n@pytest.mark.parametrize('n', range(4))\n"
        "def test_where(n):\n    assert 'PYTEST_XDIST_WORKER' not in os.environ\n",
        encoding="utf-8",
    )
    found = run_plugin(project, tmp_path, "-c", str(project / "pyproject.toml"))
    results = [e for e in found if e["event"] == "result"]
    assert sorted(e["outcome"] for e in results) == ["passed"] * 4, results
    assert [e["event"] for e in found].count("end") == 1


@pytest.mark.slow
def test_a_conftest_missing_a_module_at_startup_is_reported(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "conftest.py").write_text("import hypothesis_not_here\n", encoding="utf-8")
    (project / "tests" / "test_a.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    found = run_plugin(project, tmp_path)
    (error,) = [e for e in found if e["event"] == "collect_error"]
    assert error["nodeid"] == "tests/conftest.py"
    assert error["missing"] == {"module": "hypothesis_not_here", "importer": "user", "owner": None, "local": False}
    assert "ModuleNotFoundError: No module named 'hypothesis_not_here'" in error["message"]
