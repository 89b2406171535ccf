"""The fake Core/Store fixture packages: sources, variants, hand-written wheels/sdists, git history.

Fast tests check the fixtures themselves (and that every variant really means what its rule says,
by importing it in-process with the host's pydantic). Tests marked ``slow`` install them for real with
uv into fresh virtualenvs: find-links + ``--overrides``, ``git+file://`` refs, sdists and directories.
"""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ValidationError

from fixturepkgs import (
    CORE_DIST,
    CORE_IMPORT,
    RULE_SEVERITY,
    STORE_CORE_RANGE,
    STORE_DIST,
    STORE_IMPORT,
    VARIANTS,
    FixtureEditError,
    FixtureWorld,
    apply_edits,
    build_core_wheel,
    build_sdist,
    build_store_wheel,
    core_files,
    direct_requirement,
    git_requirement,
    make_core_git_repo,
    store_files,
    write_core_project,
    write_store_project,
)

# --------------------------------------------------------------------------------------------------
# Sources and variants
# --------------------------------------------------------------------------------------------------


def test_baseline_sources_compile() -> None:
    files = {**core_files(), **store_files()}
    assert set(core_files()) == {
        "market_data_core/__init__.py",
        "market_data_core/telemetry/__init__.py",
        "market_data_core/telemetry/backpressure.py",
        "market_data_core/telemetry/health.py",
    }
    for rel, text in files.items():
        compile(text, rel, "exec")
    assert '__version__ = "0.0.0-stale"' in core_files()["market_data_core/__init__.py"]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_edits_apply(name: str) -> None:
    variant = VARIANTS[name]
    assert variant.name == name
    files = core_files(name)
    for rel, text in files.items():
        compile(text, rel, "exec")
    if name == "baseline":
        assert files == core_files() and variant.edits == ()
    else:
        assert files != core_files(), "a variant must change something"
        assert set(files) == set(core_files()), "variants keep the file set"


def test_variant_table_matches_design_rules() -> None:
    for variant in VARIANTS.values():
        assert variant.expect is None or variant.expect in RULE_SEVERITY, variant.name
        assert variant.expect_exit == (1 if variant.severity == "ERR" else 0), variant.name
        assert variant.expect_exit_strict == (1 if variant.severity in ("ERR", "WARN") else 0)
        assert variant.description.strip(), variant.name
    covered = {v.expect for v in VARIANTS.values()}
    assert set(RULE_SEVERITY) <= covered, f"rules without a variant: {set(RULE_SEVERITY) - covered}"


def test_edits_must_match_exactly_once() -> None:
    files = {"a.py": "x = 1\nx = 1\ny = 2\n"}
    assert apply_edits(files, [("a.py", "y = 2", "y = 3")])["a.py"].endswith("y = 3\n")
    assert apply_edits(files, [("b.py", None, "z = 0\n")])["b.py"] == "z = 0\n"
    with pytest.raises(FixtureEditError, match="found 2"):
        apply_edits(files, [("a.py", "x = 1", "x = 2")])
    with pytest.raises(FixtureEditError, match="found 0"):
        apply_edits(files, [("a.py", "w = 0", "")])
    with pytest.raises(FixtureEditError, match="no such file"):
        apply_edits(files, [("b.py", "w = 0", "")])
    with pytest.raises(KeyError, match="unknown Core variant"):
        core_files("nope")


# ---- what each variant means, checked with the host's pydantic -----------------------------------

GOLDEN_EVENT: dict[str, Any] = {
    "coordinator_id": "bars-coord",
    "queue_size": 0,
    "capacity": 1,
    "level": "hard",
    "source": "store",
    "ts": 1_700_000_000.25,
}
HEALTH_STATES = ("healthy", "degraded", "unhealthy")
GOLDEN_HEALTH: dict[str, Any] = {
    "service": "store",
    "state": "degraded",
    "components": [{"name": f"c-{s}", "state": s, "details": {"pool": "8/10"}} for s in HEALTH_STATES],
    "version": "0.1.0",
    "ts": 1_700_000_000.5,
}


