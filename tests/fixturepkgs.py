"""Small, real, instant-to-build stand-ins for the published Core and Store packages.

The fake Core (distribution ``cc-fixture-core``, import package ``market_data_core``) has the same
``market_data_core.telemetry`` shape as the real ``market-data-core`` 1.4.61. The fake Store
(``cc-fixture-store``, import package ``market_data_store``) subclasses Core's ``FeedbackEvent`` like the
real Store does and pins ``cc-fixture-core>=2.0,<3``: a range every fixture Core (1.x) is outside of,
so an install only works when contract-check's ``uv --overrides`` pins Core.

Everything here is written by hand (wheels with :mod:`zipfile`, sdists with :mod:`tarfile`, git history
with the ``git`` CLI), so building the fixtures takes milliseconds and needs no network. Installing them
(``uv pip install``) builds sdists, directories and git checkouts with hatchling and takes real pydantic
from the default index.

``VARIANTS`` lists the Core changes a maintainer could plausibly ship in a hurry, each with the exit
code and rule ID (see DESIGN.md) that contract-check is expected to report for it.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

__all__ = [
    "CORE_DIST",
    "CORE_GIT_BRANCH",
    "CORE_GIT_HISTORY",
    "CORE_IMPORT",
    "PYDANTIC_REQUIREMENT",
    "RULE_SEVERITY",
    "STORE_CORE_RANGE",
    "STORE_DIST",
    "STORE_IMPORT",
    "VARIANTS",
    "Edit",
    "FixtureEditError",
    "FixtureWorld",
    "Variant",
    "apply_edits",
    "build_core_wheel",
    "build_fixture_world",
    "build_sdist",
    "build_store_wheel",
    "core_files",
    "direct_requirement",
    "git_requirement",
    "make_core_git_repo",
    "store_files",
    "write_core_project",
    "write_store_project",
    "write_wheel",
]

CORE_DIST = "cc-fixture-core"
STORE_DIST = "cc-fixture-store"
STORE_CORE_RANGE = ">=2.0,<3"
CORE_IMPORT = "market_data_core"
STORE_IMPORT = "market_data_store"
PYDANTIC_REQUIREMENT = "pydantic>=2.7"
REQUIRES_PYTHON = ">=3.10"
HATCHLING_REQUIREMENT = "hatchling>=1.24"

#: Rule IDs and severities from DESIGN.md ("--strict" promotes WARN to a failure).
RULE_SEVERITY: dict[str, str] = {
    "MODEL_MISSING": "ERR",
    "IMPORT_FAILED": "ERR",
    "FIELD_REMOVED": "ERR",
    "FIELD_TYPE_CHANGED": "ERR",
    "FIELD_MADE_REQUIRED": "ERR",
    "REQUIRED_FIELD_ADDED": "ERR",
    "CONSTRAINT_TIGHTENED": "ERR",
    "EXTRA_FORBIDDEN": "ERR",
    "ENUM_VALUE_REMOVED": "ERR",
    "ENUM_VALUE_CHANGED": "ERR",
    "ENUM_VALUE_ADDED": "WARN",
    "DEFAULT_CHANGED": "WARN",
    "OPTIONAL_FIELD_ADDED": "INFO",
    "FIELD_MADE_OPTIONAL": "INFO",
    "CONSTRAINT_RELAXED": "INFO",
    "TYPE_WIDENED": "INFO",
}

# --------------------------------------------------------------------------------------------------
# Baseline sources of the fake Core and Store
# --------------------------------------------------------------------------------------------------

_CORE_INIT = '''\
"""Fake market_data_core used by contract-check's tests (stands in for market-data-core)."""

# Deliberately wrong, like the real releases: read the version from distribution metadata instead.
__version__ = "0.0.0-stale"
'''

_TELEMETRY_INIT = '''\
"""Telemetry DTOs shared by Core and the services built on it."""

from market_data_core.telemetry.backpressure import BackpressureLevel, FeedbackEvent
from market_data_core.telemetry.health import HealthComponent, HealthState, HealthStatus

__all__ = [
    "BackpressureLevel",
    "FeedbackEvent",
    "HealthComponent",
    "HealthState",
    "HealthStatus",
]
'''

_BACKPRESSURE = '''\
"""Backpressure feedback emitted by a write coordinator to its producers."""

from enum import Enum

from pydantic import BaseModel, Field


