"""Join shard reports (one per CI runner, written with ``--json``) into one report.

``contract-check merge report-*.json`` is the last step of the matrix workflow: every shard checked some
Core refs against the same Store; the merged report holds all their runs, a recomputed summary and the
worst exit code. Anything that would make the merged verdict misleading is refused with a ``MergeError``.
"""

from __future__ import annotations

import json
from pathlib import Path

from packaging.utils import canonicalize_name
from pydantic import ValidationError

from contract_check import fsread
from contract_check.errors import UsageError
from contract_check.models import READABLE_VERSIONS, ExitCode, Report, Run, StoreInfo, summarise, worst

REPORT_LIMIT = 256 * fsread.MIB  # a shard report with thousands of runs is a few MiB


class MergeError(UsageError, ValueError):
    """The shard reports cannot be merged; the message names the file(s) and what is wrong."""


def _load(path: Path) -> Report:
    try:
        text = fsread.read_text(path, limit=REPORT_LIMIT, what="shard report")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MergeError(f"{path}: cannot read the report: {reason}") from exc
    except UsageError as exc:  # a FIFO, a device, a directory, or too large
        raise MergeError(exc.message, tip=exc.tip) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MergeError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            tip="pass the files written by `contract-check --json`",
        ) from exc
    except RecursionError:
        raise MergeError(f"{path}: not a contract-check report (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise MergeError(f"{path}: not a contract-check report (a JSON {type(data).__name__}, not an object)")
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        readable = "-".join(str(v) for v in (READABLE_VERSIONS[0], READABLE_VERSIONS[-1]))
        raise MergeError(
            f"{path}: report schema_version {version!r}, but this contract-check reads schema_version {readable}",
            tip="merge with the contract-check version that wrote the shards",
        )
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise MergeError(
            f"{path}: not a valid contract-check report: {exc.error_count()} problem(s), "
            f"first at {where}: {first['msg']}"
        ) from exc


def _versions(report: Report) -> set[str]:
    """The Store versions a shard reports: its header's and its runs' (a cached run carries its own)."""
    found = {run.store_version for run in report.runs if run.store_version}
    return found | ({report.store.version} if report.store.version else set())


def _name(store: StoreInfo) -> str | None:
    return canonicalize_name(store.name) if store.name else None


def _describe(store: StoreInfo, versions: set[str]) -> str:
    shown = " ".join(p for p in (store.name, "/".join(sorted(versions))) if p)
    return shown or f"(unnamed, spec {store.spec!r})"


def _same_store(shards: list[tuple[Path, Report]]) -> None:
    """Every shard checked one Store: the same name where both know it (else the same spec) and one version
    among all that the shards and their runs report. A shard that knows nothing of a fact (a cached run of an
    older report, a Store that did not build) does not count against it."""
    first_path, first = shards[0]
    versions: dict[str, Path] = dict.fromkeys(sorted(_versions(first)), first_path)
    for path, shard in shards[1:]:
        a, b = _name(first.store), _name(shard.store)
        different = a != b if a and b else (not a and not b and first.store.spec != shard.store.spec)
        if different:
            raise MergeError(
                f"the shards checked different Stores: {_describe(first.store, _versions(first))} in {first_path}, "
                f"{_describe(shard.store, _versions(shard))} in {path}",
                tip="merge only the shards of one matrix run",
            )
        for version in sorted(_versions(shard)):
            versions.setdefault(version, path)
        if len(versions) > 1:
            (one, one_path), (other, other_path) = list(versions.items())[:2]
            name = first.store.name or shard.store.name or "the Store"
            raise MergeError(
                f"the shards checked different Stores: {name} {one} in {one_path}, {name} {other} in {other_path}",
                tip="merge only the shards of one matrix run",
            )


def _merged_store(shards: list[tuple[Path, Report]]) -> StoreInfo:
    """The first shard's Store, with what any shard knew filled in (name, version, declared range)."""
    store = shards[0][1].store
    reports = [shard for _, shard in shards]
    name = store.name or next((r.store.name for r in reports if r.store.name), None)
    version = next(iter(sorted(set().union(*map(_versions, reports)))), None)
    declared = store.declared_core or next(
        (d for r in reports for d in (r.store.declared_core, *(run.declared_core for run in r.runs)) if d), None
    )
    return store.model_copy(update={"name": name, "version": version, "declared_core": declared})


def merge_reports(paths: list[Path]) -> Report:
    """Load, validate and join shard reports; raise ``MergeError`` if they cannot be merged."""
    if not paths:
        raise MergeError("no shard reports to merge", tip="pass the JSON files written by `--json`")
    shards = [(path, _load(path)) for path in paths]

    _same_store(shards)
    first = shards[0][1]

    runs: list[Run] = []
    seen: dict[str, Path] = {}
    for path, shard in shards:
        for run in shard.runs:
            if run.core_ref in seen:
                raise MergeError(
                    f"core ref {run.core_ref!r} was checked twice: in {seen[run.core_ref]} and in {path}",
                    tip="give each shard different --core-ref values",
                )
            seen[run.core_ref] = path
            runs.append(run)

    from contract_check.pipeline import summary_extras  # the range answer over every shard's runs

    extras = summary_extras(runs, None, several=len(runs) > 1)
    extras["notes"] = list(dict.fromkeys([*(n for _, shard in shards for n in shard.summary.notes), *extras["notes"]]))
    summary = summarise(runs, **extras)
    codes = [summary.exit_code, *(shard.summary.exit_code for _, shard in shards)]
    if not runs:
        codes.append(ExitCode.ENVIRONMENT)  # nothing was checked: never "compatible"
    tool = first.tool.model_copy(update={"strict": any(shard.tool.strict for _, shard in shards)})
    return Report(
        tool=tool,
        store=_merged_store(shards),
        runs=runs,
        summary=summary.model_copy(update={"exit_code": worst(codes)}),
    )