@dataclass
class Loaded:
    telemetry: ModuleType | None
    coordinator: ModuleType | None
    error: ImportError | None

    @property
    def t(self) -> Any:
        assert self.telemetry is not None, self.error
        return self.telemetry

    @property
    def store(self) -> Any:
        assert self.coordinator is not None, self.error
        return self.coordinator


def _forget_fake_packages() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in (CORE_IMPORT, STORE_IMPORT):
            del sys.modules[name]


@pytest.fixture
def load_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Loaded]]:
    """Import a variant of the fake Core (and the fake Store on top of it) in this process."""

    def load(name: str) -> Loaded:
        root = tmp_path / name
        for rel, text in {**core_files(name), **store_files()}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        _forget_fake_packages()
        monkeypatch.syspath_prepend(str(root))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # class Config, like the real Core
            try:
                telemetry = importlib.import_module(f"{CORE_IMPORT}.telemetry")
            except ImportError as exc:
                return Loaded(None, None, exc)
            try:
                coordinator = importlib.import_module(f"{STORE_IMPORT}.coordinator")
            except ImportError as exc:
                return Loaded(telemetry, None, exc)
        return Loaded(telemetry, coordinator, None)

    yield load
    _forget_fake_packages()


def _valid(model: type[BaseModel], payload: dict[str, Any]) -> bool:
    try:
        model.model_validate(payload)
    except ValidationError:
        return False
    return True


def _breakages(loaded: Loaded) -> list[str]:
    """What a Store relying on the baseline contract would see break (empty: compatible at runtime)."""
    if loaded.error is not None:
        return [f"import: {loaded.error!r}"]
    t = loaded.t
    problems: list[str] = []
    exports = ("BackpressureLevel", "FeedbackEvent", "HealthComponent", "HealthState", "HealthStatus")
    if missing := [name for name in exports if not hasattr(t, name)]:
        problems.append(f"missing exports: {missing}")
    values = {member.value for member in t.BackpressureLevel}
    if not {"ok", "soft", "hard"} <= values:
        problems.append(f"enum values: {sorted(values)}")
    event_model: type[BaseModel] = t.FeedbackEvent
    payloads = {
        "golden": GOLDEN_EVENT,
        "large queue": {**GOLDEN_EVENT, "queue_size": 7_500, "capacity": 10_000, "level": "soft"},
        "no source": {k: v for k, v in GOLDEN_EVENT.items() if k != "source"},
        "store extra": {**GOLDEN_EVENT, "reason": "queue_drained"},
    }
    for label, payload in payloads.items():
        try:
            dumped = event_model.model_validate(payload).model_dump(mode="json")
        except ValidationError as exc:
            problems.append(f"{label}: {exc.error_count()} validation errors")
            continue
        if lost := [k for k in GOLDEN_EVENT if k in payload and dumped.get(k) != payload[k]]:
            problems.append(f"{label}: round trip lost {lost}")
    try:
        store_event = loaded.store.FeedbackEvent.create("bars-coord", 0, 4, "soft", reason="drained")
        event_model.model_validate_json(store_event.model_dump_json())
        if getattr(store_event, "source", None) != "store" or not store_event.ts:
            problems.append("store factory: source/ts not filled")
    except ValidationError as exc:
        problems.append(f"store factory / Core parsing Store JSON: {exc.error_count()} errors")
    if not _valid(t.HealthStatus, GOLDEN_HEALTH):
        problems.append("health status with every state")
    return problems


def _fields(loaded: Loaded) -> dict[str, Any]:
    return dict(loaded.t.FeedbackEvent.model_fields)


def _strip_docs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_docs(v) for k, v in schema.items() if k not in ("description", "title")}
    if isinstance(schema, list):
        return [_strip_docs(v) for v in schema]
    return schema