class BackpressureLevel(str, Enum):
    """Backpressure severity; the values are wire format."""

    ok = "ok"
    soft = "soft"
    hard = "hard"


class FeedbackEvent(BaseModel):
    """Immutable backpressure feedback from a coordinator."""

    coordinator_id: str = Field(..., description="ID of the coordinator emitting feedback")
    queue_size: int = Field(..., ge=0, description="Current queue size")
    capacity: int = Field(..., gt=0, description="Maximum queue capacity")
    level: BackpressureLevel = Field(..., description="Backpressure severity")
    source: str = Field(default="store", description="Source component (store, pipeline, etc.)")
    ts: float = Field(..., description="Unix epoch seconds")

    class Config:
        frozen = True
'''

_HEALTH = '''\
"""Service health DTOs."""

from typing import Literal

from pydantic import BaseModel, Field

HealthState = Literal["healthy", "degraded", "unhealthy"]


class HealthComponent(BaseModel):
    """Health of one component of a service."""

    name: str
    state: HealthState
    details: dict[str, str] = Field(default_factory=dict)


class HealthStatus(BaseModel):
    """Aggregated health of a service."""

    service: str
    state: HealthState
    components: list[HealthComponent] = Field(default_factory=list)
    version: str
    ts: float
'''

_BASELINE_CORE: dict[str, str] = {
    "market_data_core/__init__.py": _CORE_INIT,
    "market_data_core/telemetry/__init__.py": _TELEMETRY_INIT,
    "market_data_core/telemetry/backpressure.py": _BACKPRESSURE,
    "market_data_core/telemetry/health.py": _HEALTH,
}

_STORE_INIT = '''\
"""Fake market_data_store used by contract-check's tests (stands in for market-data-store)."""
'''

_STORE_COORDINATOR_INIT = '''\
"""Write coordinator: Core's backpressure feedback DTOs with the Store's extensions."""

from market_data_store.coordinator.feedback import BackpressureLevel, FeedbackEvent

__all__ = ["BackpressureLevel", "FeedbackEvent"]
'''

_STORE_FEEDBACK = '''\
"""Store-side backpressure feedback: Core's FeedbackEvent plus Store-only extras."""

import time

from market_data_core.telemetry import BackpressureLevel
from market_data_core.telemetry import FeedbackEvent as CoreFeedbackEvent
from pydantic import Field

__all__ = ["BackpressureLevel", "FeedbackEvent"]


class FeedbackEvent(CoreFeedbackEvent):
    """Core FeedbackEvent with the Store's optional reason and helpers."""

    reason: str | None = Field(default=None, description="Optional context, e.g. queue_drained")

    @property
    def utilization(self) -> float:
        """Queue utilization from 0.0 to 1.0."""
        return self.queue_size / self.capacity if self.capacity > 0 else 0.0

    @classmethod
    def create(
        cls,
        coordinator_id: str,
        queue_size: int,
        capacity: int,
        level: BackpressureLevel,
        reason: str | None = None,
    ) -> "FeedbackEvent":
        """Build an event emitted by the Store now."""
        return cls(
            coordinator_id=coordinator_id,
            queue_size=queue_size,
            capacity=capacity,
            level=level,
            source="store",
            ts=time.time(),
            reason=reason,
        )
'''

_BASELINE_STORE: dict[str, str] = {
    "market_data_store/__init__.py": _STORE_INIT,
    "market_data_store/coordinator/__init__.py": _STORE_COORDINATOR_INIT,
    "market_data_store/coordinator/feedback.py": _STORE_FEEDBACK,
}

# --------------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------------

#: ``(relative_path, old_text, new_text)``: replace the single occurrence of ``old_text`` in the file,
#: or, when ``old_text`` is ``None``, replace (or create) the whole file with ``new_text``.
Edit = tuple[str, str | None, str]


class FixtureEditError(ValueError):
    """A variant's edit no longer matches the baseline sources (the baseline changed under it)."""


@dataclass(frozen=True)
class Variant:
    """One Core release as a hurried maintainer might ship it, and what contract-check must say."""

    name: str
    description: str
    edits: tuple[Edit, ...] = ()
    expect_exit: int = 0
    #: A rule ID that must be among the findings (others may appear too), or ``None``.
    expect: str | None = None

    @property
    def severity(self) -> str | None:
        """Severity of ``expect`` (ERR, WARN, INFO), or ``None``."""
        return RULE_SEVERITY[self.expect] if self.expect is not None else None

    @property
    def expect_exit_strict(self) -> int:
        """Expected exit code under ``--strict`` (WARN findings become failures)."""
        return 1 if self.expect_exit == 1 or self.severity == "WARN" else 0


_BP = "market_data_core/telemetry/backpressure.py"
_HL = "market_data_core/telemetry/health.py"
_TI = "market_data_core/telemetry/__init__.py"

_SOURCE_LINE = '    source: str = Field(default="store", description="Source component (store, pipeline, etc.)")\n'
_TS_LINE = '    ts: float = Field(..., description="Unix epoch seconds")\n'
_HARD_LINE = '    hard = "hard"\n'
_QUEUE_SIZE_FIELD = 'Field(..., ge=0, description="Current queue size")'
_CAPACITY_FIELD = 'Field(..., gt=0, description="Maximum queue capacity")'
_HEALTH_STATE = 'Literal["healthy", "degraded", "unhealthy"]'

_BROKEN_TELEMETRY_INIT = '''\
"""Telemetry DTOs shared by Core and the services built on it."""

