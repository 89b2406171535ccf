"""Join shard reports (one per CI runner, written with ``--json``) into one report.

``contract-check merge report-*.json`` is the last step of the matrix workflow: every shard checked some
Core refs against the same Store; the merged report holds all their runs, a recomputed summary and the
worst exit code. Anything that would make the merged verdict misleading is refused with a ``MergeError``.

Nothing a shard says about its verdicts is taken on trust: every run's exit code, status and error kind are
recomputed from its checks and the checks its suite declares (``judge.rejudge``, the step a fresh run and
a cache hit go through), and a shard's own summary counts for nothing but a shard without runs. A run whose
stored verdict differs from the recomputed one is named in a note. Refused: a run whose verdict cannot be
recomputed (an exit code no run has; a run that would be compatible but does not record the checks its suite
declares), shards of different suites, a Core checked twice (the same ref, requirement or artifact), and
numbers that are not finite.
"""

from __future__ import annotations

import json
from pathlib import Path

from packaging.utils import canonicalize_name
from pydantic import ValidationError

from contract_check.errors import UsageError
from contract_check.models import READABLE_VERSIONS, ExitCode, Report, Run, Source, StoreInfo, summarise, worst
from contract_check.util import fsread
from contract_check.verdict import judge

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


# what a shard without runs may say: it stopped before any ref (a usage error, an internal error, Ctrl-C)
_RUNLESS = frozenset({ExitCode.USAGE, ExitCode.ENVIRONMENT, ExitCode.INTERNAL, ExitCode.INTERRUPTED})


def _declared(shards: list[tuple[Path, Report]]) -> list[str] | None:
    """The checks every shard's suite declares (one set for all runs that record it), or None if none does."""
    found: tuple[Path, Run] | None = None
    for path, shard in shards:
        for run in shard.runs:
            if run.declared_checks is None:
                continue
            if found is None:
                found = (path, run)
            elif sorted(run.declared_checks) != sorted(found[1].declared_checks or []):
                raise MergeError(
                    f"the shards ran different suites: run {run.core_ref!r} in {path} declares "
                    f"{len(run.declared_checks)} checks, run {found[1].core_ref!r} in {found[0]} "
                    f"{len(found[1].declared_checks or [])} (or others)",
                    tip="merge only the shards of one matrix run (one suite, one golden)",
                )
    return found[1].declared_checks if found else None


def _recomputed(path: Path, run: Run, declared: list[str] | None) -> tuple[Run, str | None]:
    """*run* with its verdict recomputed, and a note when that differs from what the shard said."""
    try:
        judged = judge.rejudge(run, judge.from_labels(declared) if declared is not None else None)
    except judge.NotRecomputable as exc:
        raise MergeError(
            f"{path}: run {run.core_ref!r} cannot be recomputed: {exc}",
            tip="merge the reports contract-check --json wrote, with the contract-check version that wrote them",
        ) from None
    if (judged.exit_code, judged.status, judged.error_kind) == (run.exit_code, run.status, run.error_kind):
        return judged, None
    said = f"exit {run.exit_code}, {run.status.value}"
    return judged, (
        f"{path}: run {run.core_ref!r} said {said}; its checks say exit {judged.exit_code} "
        f"({judged.verdict}): recomputed"
    )


def _identities(run: Run) -> list[tuple[str, str]]:
    """What makes two runs the same check: the ref as typed, the requirement it resolved to (``v1.4.61`` and
    ``1.4.61`` both install ``==1.4.61``), the installed artifact (a commit, a file's digest)."""
    found = [("ref", run.core_ref)]
    if run.requirement:
        found.append(("requirement", run.requirement))
    if run.artifact is not None and run.artifact.digest:
        found.append(("artifact", run.artifact.digest))
    if run.source is Source.INDEX and run.core_version:
        found.append(("index", run.core_version))
    return found


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


def _runless_code(path: Path, shard: Report) -> int:
    """What a shard without runs says: its own exit code when it is one such a shard can have, else 3."""
    code = shard.summary.exit_code
    if code not in _RUNLESS and code not in (ExitCode.OK, ExitCode.BROKEN):
        raise MergeError(
            f"{path}: exit code {code} is not one contract-check exits with",
            tip="merge the reports contract-check --json wrote",
        )
    return code if code in _RUNLESS else ExitCode.ENVIRONMENT


def merge_reports(paths: list[Path]) -> Report:
    """Load, validate and join shard reports; raise ``MergeError`` if they cannot be merged."""
    if not paths:
        raise MergeError("no shard reports to merge", tip="pass the JSON files written by `--json`")
    shards = [(path, _load(path)) for path in paths]

    _same_store(shards)
    first = shards[0][1]

    declared = _declared(shards)
    runs: list[Run] = []
    notes: list[str] = []
    seen: dict[tuple[str, str], tuple[Path, str]] = {}
    for path, shard in shards:
        for stored in shard.runs:
            for identity in _identities(stored):
                if identity in seen:
                    where, ref = seen[identity]
                    same = "" if ref == stored.core_ref else f" (as {ref!r}: the same {identity[0]})"
                    raise MergeError(
                        f"core ref {stored.core_ref!r} was checked twice: in {where}{same} and in {path}",
                        tip="give each shard different --core-ref values",
                    )
            for identity in _identities(stored):
                seen[identity] = (path, stored.core_ref)
            run, note = _recomputed(path, stored, declared)
            runs.append(run)
            if note:
                notes.append(note)

    from contract_check.run.pipeline import summary_extras  # the range answer over every shard's runs

    extras = summary_extras(runs, None, several=len(runs) > 1)
    shard_notes = (n for _, shard in shards for n in shard.summary.notes)
    extras["notes"] = list(dict.fromkeys([*shard_notes, *extras["notes"], *notes]))
    summary = summarise(runs, **extras)
    codes = [summary.exit_code, *(_runless_code(path, shard) for path, shard in shards if not shard.runs)]
    if not runs:
        codes.append(ExitCode.ENVIRONMENT)  # nothing was checked: never "compatible"
    tool = first.tool.model_copy(update={"strict": any(shard.tool.strict for _, shard in shards)})
    return Report(
        tool=tool,
        store=_merged_store(shards),
        runs=runs,
        summary=summary.model_copy(update={"exit_code": worst(codes)}),
    )