def _schemas(loaded: Loaded) -> dict[str, Any]:
    t = loaded.t
    return {
        name: getattr(t, name).model_json_schema() for name in ("FeedbackEvent", "HealthStatus") if hasattr(t, name)
    }


def _check_baseline(v: Loaded) -> None:
    assert list(_fields(v)) == ["coordinator_id", "queue_size", "capacity", "level", "source", "ts"]
    assert [m.value for m in v.t.BackpressureLevel] == ["ok", "soft", "hard"]
    assert v.t.FeedbackEvent.model_config.get("frozen") is True
    assert issubclass(v.store.FeedbackEvent, v.t.FeedbackEvent)
    event = v.store.FeedbackEvent.create("c", 2, 4, v.store.BackpressureLevel.soft)
    assert (event.source, event.reason, event.utilization) == ("store", None, 0.5)


def _check_field_removed_source(v: Loaded) -> None:
    assert "source" not in _fields(v)


def _check_field_renamed(v: Loaded) -> None:
    assert "coordinator" in _fields(v) and "coordinator_id" not in _fields(v)
    assert _fields(v)["coordinator"].is_required()


def _check_ts_str(v: Loaded) -> None:
    assert not _valid(v.t.FeedbackEvent, GOLDEN_EVENT)
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "ts": "2024-01-01T00:00:00Z"})


def _check_ts_int(v: Loaded) -> None:
    assert not _valid(v.t.FeedbackEvent, GOLDEN_EVENT)
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "ts": 1_700_000_000})


def _check_source_required(v: Loaded) -> None:
    assert _fields(v)["source"].is_required()


def _check_region_required(v: Loaded) -> None:
    assert _fields(v)["region"].is_required()
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "region": "eu"})


def _check_queue_size_positive(v: Loaded) -> None:
    assert not _valid(v.t.FeedbackEvent, GOLDEN_EVENT)
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "queue_size": 1})


def _check_capacity_capped(v: Loaded) -> None:
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "capacity": 100})
    assert not _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "capacity": 101})


def _check_extra_forbidden(v: Loaded) -> None:
    assert v.t.FeedbackEvent.model_config.get("extra") == "forbid"
    assert v.t.FeedbackEvent.model_config.get("frozen") is True
    assert _valid(v.t.FeedbackEvent, GOLDEN_EVENT)


def _check_enum_removed(v: Loaded) -> None:
    assert [m.value for m in v.t.BackpressureLevel] == ["ok", "soft"]


def _check_enum_changed(v: Loaded) -> None:
    assert [m.value for m in v.t.BackpressureLevel] == ["ok", "soft", "HARD"]
    assert v.t.BackpressureLevel.hard.value == "HARD"


def _check_health_state_removed(v: Loaded) -> None:
    assert not _valid(v.t.HealthComponent, {"name": "db", "state": "degraded"})
    assert _valid(v.t.HealthComponent, {"name": "db", "state": "unhealthy"})


def _check_health_component_unexported(v: Loaded) -> None:
    assert not hasattr(v.t, "HealthComponent")
    assert "HealthComponent" not in v.t.__all__
    assert _valid(v.t.HealthStatus, GOLDEN_HEALTH)


def _check_import_broken(v: Loaded) -> None:
    assert isinstance(v.error, ImportError) and v.telemetry is None


def _check_optional_region(v: Loaded) -> None:
    assert not _fields(v)["region"].is_required()
    assert v.t.FeedbackEvent.model_validate(GOLDEN_EVENT).region is None


def _check_ts_optional(v: Loaded) -> None:
    payload = {k: val for k, val in GOLDEN_EVENT.items() if k != "ts"}
    assert v.t.FeedbackEvent.model_validate(payload).ts == 0.0


def _check_capacity_relaxed(v: Loaded) -> None:
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "capacity": 0})
    assert v.store.FeedbackEvent.create("c", 0, 0, "ok").utilization == 0.0