# Half-finished refactor: backpressure.py was meant to become events.py.
from market_data_core.telemetry.events import BackpressureLevel, FeedbackEvent
from market_data_core.telemetry.health import HealthComponent, HealthState, HealthStatus

__all__ = [
    "BackpressureLevel",
    "FeedbackEvent",
    "HealthComponent",
    "HealthState",
    "HealthStatus",
]
'''


def _variants(*variants: Variant) -> dict[str, Variant]:
    table: dict[str, Variant] = {}
    for variant in variants:
        if variant.name in table:
            raise ValueError(f"duplicate variant {variant.name!r}")
        table[variant.name] = variant
    return table


VARIANTS: dict[str, Variant] = _variants(
    Variant("baseline", "The Core the golden contract was taken from: nothing changed.", (), 0, None),
    # ---- breaking (ERR, exit 1) ----
    Variant(
        "field_removed_source",
        "Dropped FeedbackEvent.source ('every event comes from the store anyway'); consumers that read "
        "it break and the Store's JSON loses a field on a Core round trip.",
        ((_BP, _SOURCE_LINE, ""),),
        1,
        "FIELD_REMOVED",
    ),
    Variant(
        "field_renamed_coordinator_id",
        "Renamed coordinator_id to coordinator 'for brevity' without an alias: coordinator_id is gone "
        "(and a new required field appears, so REQUIRED_FIELD_ADDED is reported as well).",
        ((_BP, "    coordinator_id: str = Field(", "    coordinator: str = Field("),),
        1,
        "FIELD_REMOVED",
    ),
    Variant(
        "ts_float_to_str",
        "Switched ts to an ISO-8601 string 'because humans read logs': every float timestamp on the "
        "wire is now rejected.",
        ((_BP, "    ts: float = Field(", "    ts: str = Field("),),
        1,
        "FIELD_TYPE_CHANGED",
    ),
    Variant(
        "ts_float_to_int",
        "Truncated ts to whole seconds (int): fractional timestamps, which the Store emits, no longer "
        "validate. A narrowing, not a widening.",
        ((_BP, "    ts: float = Field(", "    ts: int = Field("),),
        1,
        "FIELD_TYPE_CHANGED",
    ),
    Variant(
        "source_made_required",
        "Removed source's default to force producers to say who they are: payloads without source fail.",
        ((_BP, 'source: str = Field(default="store",', "source: str = Field(...,"),),
        1,
        "FIELD_MADE_REQUIRED",
    ),
    Variant(
        "required_field_added_region",
        "Added a required region field for multi-region routing: every existing payload, and the Store's "
        "create() factory, now fails validation.",
        ((_BP, _TS_LINE, _TS_LINE + '    region: str = Field(..., description="Deployment region")\n'),),
        1,
        "REQUIRED_FIELD_ADDED",
    ),
    Variant(
        "queue_size_positive",
        "Tightened queue_size from ge=0 to gt=0 ('an empty queue sends no feedback'), but the Store emits "
        "queue_size=0 when the queue drains.",
        ((_BP, _QUEUE_SIZE_FIELD, _QUEUE_SIZE_FIELD.replace("ge=0", "gt=0")),),
        1,
        "CONSTRAINT_TIGHTENED",
    ),
    Variant(
        "capacity_capped",
        "Capped capacity with le=100 after copying a test value into the model; real queues are larger.",
        ((_BP, _CAPACITY_FIELD, _CAPACITY_FIELD.replace("gt=0,", "gt=0, le=100,")),),
        1,
        "CONSTRAINT_TIGHTENED",
    ),
    Variant(
        "extra_forbidden",
        "Migrated class Config to model_config and added extra='forbid' while at it: Core no longer "
        "parses Store events that carry the Store-only reason field.",
        (
            (
                _BP,
                "from pydantic import BaseModel, Field\n",
                "from pydantic import BaseModel, ConfigDict, Field\n",
            ),
            (
                _BP,
                "\n    class Config:\n        frozen = True\n",
                '\n    model_config = ConfigDict(extra="forbid", frozen=True)\n',
            ),
        ),
        1,
        "EXTRA_FORBIDDEN",
    ),
    Variant(
        "enum_value_removed",
        "Dropped BackpressureLevel.hard ('soft is enough'); 'hard' is still on the wire.",
        ((_BP, _HARD_LINE, ""),),
        1,
        "ENUM_VALUE_REMOVED",
    ),
    Variant(
        "enum_value_changed",
        "Upper-cased the hard value to 'HARD' to match a dashboard; member name kept, wire value changed.",
        ((_BP, _HARD_LINE, '    hard = "HARD"\n'),),
        1,
        "ENUM_VALUE_CHANGED",
    ),
    Variant(
        "health_state_removed",
        "Removed 'degraded' from HealthState ('a service is up or down'); degraded components fail.",
        ((_HL, _HEALTH_STATE, 'Literal["healthy", "unhealthy"]'),),
        1,
        "ENUM_VALUE_REMOVED",
    ),
    Variant(
        "health_component_unexported",
        "Trimmed market_data_core.telemetry's exports and lost HealthComponent (still defined in "
        "telemetry.health, but no longer importable from telemetry).",
        (
            (
                _TI,
                "from market_data_core.telemetry.health import HealthComponent, HealthState, HealthStatus\n",
                "from market_data_core.telemetry.health import HealthState, HealthStatus\n",
            ),
            (_TI, '    "HealthComponent",\n', ""),
        ),
        1,
        "MODEL_MISSING",
    ),
    Variant(
        "import_broken",
        "Half-finished rename of backpressure.py to events.py: market_data_core.telemetry raises "
        "ImportError (ModuleNotFoundError) on import, so nothing can be checked.",
        ((_TI, None, _BROKEN_TELEMETRY_INIT),),
        1,
        "IMPORT_FAILED",
    ),
    # ---- compatible (INFO / WARN / nothing, exit 0 without --strict) ----
    Variant(
        "optional_field_added",
        "Added an optional region (default None): old payloads still validate and the model ignores "
        "extra keys, so old readers are fine.",
        (
            (
                _BP,
                _TS_LINE,
                _TS_LINE + '    region: str | None = Field(default=None, description="Deployment region")\n',
            ),
        ),
        0,
        "OPTIONAL_FIELD_ADDED",
    ),
    Variant(
        "field_made_optional",
        "Gave ts a default of 0.0 so tests need not pass it: everything that validated still does.",
        ((_BP, _TS_LINE, _TS_LINE.replace("Field(...,", "Field(default=0.0,")),),
        0,
        "FIELD_MADE_OPTIONAL",
    ),
    Variant(
        "constraint_relaxed",
        "Relaxed capacity from gt=0 to ge=0 for paused queues: a superset of the old values.",
        ((_BP, _CAPACITY_FIELD, _CAPACITY_FIELD.replace("gt=0", "ge=0")),),
        0,
        "CONSTRAINT_RELAXED",
    ),
    Variant(
        "queue_size_int_to_float",
        "Made queue_size a float 'for averaged sizes'. Pydantic's float accepts every int, so every old "
        "payload still validates: a widening (values now dump as 0.0, which still equals 0).",
        ((_BP, "    queue_size: int = Field(", "    queue_size: float = Field("),),
        0,
        "TYPE_WIDENED",
    ),
    Variant(
        "details_values_widened",
        "Let HealthComponent.details hold ints (latency_ms=12) without str(): str values still validate "
        "and stay str (smart union), so a real widening.",
        ((_HL, "details: dict[str, str] =", "details: dict[str, str | int] ="),),
        0,
        "TYPE_WIDENED",
    ),
    Variant(
        "enum_value_added",
        "Added BackpressureLevel.critical: old values all stay, but consumers with an exhaustive match "
        "may choke on the new one (WARN; exit 1 only under --strict).",
        ((_BP, _HARD_LINE, _HARD_LINE + '    critical = "critical"\n'),),
        0,
        "ENUM_VALUE_ADDED",
    ),
    Variant(
        "health_state_added",
        "Added 'unknown' to HealthState for services that have not reported yet (WARN).",
        ((_HL, _HEALTH_STATE, 'Literal["healthy", "degraded", "unhealthy", "unknown"]'),),
        0,
        "ENUM_VALUE_ADDED",
    ),
    Variant(
        "default_changed",
        "Changed source's default from 'store' to 'core'. Payloads still validate, but events built "
        "without source now claim another origin (WARN). The Store's create() sets source itself.",
        ((_BP, 'Field(default="store",', 'Field(default="core",'),),
        0,
        "DEFAULT_CHANGED",
    ),
    Variant(
        "docs_only",
        "Reworded docstrings and a field description; the schema differs only in descriptions, which "
        "contract-check normalises away.",
        (
            (
                _BP,
                '"""Immutable backpressure feedback from a coordinator."""',
                '"""Immutable backpressure feedback sent by a write coordinator to its producers."""',
            ),
            (_BP, '"Unix epoch seconds"', '"Event time as Unix epoch seconds (UTC, may be fractional)"'),
            (
                _HL,
                '"""Health of one component of a service."""',
                '"""Health of a single service component."""',
            ),
        ),
        0,
        None,
    ),
)

#: Git history used by :func:`build_fixture_world`: ``(tag or "", version, variant)`` per commit.
CORE_GIT_HISTORY: tuple[tuple[str, str, str], ...] = (
    ("v1.0.0", "1.0.0", "baseline"),
    ("v1.1.0", "1.1.0", "baseline"),
    ("", "1.2.0.dev1", "field_removed_source"),
)
#: Branch :func:`make_core_git_repo` points at the last commit.
CORE_GIT_BRANCH = "feature/next"


def apply_edits(files: Mapping[str, str], edits: Iterable[Edit]) -> dict[str, str]:
    """Return a copy of ``files`` with ``edits`` applied in order.

    Raises :class:`FixtureEditError` when an ``old_text`` does not occur exactly once in its file, or
    names a file that does not exist, so a change to the baseline sources breaks loudly.
    """
    result = dict(files)
    for path, old, new in edits:
        if old is None:
            result[path] = new
            continue
        if path not in result:
            raise FixtureEditError(f"{path}: no such file in the fixture sources")
        count = result[path].count(old)
        if count != 1:
            raise FixtureEditError(f"{path}: expected exactly one occurrence of {old!r}, found {count}")
        result[path] = result[path].replace(old, new)
    return result


def core_files(variant: str = "baseline") -> dict[str, str]:
    """Relative path -> source text of the fake Core's import package for ``variant``."""
    try:
        spec = VARIANTS[variant]
    except KeyError:
        raise KeyError(f"unknown Core variant {variant!r}; known: {', '.join(VARIANTS)}") from None
    return apply_edits(_BASELINE_CORE, spec.edits)


def store_files() -> dict[str, str]:
    """Relative path -> source text of the fake Store's import package."""
    return dict(_BASELINE_STORE)


# --------------------------------------------------------------------------------------------------
# Wheels, sdists and project directories, written by hand
# --------------------------------------------------------------------------------------------------

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_TAR_MTIME = 315532800  # 1980-01-01, same as the zip epoch


def _normalize_name(dist: str) -> str:
    """Distribution name as it appears in wheel / sdist file names (PEP 427 / PEP 625)."""
    return re.sub(r"[-_.]+", "_", dist).lower()


def _normalize_version(version: str) -> str:
    return str(Version(version))


def _check_relpath(path: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a clean relative path: {path!r}")


def _metadata(dist: str, version: str, requires: Iterable[str], summary: str, requires_python: str | None) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {req}" for req in requires)
    return "\n".join(lines) + "\n"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def write_wheel(
    dest_dir: Path,
    dist: str,
    version: str,
    files: Mapping[str, str],
    requires: Sequence[str] = (),
    *,
    summary: str = "contract-check test fixture",
    requires_python: str | None = REQUIRES_PYTHON,
) -> Path:
    """Write a pure-Python ``py3-none-any`` wheel of ``files`` into ``dest_dir``; return its path.

    The archive is byte-for-byte reproducible (fixed timestamps and order) and carries a
    METADATA 2.1, WHEEL, top_level.txt and a RECORD with sha256 hashes and sizes.
    """
    version = _normalize_version(version)
    name = _normalize_name(dist)
    dist_info = f"{name}-{version}.dist-info"
    for path in files:
        _check_relpath(path)
        if path.split("/")[0].endswith((".dist-info", ".data")):
            raise ValueError(f"{path}: package files may not live in metadata directories")

    entries: list[tuple[str, bytes]] = [(path, files[path].encode("utf-8")) for path in sorted(files)]
    top_level = sorted({path.split("/")[0].removesuffix(".py") for path in files})
    entries += [
        (f"{dist_info}/METADATA", _metadata(dist, version, requires, summary, requires_python).encode()),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: contract-check-fixturepkgs\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (f"{dist_info}/top_level.txt", "".join(f"{t}\n" for t in top_level).encode()),
    ]
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in entries:
        writer.writerow([path, _record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    entries.append((f"{dist_info}/RECORD", record.getvalue().encode()))

    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel_path = dest_dir / f"{name}-{version}-py3-none-any.whl"
    tmp_path = wheel_path.with_name(wheel_path.name + ".part")
    with zipfile.ZipFile(tmp_path, "w") as zf:
        for path, data in entries:
            info = zipfile.ZipInfo(path, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    tmp_path.replace(wheel_path)
    return wheel_path


def build_core_wheel(dest_dir: Path, version: str, variant: str = "baseline") -> Path:
    """Wheel of the fake Core at ``version`` with the sources of ``variant``."""
    return write_wheel(
        dest_dir,
        CORE_DIST,
        version,
        core_files(variant),
        (PYDANTIC_REQUIREMENT,),
        summary=f"Fake market-data-core for contract-check tests (variant {variant})",
    )


def build_store_wheel(dest_dir: Path, version: str = "0.1.0", core_range: str = STORE_CORE_RANGE) -> Path:
    """Wheel of the fake Store, depending on ``cc-fixture-core<core_range>`` and pydantic."""
    return write_wheel(
        dest_dir,
        STORE_DIST,
        version,
        store_files(),
        (f"{CORE_DIST}{core_range}", PYDANTIC_REQUIREMENT),
        summary="Fake market-data-store for contract-check tests",
    )


def _pyproject(dist: str, version: str, description: str, dependencies: Sequence[str], package: str) -> str:
    deps = "".join(f'    "{dep}",\n' for dep in dependencies)
    return (
        "[build-system]\n"
        f'requires = ["{HATCHLING_REQUIREMENT}"]\n'
        'build-backend = "hatchling.build"\n'
        "\n"
        "[project]\n"
        f'name = "{dist}"\n'
        f'version = "{version}"\n'
        f'description = "{description}"\n'
        f'requires-python = "{REQUIRES_PYTHON}"\n'
        f"dependencies = [\n{deps}]\n"
        "\n"
        "[tool.hatch.build.targets.wheel]\n"
        f'packages = ["{package}"]\n'
    )


def _write_project(directory: Path, pyproject: str, package: str, files: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    # Start the package afresh so a tree rewritten for another variant holds exactly that variant.
    shutil.rmtree(directory / package, ignore_errors=True)
    (directory / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    for rel, text in files.items():
        _check_relpath(rel)
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return directory


def write_core_project(directory: Path, version: str, variant: str = "baseline") -> Path:
    """Source tree of the fake Core (pyproject.toml with hatchling + ``market_data_core/``)."""
    pyproject = _pyproject(
        CORE_DIST,
        version,
        f"Fake market-data-core for contract-check tests (variant {variant})",
        (PYDANTIC_REQUIREMENT,),
        CORE_IMPORT,
    )
    return _write_project(directory, pyproject, CORE_IMPORT, core_files(variant))


def write_store_project(directory: Path, version: str = "0.1.0", core_range: str = STORE_CORE_RANGE) -> Path:
    """Source tree of the fake Store; ``[project] dependencies`` lists ``cc-fixture-core<core_range>``."""
    pyproject = _pyproject(
        STORE_DIST,
        version,
        "Fake market-data-store for contract-check tests",
        (f"{CORE_DIST}{core_range}", PYDANTIC_REQUIREMENT),
        STORE_IMPORT,
    )
    return _write_project(directory, pyproject, STORE_IMPORT, store_files())


_SDIST_SKIP = {".git", "__pycache__", "dist", "build", ".venv"}


def build_sdist(project_dir: Path, dest_dir: Path) -> Path:
    """Write ``<name>-<version>.tar.gz`` of a project written by ``write_*_project``; return its path.

    Holds ``PKG-INFO``, ``pyproject.toml`` and every source file under one top-level directory, so
    uv (or pip) builds it with hatchling like any sdist from an index. Reproducible byte for byte.
    """
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    dist: str = project["name"]
    version = _normalize_version(project["version"])
    base = f"{_normalize_name(dist)}-{version}"
    pkg_info = _metadata(
        dist,
        version,
        project.get("dependencies", ()),
        project.get("description", ""),
        project.get("requires-python"),
    )

    members: list[tuple[str, bytes]] = [("PKG-INFO", pkg_info.encode())]
    for path in sorted(project_dir.rglob("*")):
        rel = path.relative_to(project_dir)
        if any(part in _SDIST_SKIP for part in rel.parts) or not path.is_file() or path.suffix == ".pyc":
            continue
        members.append((rel.as_posix(), path.read_bytes()))

    dest_dir.mkdir(parents=True, exist_ok=True)
    sdist_path = dest_dir / f"{base}.tar.gz"
    tmp_path = sdist_path.with_name(sdist_path.name + ".part")
    with (
        open(tmp_path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=_TAR_MTIME) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in members:
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _TAR_MTIME
            tar.addfile(info, io.BytesIO(data))
    tmp_path.replace(sdist_path)
    return sdist_path


def direct_requirement(dist: str, path: Path) -> str:
    """PEP 508 direct reference to a local wheel, sdist or directory: ``name @ file:///...``."""
    return f"{dist} @ {path.resolve().as_uri()}"


def git_requirement(repo: Path, ref: str, dist: str = CORE_DIST) -> str:
    """``cc-fixture-core @ git+file:///path@ref`` for a repository from :func:`make_core_git_repo`."""
    return f"{dist} @ git+{repo.resolve().as_uri()}@{ref}"


# --------------------------------------------------------------------------------------------------
# Git history
# --------------------------------------------------------------------------------------------------

_GIT_IDENTITY = ("-c", "user.name=Fixture Maintainer", "-c", "user.email=fixtures@contract-check.invalid")
_GIT_EPOCH = 1_700_000_000


def _git_env(timestamp: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_DATE=f"{timestamp} +0000",
        GIT_COMMITTER_DATE=f"{timestamp} +0000",
    )
    return env


def _git(repo: Path, *args: str, timestamp: int = _GIT_EPOCH) -> str:
    argv = [
        "git",
        *_GIT_IDENTITY,
        "-c",
        "commit.gpgsign=false",
        "-c",
        "tag.gpgsign=false",
        "-c",
        "core.autocrlf=false",
        *args,
    ]
    proc = subprocess.run(
        argv, cwd=repo, env=_git_env(timestamp), capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def make_core_git_repo(
    path: Path, history: Sequence[tuple[str, str, str]], branch: str = CORE_GIT_BRANCH
) -> dict[str, str]:
    """Create a git repository of the fake Core with one commit per ``(tag, version, variant)``.

    Each commit holds the project tree of :func:`write_core_project` for that version and variant
    and gets an annotated tag ``tag`` (an empty tag leaves the commit untagged). The default branch
    ``main`` and branch ``branch`` (default ``feature/next``) point at the last commit, which is
    checked out. Commit dates are fixed, so the same history always yields the same SHAs.

    Returns ref -> commit SHA for every tag, ``branch``, ``"main"`` and ``"HEAD"``.
    """
    if not history:
        raise ValueError("history needs at least one commit")
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    tags: list[str] = []
    for index, (tag, version, variant) in enumerate(history):
        stamp = _GIT_EPOCH + 3600 * index
        write_core_project(path, version, variant)
        _git(path, "add", "-A", timestamp=stamp)
        _git(path, "commit", "-q", "--no-verify", "-m", f"Release {version} ({variant})", timestamp=stamp)
        if tag:
            _git(path, "tag", "-a", tag, "-m", f"{CORE_DIST} {version}", timestamp=stamp)
            tags.append(tag)
    _git(path, "branch", branch)
    refs = [*tags, branch, "main", "HEAD"]
    shas = _git(path, "rev-parse", *(f"{ref}^{{commit}}" for ref in refs)).split()
    return dict(zip(refs, shas, strict=True))


# --------------------------------------------------------------------------------------------------
# The whole fixture world (used by the session fixture ``fixture_world`` in conftest.py)
# --------------------------------------------------------------------------------------------------

#: Baseline-ish Core wheels in the find-links directory besides the per-variant ones.
RELEASE_WHEELS: tuple[tuple[str, str], ...] = (
    ("1.0.0", "baseline"),
    ("1.1.0", "baseline"),
    ("1.2.0rc1", "baseline"),
    ("1.3.0", "import_broken"),
)
#: Version of the Core project directory and sdist (not in the find-links directory).
CORE_PROJECT_VERSION = "1.4.0"


@dataclass(frozen=True)
class FixtureWorld:
    """Everything a test needs to point contract-check (or uv) at the fake packages."""

    root: Path
    #: Flat find-links directory: the Core release wheels, one Core wheel per variant, the Store wheel.
    find_links: Path
    #: Variant name -> Core version of its wheel in ``find_links`` (``1.50.N``, N = index in VARIANTS).
    variant_versions: dict[str, str]
    #: Every Core version in ``find_links`` -> the variant it was built from.
    core_versions: dict[str, str]
    #: The Store wheel (``cc-fixture-store`` 0.1.0, pins ``cc-fixture-core>=2.0,<3``), inside find_links.
    store_wheel: Path
    #: The Store as a source project directory (same pin).
    store_project: Path
    #: Core source project directory (baseline, version CORE_PROJECT_VERSION) and its sdist.
    core_project: Path
    core_sdist: Path
    #: Git repository of Core: tags v1.0.0, v1.1.0, branch feature/next (see CORE_GIT_HISTORY).
    core_git: Path
    #: Ref -> commit SHA ("v1.0.0", "v1.1.0", "feature/next", "main", "HEAD").
    git_shas: dict[str, str]
    #: Ref -> (version, variant) of that commit, for the same refs.
    git_refs: dict[str, tuple[str, str]]
    #: Seconds it took to build all of the above.
    build_seconds: float

    @property
    def core_git_url(self) -> str:
        """``git+file:///...`` URL of ``core_git`` (what ``--core-git`` takes, without ``@ref``)."""
        return f"git+{self.core_git.resolve().as_uri()}"

    def git_requirement(self, ref: str) -> str:
        return git_requirement(self.core_git, ref)


def build_fixture_world(root: Path) -> FixtureWorld:
    """Build the find-links directory, Store wheel/project, Core project/sdist and Core git repo."""
    start = time.perf_counter()
    find_links = root / "find-links"
    core_versions: dict[str, str] = {}
    for version, variant in RELEASE_WHEELS:
        build_core_wheel(find_links, version, variant)
        core_versions[version] = variant
    variant_versions: dict[str, str] = {}
    for index, variant in enumerate(VARIANTS):
        version = f"1.50.{index}"
        build_core_wheel(find_links, version, variant)
        variant_versions[variant] = version
        core_versions[version] = variant
    store_wheel = build_store_wheel(find_links)
    store_project = write_store_project(root / "store-project")
    core_project = write_core_project(root / "core-project", CORE_PROJECT_VERSION)
    core_sdist = build_sdist(core_project, root / "sdist")
    core_git = root / "core-git"
    git_shas = make_core_git_repo(core_git, CORE_GIT_HISTORY)
    git_refs = {tag: (version, variant) for tag, version, variant in CORE_GIT_HISTORY if tag}
    _, last_version, last_variant = CORE_GIT_HISTORY[-1]
    for ref in (CORE_GIT_BRANCH, "main", "HEAD"):
        git_refs[ref] = (last_version, last_variant)
    return FixtureWorld(
        root=root,
        find_links=find_links,
        variant_versions=variant_versions,
        core_versions=core_versions,
        store_wheel=store_wheel,
        store_project=store_project,
        core_project=core_project,
        core_sdist=core_sdist,
        core_git=core_git,
        git_shas=git_shas,
        git_refs=git_refs,
        build_seconds=time.perf_counter() - start,
    )
