"""Several Core refs: which ones (``expand_refs``), and running them ``--jobs`` at a time (``run_all``).

Nothing here knows how one ref is checked: ``run_all`` takes a function from a ref to its run.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import Run
from contract_check.run.settings import RefSelection
from contract_check.sources import index
from contract_check.sources.index import Release
from contract_check.util import proc

log = logging.getLogger("contract_check")
Progress = Callable[[str], None]


def lower_bound(declared: str | None) -> Version | None:
    """The lowest version a declared range admits by its own words (``>=``, ``>``, ``==``, ``~=``)."""
    if not declared:
        return None
    bounds = [Version(s.version) for s in SpecifierSet(declared) if s.operator in (">=", ">", "==", "~=")]
    return max(bounds, default=None)


def expand_refs(selection: RefSelection, *, declared: str | None, releases: Callable[[], list[Release]]) -> list[str]:
    """Every ref to check, in order: ``--core-ref`` values, then ``--core-range`` and ``--since-pin`` (from
    *declared*, the Store's declared Core range) expanded against the index; a ref that installs the same
    release as an earlier one is dropped (``distinct``)."""
    wanted = list(selection.refs)
    spec: SpecifierSet | None = None
    if selection.range:
        try:
            spec = SpecifierSet(selection.range)
        except InvalidSpecifier:
            raise UsageError(
                f"--core-range {selection.range!r} is not a version specifier",
                tip="e.g. --core-range '>=1.4,<2'",
            ) from None
    if selection.since_pin:
        lower = required_lower_bound(
            declared, selection.core_package, flag="--since-pin", tip="use --core-range instead"
        )
        spec = (spec or SpecifierSet()) & SpecifierSet(f">={lower}")
    if spec is not None:
        matching = [r for r in releases() if spec.contains(r.version, prereleases=True)]
        matching = [r for r in matching if selection.pre or not r.version.is_prerelease]
        yanked = [str(r.version) for r in matching if r.yanked]
        if yanked:
            log.warning("skipping yanked releases: %s", ", ".join(yanked))
        chosen = [str(r.version) for r in matching if not r.yanked]
        if not chosen:
            raise EnvironmentProblem(
                f"no release of {selection.core_package} matches {spec}",
                tip="--offline reads only --find-links: give one that holds them, or drop --offline"
                if selection.offline
                else "check the range (pre-releases need --pre) and the index",
                kind="ref-not-found",
            )
        wanted += chosen
    if not wanted:
        raise UsageError("no Core ref given", tip="use --core-ref REF, --core-range SPEC or --since-pin")
    return distinct(wanted, releases=releases, python=index.python_version(selection.python))


_VERSION_TEXT = re.compile(r"[vV]?\d[0-9A-Za-z.!+_-]*")  # what the REF grammar reads as an index version first


def distinct(wanted: list[str], *, releases: Callable[[], list[Release]], python: Version | None) -> list[str]:
    """*wanted* without refs that install the same index release as an earlier one (``v1.4.61`` and
    ``1.4.61``; ``latest`` and the release it is), each kept where it first appears, as the user wrote it."""
    newest: list[Version | None] = []

    def release(ref: str) -> Version | str:  # versions compare as versions: 1.4.2.0 is 1.4.2
        if ref == "latest":
            if not newest:
                try:
                    newest.append(index.newest(releases(), python=python))
                except ContractCheckError:  # no listing: "latest" is only itself (resolving it will say why)
                    newest.append(None)
            return newest[0] if newest[0] is not None else ref
        if _VERSION_TEXT.fullmatch(ref):
            with contextlib.suppress(InvalidVersion, ValueError):
                return Version(ref)
        return ref

    seen: dict[Version | str, str] = {}
    for ref in wanted:
        same = release(ref) if len(wanted) > 1 else ref
        if same in seen and seen[same] != ref:
            log.info("%s installs the same release as %s (%s): checked once", proc.redact(ref), seen[same], same)
        seen.setdefault(same, ref)
    return list(seen.values())


def required_lower_bound(declared: str | None, core_package: str, *, flag: str, tip: str) -> Version:
    """The lower bound of the Store's declared range on Core, which *flag* needs; a usage error without one.
    *declared* None: the range could not be read (a Store from the index, and no shared environment)."""
    if declared is None:
        raise UsageError(
            f"{flag}: the Store's range on {core_package} is not known: it is read from the shared environment, "
            "which this run does not have (--keep-venv, or it could not be built; -v says why)",
            tip=tip,
        )
    lower = lower_bound(declared)
    if lower is None:
        raise UsageError(
            f"{flag}: the Store declares no lower bound on {core_package} ({declared or 'nothing'})", tip=tip
        )
    return lower


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP during a matrix: carries the runs that had finished (in ref order)."""

    def __init__(self, finished: dict[str, Run]) -> None:
        super().__init__()
        self.finished = finished


def run_all(check: Callable[[str], Run], wanted: list[str], jobs: int, progress: Progress) -> list[Run]:
    """``check`` every ref, ``jobs`` at a time, in *wanted*'s order. On an interrupt every child is killed and
    :class:`Interrupted` carries what had finished."""
    finished: dict[str, Run] = {}
    if jobs <= 1 or len(wanted) == 1:
        try:
            for i, ref in enumerate(wanted, 1):
                if len(wanted) > 1:
                    progress(f"[{i}/{len(wanted)}] {proc.redact(ref)}")
                finished[ref] = check(ref)
        except KeyboardInterrupt:
            raise Interrupted(finished) from None
        return [finished[ref] for ref in wanted]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(jobs, len(wanted)), thread_name_prefix="ref") as pool:
        futures: dict[Future[Run], str] = {pool.submit(check, ref): ref for ref in wanted}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                running = [proc.redact(futures[f]) for f in pending if f.running()]
                progress(
                    f"{len(futures) - len(pending)}/{len(futures)} done, running {', '.join(running[:4]) or '-'}"
                    f" ({time.monotonic() - start:.0f}s)"
                )
                for future in done:
                    finished[futures[future]] = future.result()  # a worker's KeyboardInterrupt surfaces here
        except BaseException as exc:
            proc.cancel_all()
            for future in futures:
                future.cancel()
            wait(futures)
            if not isinstance(exc, KeyboardInterrupt):
                raise
            for future, ref in futures.items():
                if ref not in finished and future.done() and not future.cancelled() and future.exception() is None:
                    finished[ref] = future.result()
            raise Interrupted(finished) from None
    return [finished[ref] for ref in wanted]