def _check_queue_size_float(v: Loaded) -> None:
    assert _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "queue_size": 0.5})
    assert not _valid(v.t.FeedbackEvent, {**GOLDEN_EVENT, "queue_size": -0.5})


def _check_details_widened(v: Loaded) -> None:
    component = v.t.HealthComponent.model_validate({"name": "db", "state": "healthy", "details": {"ms": 12}})
    assert component.details == {"ms": 12}
    component = v.t.HealthComponent.model_validate({"name": "db", "state": "healthy", "details": {"ms": "12"}})
    assert component.details == {"ms": "12"}


def _check_enum_added(v: Loaded) -> None:
    assert [m.value for m in v.t.BackpressureLevel] == ["ok", "soft", "hard", "critical"]


def _check_health_state_added(v: Loaded) -> None:
    assert _valid(v.t.HealthComponent, {"name": "db", "state": "unknown"})


def _check_default_changed(v: Loaded) -> None:
    assert _fields(v)["source"].default == "core"
    assert v.store.FeedbackEvent.create("c", 0, 1, "ok").source == "store"


def _check_docs_only(v: Loaded, baseline: Loaded) -> None:
    assert _schemas(v) != _schemas(baseline)
    assert _strip_docs(_schemas(v)) == _strip_docs(_schemas(baseline))


SEMANTICS: dict[str, Callable[[Loaded], None]] = {
    "baseline": _check_baseline,
    "field_removed_source": _check_field_removed_source,
    "field_renamed_coordinator_id": _check_field_renamed,
    "ts_float_to_str": _check_ts_str,
    "ts_float_to_int": _check_ts_int,
    "source_made_required": _check_source_required,
    "required_field_added_region": _check_region_required,
    "queue_size_positive": _check_queue_size_positive,
    "capacity_capped": _check_capacity_capped,
    "extra_forbidden": _check_extra_forbidden,
    "enum_value_removed": _check_enum_removed,
    "enum_value_changed": _check_enum_changed,
    "health_state_removed": _check_health_state_removed,
    "health_component_unexported": _check_health_component_unexported,
    "import_broken": _check_import_broken,
    "optional_field_added": _check_optional_region,
    "field_made_optional": _check_ts_optional,
    "constraint_relaxed": _check_capacity_relaxed,
    "queue_size_int_to_float": _check_queue_size_float,
    "details_values_widened": _check_details_widened,
    "enum_value_added": _check_enum_added,
    "health_state_added": _check_health_state_added,
    "default_changed": _check_default_changed,
}


def test_every_variant_has_semantics() -> None:
    assert set(SEMANTICS) | {"docs_only"} == set(VARIANTS)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_means_what_it_says(name: str, load_variant: Callable[[str], Loaded]) -> None:
    """The targeted claim holds, and breaking variants really break a baseline-contract consumer."""
    if name == "docs_only":
        baseline = load_variant("baseline")
        loaded = load_variant(name)
        _check_docs_only(loaded, baseline)
    else:
        loaded = load_variant(name)
        SEMANTICS[name](loaded)
    problems = _breakages(loaded)
    if VARIANTS[name].expect_exit == 0:
        assert problems == []
    else:
        assert problems, "an ERR variant must break something a Store relies on"


# --------------------------------------------------------------------------------------------------
# Hand-written wheels, sdists, project trees
# --------------------------------------------------------------------------------------------------


def _read_wheel(wheel: Path) -> tuple[dict[str, bytes], list[list[str]]]:
    with zipfile.ZipFile(wheel) as zf:
        assert zf.testzip() is None
        contents = {name: zf.read(name) for name in zf.namelist()}
    record_name = next(name for name in contents if name.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(contents[record_name].decode())))
    return contents, rows


def test_core_wheel_record_and_metadata(tmp_path: Path) -> None:
    wheel = build_core_wheel(tmp_path, "1.2.0rc1", "enum_value_added")
    assert wheel.name == "cc_fixture_core-1.2.0rc1-py3-none-any.whl"
    contents, rows = _read_wheel(wheel)
    info = "cc_fixture_core-1.2.0rc1.dist-info"
    assert {row[0] for row in rows} == set(contents)
    for path, digest, size in rows:
        if path == f"{info}/RECORD":
            assert (digest, size) == ("", "")
            continue
        algorithm, _, value = digest.partition("=")
        assert algorithm == "sha256"
        assert base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)) == hashlib.sha256(contents[path]).digest()
        assert "=" not in value
        assert int(size) == len(contents[path])

    metadata = email.parser.Parser().parsestr(contents[f"{info}/METADATA"].decode())
    assert metadata["Metadata-Version"] == "2.1"
    assert (metadata["Name"], metadata["Version"]) == (CORE_DIST, "1.2.0rc1")
    assert metadata.get_all("Requires-Dist") == ["pydantic>=2.7"]
    wheel_meta = email.parser.Parser().parsestr(contents[f"{info}/WHEEL"].decode())
    assert (wheel_meta["Root-Is-Purelib"], wheel_meta["Tag"]) == ("true", "py3-none-any")
    assert contents[f"{info}/top_level.txt"] == b"market_data_core\n"
    sources = {k: v.decode() for k, v in contents.items() if not k.startswith(info)}
    assert sources == core_files("enum_value_added")
    assert build_core_wheel(tmp_path / "again", "1.2.0rc1", "enum_value_added").read_bytes() == wheel.read_bytes()


def test_store_wheel_pins_core_out_of_every_fixture_range(tmp_path: Path, fixture_world: FixtureWorld) -> None:
    wheel = build_store_wheel(tmp_path)
    assert wheel.name == "cc_fixture_store-0.1.0-py3-none-any.whl"
    contents, _ = _read_wheel(wheel)
    metadata = email.parser.Parser().parsestr(contents["cc_fixture_store-0.1.0.dist-info/METADATA"].decode())
    assert (metadata["Name"], metadata["Version"]) == (STORE_DIST, "0.1.0")
    assert metadata.get_all("Requires-Dist") == [f"{CORE_DIST}{STORE_CORE_RANGE}", "pydantic>=2.7"]
    assert {k for k in contents if not k.startswith("cc_fixture_store")} == set(store_files())
    pin = SpecifierSet(STORE_CORE_RANGE)
    versions = [*fixture_world.core_versions, *(v for v, _ in fixture_world.git_refs.values())]
    assert not [v for v in versions if pin.contains(Version(v), prereleases=True)]
    custom = build_store_wheel(tmp_path / "custom", "0.2.0", core_range=">=1.0,<2")
    contents, _ = _read_wheel(custom)
    assert b"Requires-Dist: cc-fixture-core>=1.0,<2" in contents["cc_fixture_store-0.2.0.dist-info/METADATA"]


def test_projects_and_sdist(tmp_path: Path) -> None:
    core = write_core_project(tmp_path / "core", "1.0.0", "import_broken")
    write_core_project(core, "1.4.0", "baseline")  # rewriting leaves exactly the new variant
    on_disk = {p.relative_to(core).as_posix(): p.read_text() for p in core.rglob("*.py") if p.is_file()}
    assert on_disk == core_files("baseline")
    assert 'version = "1.4.0"' in (core / "pyproject.toml").read_text()
    store = write_store_project(tmp_path / "store")
    assert f'"{CORE_DIST}{STORE_CORE_RANGE}"' in (store / "pyproject.toml").read_text()
    (core / "__pycache__").mkdir()
    (core / "__pycache__" / "junk.pyc").write_bytes(b"junk")

    sdist = build_sdist(core, tmp_path / "dist")
    assert sdist.name == "cc_fixture_core-1.4.0.tar.gz"
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        pkg_info = tar.extractfile("cc_fixture_core-1.4.0/PKG-INFO").read().decode()  # type: ignore[union-attr]
    assert sorted(names) == sorted(
        f"cc_fixture_core-1.4.0/{rel}" for rel in ["PKG-INFO", "pyproject.toml", *core_files()]
    )
    metadata = email.parser.Parser().parsestr(pkg_info)
    assert (metadata["Name"], metadata["Version"]) == (CORE_DIST, "1.4.0")
    assert metadata.get_all("Requires-Dist") == ["pydantic>=2.7"]
    assert build_sdist(core, tmp_path / "again").read_bytes() == sdist.read_bytes()


def _git_out(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def test_git_repo_refs(fixture_world: FixtureWorld, tmp_path: Path) -> None:
    repo, shas = fixture_world.core_git, fixture_world.git_shas
    assert set(shas) == {"v1.0.0", "v1.1.0", "feature/next", "main", "HEAD"}
    assert len({shas["v1.0.0"], shas["v1.1.0"], shas["feature/next"]}) == 3
    assert shas["feature/next"] == shas["HEAD"] == shas["main"]
    for ref, sha in shas.items():
        assert _git_out(repo, "rev-parse", f"{ref}^{{commit}}") == sha
        version, _ = fixture_world.git_refs[ref]
        assert f'version = "{version}"' in _git_out(repo, "show", f"{sha}:pyproject.toml")
    assert _git_out(repo, "cat-file", "-t", "v1.0.0") == "tag"  # annotated, like real releases
    assert _git_out(repo, "status", "--porcelain") == ""
    # Same history, same SHAs (fixed identity and dates); an empty tag leaves a commit untagged.
    again = make_core_git_repo(tmp_path / "again", [("v1.0.0", "1.0.0", "baseline"), ("", "1.0.1", "docs_only")])
    assert again["v1.0.0"] == shas["v1.0.0"]
    assert _git_out(tmp_path / "again", "tag") == "v1.0.0"
    with pytest.raises(ValueError):
        make_core_git_repo(tmp_path / "empty", [])


def test_fixture_world(fixture_world: FixtureWorld) -> None:
    world = fixture_world
    assert world.build_seconds < 2.0
    wheels = {p.name for p in world.find_links.iterdir()}
    for version in ("1.0.0", "1.1.0", "1.2.0rc1", "1.3.0"):
        assert f"cc_fixture_core-{version}-py3-none-any.whl" in wheels
    assert world.core_versions["1.3.0"] == "import_broken"
    assert list(world.variant_versions) == list(VARIANTS)
    assert world.variant_versions["baseline"] == "1.50.0"
    for variant, version in world.variant_versions.items():
        assert world.core_versions[version] == variant
        assert f"cc_fixture_core-{version}-py3-none-any.whl" in wheels
    assert world.store_wheel.parent == world.find_links and world.store_wheel.is_file()
    assert (world.store_project / "pyproject.toml").is_file()
    assert world.core_sdist.is_file() and (world.core_project / "pyproject.toml").is_file()
    assert world.core_git_url.startswith("git+file:///")
    assert world.git_requirement("v1.1.0") == f"{CORE_DIST} @ {world.core_git_url}@v1.1.0"


# --------------------------------------------------------------------------------------------------
# Real installs with uv (slow)
# --------------------------------------------------------------------------------------------------

_SANDBOX_PROBE = """
import importlib.metadata as md, json, sys
import market_data_core
out = {"core": md.version("cc-fixture-core"), "stale": market_data_core.__version__}
try:
    out["store"] = md.version("cc-fixture-store")
except md.PackageNotFoundError:
    print(json.dumps(out)); sys.exit(0)
from market_data_core.telemetry import FeedbackEvent as CoreEvent
from market_data_store.coordinator import BackpressureLevel, FeedbackEvent
event = FeedbackEvent.create("bars-coord", 1, 4, BackpressureLevel.soft, reason="drained")
assert isinstance(event, CoreEvent)
out["event"] = CoreEvent.model_validate_json(event.model_dump_json()).model_dump(mode="json")
out["utilization"] = event.utilization
print(json.dumps(out))
"""


def _uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("uv is not on PATH (it is a dependency of contract-check)")
    return found


def _env() -> dict[str, str]:
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_OFFLINE", "UV_NO_INDEX"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False, timeout=300)


def _venv(path: Path) -> Path:
    proc = _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(path)])
    assert proc.returncode == 0, proc.stderr
    return path / "bin" / "python"


def _install(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([_uv(), "pip", "install", "--python", str(python), *args])


def _probe(python: Path) -> dict[str, Any]:
    proc = _run([str(python), "-c", _SANDBOX_PROBE])
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.slow
def test_store_wheel_installs_only_with_core_override(fixture_world: FixtureWorld, tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    plain = _install(python, str(fixture_world.store_wheel), "--find-links", str(fixture_world.find_links))
    assert plain.returncode != 0
    assert CORE_DIST in plain.stderr, plain.stderr

    overrides = tmp_path / "overrides.txt"
    overrides.write_text(f"{CORE_DIST}==1.0.0\n")
    pinned = _install(
        python,
        str(fixture_world.store_wheel),
        "--find-links",
        str(fixture_world.find_links),
        "--overrides",
        str(overrides),
    )
    assert pinned.returncode == 0, pinned.stderr
    out = _probe(python)
    assert (out["core"], out["store"], out["stale"]) == ("1.0.0", "0.1.0", "0.0.0-stale")
    assert out["event"]["source"] == "store" and out["event"]["queue_size"] == 1
    assert "reason" not in out["event"]  # Core ignores the Store's extra field
    assert out["utilization"] == 0.25


@pytest.mark.slow
@pytest.mark.parametrize("ref_key", ["v1.1.0", "feature/next", "sha-of-v1.0.0"])
def test_core_installs_from_git_ref(fixture_world: FixtureWorld, tmp_path: Path, ref_key: str) -> None:
    tag = ref_key.removeprefix("sha-of-")
    ref = fixture_world.git_shas[tag] if ref_key.startswith("sha-of-") else tag
    python = _venv(tmp_path / "venv")
    proc = _install(python, git_requirement(fixture_world.core_git, ref))
    assert proc.returncode == 0, proc.stderr
    expected_version, _ = fixture_world.git_refs[tag]
    assert _probe(python)["core"] == expected_version


@pytest.mark.slow
@pytest.mark.parametrize("core_source", ["sdist", "project-dir", "git-tag"])
def test_store_with_core_override_from_local_source(
    fixture_world: FixtureWorld, tmp_path: Path, core_source: str
) -> None:
    """As contract-check installs: the Store (directory or wheel) + ``--overrides`` naming Core's source."""
    world = fixture_world
    store, override, expected = {
        "sdist": (world.store_project, direct_requirement(CORE_DIST, world.core_sdist), "1.4.0"),
        "project-dir": (world.store_wheel, direct_requirement(CORE_DIST, world.core_project), "1.4.0"),
        "git-tag": (world.store_wheel, world.git_requirement("v1.1.0"), "1.1.0"),
    }[core_source]
    overrides = tmp_path / "overrides.txt"
    overrides.write_text(override + "\n")
    python = _venv(tmp_path / "venv")
    proc = _install(python, str(store), "--overrides", str(overrides))
    assert proc.returncode == 0, proc.stderr
    out = _probe(python)
    assert (out["core"], out["store"]) == (expected, "0.1.0")
    assert out["event"]["level"] == "soft"


@pytest.mark.slow
def test_variant_wheel_installs_and_import_broken_fails(fixture_world: FixtureWorld, tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    broken = fixture_world.variant_versions["import_broken"]
    proc = _install(python, f"{CORE_DIST}=={broken}", "--find-links", str(fixture_world.find_links))
    assert proc.returncode == 0, proc.stderr
    run = _run([str(python), "-c", "import market_data_core.telemetry"])
    assert run.returncode != 0 and "ModuleNotFoundError" in run.stderr
    assert _probe(python)["core"] == broken  # metadata is fine even though the import is not
