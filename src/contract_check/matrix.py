"""Several Core refs in one run: expand ranges, do the shared work once, run refs in parallel, reuse results.

- ``expand_refs``: ``--core-ref`` values plus ``--core-range`` / ``--since-pin`` expanded from the index.
- the base environment (Store, its dependencies, pytest, their bytecode; no Core) is built once and cloned
  per ref (see envcache.py); kept across invocations when the Store is pinned by version or content hash.
- ``ResultLookup``: a finished run is reused when nothing that decides its verdict changed.
- ``check``: the top level, ``--jobs`` refs at a time; Ctrl-C kills every child and removes every sandbox.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from contract_check import __version__, envcache, proc, refs, runner, suite
from contract_check.check import Checker, Progress, _quiet, build_report
from contract_check.config import Options
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import ExitCode, Layer, Report, Run, Source, run_exit_code
from contract_check.sandbox import Sandbox, scrubbed_env, verdict_environment

log = logging.getLogger("contract_check")
STORE_MODULE = "market_data_store.coordinator"  # what the built-in contracts import; warmed in the base
_SHA = re.compile(r"[0-9a-f]{40}")


def expand_refs(options: Options, checker: Checker) -> list[str]:
    """Every ref to check, in order, duplicates dropped; ranges expanded against the index."""
    wanted = list(options.core_refs)
    spec: SpecifierSet | None = None
    if options.core_range:
        try:
            spec = SpecifierSet(options.core_range)
        except InvalidSpecifier:
            raise UsageError(
                f"--core-range {options.core_range!r} is not a version specifier",
                tip="e.g. --core-range '>=1.4,<2'",
            ) from None
    if options.since_pin:
        declared = checker.store_declared or checker.declared_from_base()
        lower = _lower_bound(declared)
        if lower is None:
            raise UsageError(
                f"--since-pin: the Store declares no lower bound on {options.core_package} ({declared or 'nothing'})",
                tip="use --core-range instead",
            )
        spec = (spec or SpecifierSet()) & SpecifierSet(f">={lower}")
    if spec is not None:
        found = checker.releases()
        matching = [r for r in found if spec.contains(r.version, prereleases=True)]
        matching = [r for r in matching if options.pre or not r.version.is_prerelease]
        yanked = [str(r.version) for r in matching if r.yanked]
        if yanked:
            log.warning("skipping yanked releases: %s", ", ".join(yanked))
        chosen = [str(r.version) for r in matching if not r.yanked]
        if not chosen:
            raise EnvironmentProblem(
                f"no release of {options.core_package} matches {spec}",
                tip="check the range (pre-releases need --pre) and the index",
                kind="ref-not-found",
            )
        wanted += chosen
    if not wanted:
        raise UsageError("no Core ref given", tip="use --core-ref REF, --core-range SPEC or --since-pin")
    return list(dict.fromkeys(wanted))


def _lower_bound(declared: str | None) -> Version | None:
    if not declared:
        return None
    bounds = [Version(s.version) for s in SpecifierSet(declared) if s.operator in (">=", ">", "==", "~=")]
    return max(bounds, default=None)


def _store_identity(checker: Checker) -> str | None:
    """What pins the Store's content: an exact version, a file hash or a tree hash; None if nothing does."""
    install = checker.store.install
    path = Path(install)
    try:
        if path.is_file():
            return "file:" + envcache.file_digest(path)
        if path.is_dir():
            return "tree:" + envcache.tree_digest(path)
    except (OSError, ValueError):  # not a path at all (too long for a file name, or a NUL byte in it)
        pass
    try:
        req = Requirement(install)
    except InvalidRequirement:
        return None
    pins = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    return f"req:{req}" if req.url is None and pins else None


class ResultLookup:
    """Result cache keyed by the resolved Core artifact, the Store, the contracts, Python and the tool."""

    def __init__(self, checker: Checker, store_identity: str) -> None:
        self.checker = checker
        self.cache = envcache.ResultCache()
        options = checker.options
        contracts = [envcache.tree_digest(runner.builtin_contracts())]
        for path in options.contracts:
            contracts.append(envcache.tree_digest(path) if path.is_dir() else envcache.file_digest(path))
        for root, targets in checker._user_targets().items():  # what pytest loads around the user contracts
            contracts.append(_user_config_digest(root, targets))
        tool = (__version__, envcache.tree_digest(Path(__file__).parent))  # a changed rule changes every key
        guard = checker.guard
        self.common = (
            store_identity,
            contracts,
            options.python or sys.version,
            tool,
            options.strict,
            options.core_package,
            options.index,
            verdict_environment(),
            guard.base.identity if guard else None,
        )

    def _core_identity(self, resolved: refs.ResolvedRef) -> str | None:
        if resolved.source is Source.INDEX:
            files = []
            for link in self.checker.options.find_links:
                folder = Path(link)
                if folder.is_dir() and resolved.version is not None:
                    stem = self.checker.options.core_package.replace("-", "_") + f"-{resolved.version}"
                    files += [envcache.file_digest(p) for p in sorted(folder.glob(f"{stem}[-.]*"))]
            return f"{resolved.requirement}|{files}"
        if resolved.source is Source.GIT:
            return self._git_commit(resolved)
        target = resolved.requirement.split(" @ ", 1)[-1]
        if target.startswith("file://"):
            path = Path(target.removeprefix("file://"))
            if path.is_file():
                return "file:" + envcache.file_digest(path)
            if path.is_dir():
                return "tree:" + envcache.tree_digest(path)
        return None  # a remote URL may change behind the same name: not cached

    def _git_commit(self, resolved: refs.ResolvedRef) -> str | None:
        url, _, ref = resolved.requirement.split(" @ ", 1)[-1].removeprefix("git+").rpartition("@")
        if _SHA.fullmatch(ref):
            return f"git:{ref}"
        try:
            done = proc.run(
                ["git", "ls-remote", "--", url, ref, f"{ref}^{{}}"],  # "--": the URL is never an option
                env=scrubbed_env({"GIT_TERMINAL_PROMPT": "0"}),
                timeout=30,
                what="git ls-remote",
            )
        except (ContractCheckError, OSError):
            return None
        shas = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
        return f"git:{shas[-1]}" if done.ok and shas else None  # the peeled tag (^{}) comes last

    def key(self, resolved: refs.ResolvedRef) -> str | None:
        core = self._core_identity(resolved)
        return envcache.digest("result", core, *self.common) if core else None

    def get(self, key: str) -> Run | None:
        """The cached run for *key*, if it is fresh, well formed and complete; anything else is a miss."""
        data = self.cache.get(key)
        try:
            run = Run.model_validate(data) if data else None
        except ValueError:
            return None
        if run is None or run.exit_code not in (ExitCode.OK, ExitCode.BROKEN) or run.error:
            return None
        if run_exit_code(run.checks) != run.exit_code:
            return None  # the stored verdict does not follow from the stored checks
        builtin = {c.id: c.status.value for c in run.checks if c.layer is not Layer.USER}
        if run.exit_code == ExitCode.OK and not suite.completeness(self.checker.declared, builtin).complete:
            return None
        return run

    def put(self, key: str, run: Run) -> None:
        self.cache.put(key, run.model_dump(mode="json"))


def _user_config_digest(root: Path, targets: list[Path]) -> str:
    """The pytest configuration that applies to user contracts: the ini file and every conftest.py from the
    project root down to each contracts path (the contracts' own trees are hashed separately)."""
    files: list[Path] = []
    ini = runner.find_ini(targets[0], root)
    if ini is not None:
        files.append(ini)
    for target in targets:
        folder = target.resolve() if target.is_dir() else target.resolve().parent
        for parent in (folder, *folder.parents):
            if (parent / "conftest.py").is_file():
                files.append(parent / "conftest.py")
            if parent == root:
                break
    parts = []
    for path in sorted(set(files)):
        try:
            parts.append((str(path), envcache.file_digest(path)))
        except OSError:
            parts.append((str(path), "unreadable"))
    return envcache.digest(str(root), parts)


def _build_base(checker: Checker, target: Path, override: str | None) -> None:
    """Store + dependencies + pytest, bytecode warmed, then Core removed: what every ref's sandbox starts from."""
    options = checker.options
    with Sandbox(python=options.python, index=options.index, timeout=options.timeout, relocatable=True) as box:
        box.install([checker.store.install, "pytest"], [override] if override else [], reread=checker.store_reread())
        box.warm(["pytest", "_pytest.python", "_pytest.fixtures", STORE_MODULE])
        checker.base_requires = box.dist_requires(checker.store_name)
        box.uninstall(options.core_package)
        shutil.move(str(box.venv), str(target))


def _prepare_base(checker: Checker, stack: contextlib.ExitStack, override: str | None, persistent: str | None) -> None:
    def build(target: Path) -> None:
        _build_base(checker, target, override)

    checker.progress("preparing the shared environment (Store, dependencies, pytest)")
    try:
        if persistent:
            key = envcache.digest(
                "base",
                persistent,
                checker.options.python or sys.executable,
                sys.version,
                __version__,
                checker.options.core_package,
                checker.options.index,
                override is None,
            )
            base = stack.enter_context(envcache.persistent_base(key, build))
        else:
            base = stack.enter_context(envcache.transient_base(build))
        checker.guard = envcache.BaseGuard(base)
    except (ContractCheckError, OSError) as exc:
        message = getattr(exc, "message", str(exc))
        log.info("no shared environment (each ref installs from scratch): %s", proc.redact(message.splitlines()[0]))
        checker.guard = None


def _run_all(checker: Checker, wanted: list[str], jobs: int) -> list[Run]:
    if jobs <= 1 or len(wanted) == 1:
        runs = []
        for i, ref in enumerate(wanted, 1):
            if len(wanted) > 1:
                checker.progress(f"[{i}/{len(wanted)}] {ref}")
            runs.append(checker.check_ref(ref))
        return runs
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(jobs, len(wanted)), thread_name_prefix="ref") as pool:
        futures: dict[Future[Run], str] = {pool.submit(checker.check_ref, ref): ref for ref in wanted}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                running = [futures[f] for f in pending if f.running()]
                checker.progress(
                    f"{len(futures) - len(pending)}/{len(futures)} done, running {', '.join(running[:4]) or '-'}"
                    f" ({time.monotonic() - start:.0f}s)"
                )
                for future in done:
                    future.result()  # a KeyboardInterrupt from a worker surfaces here
        except BaseException:
            proc.cancel_all()
            for future in futures:
                future.cancel()
            wait(futures)
            raise
    return [future.result() for future in futures]


def _redo_tainted(checker: Checker, wanted: list[str], runs: list[Run]) -> list[Run]:
    """Check again, each in a fresh venv, the refs whose runs may have seen a changed base environment."""
    guard = checker.guard
    if guard is None or not guard.tainted:
        return runs
    tainted = [ref for ref in wanted if ref in guard.tainted]
    log.warning(
        "a contract changed a file of the shared environment; checking %s again in fresh environments",
        ", ".join(proc.redact(r) for r in tainted),
    )
    checker.guard = None
    redone = {ref: checker.check_ref(ref) for ref in tainted}
    return [redone.get(ref, run) for ref, run in zip(wanted, runs, strict=True)]


def check(
    options: Options, cwd: Path, progress: Progress = _quiet, *, install_logs: dict[str, str] | None = None
) -> Report:
    """Check every ref the options name and return the report (exit code in ``report.summary``).

    ``install_logs``, when given, receives uv's install output per run (keyed by ``Run.core_ref``; redacted,
    trimmed) for the CI log; it is not part of the report.
    """
    checker = Checker(options, cwd, progress)
    for ref in options.core_refs:  # every ref is validated before anything is installed
        refs.parse(ref, core_package=options.core_package, cwd=cwd)
    if options.python is None:  # the sandbox runs this Python: its grammar is the contracts' grammar
        runner.check_user_contracts(options.contracts)
    checker.pin_default_store()
    identity = None if options.no_cache else _store_identity(checker)
    with contextlib.ExitStack() as stack:
        override = None
        if options.core_refs and not options.since_pin:
            with contextlib.suppress(ContractCheckError):
                override = checker.resolve(options.core_refs[0]).requirement
        many = len(options.core_refs) > 1 or options.core_range is not None or options.since_pin
        if (many or identity) and not options.keep_venv:
            _prepare_base(checker, stack, override, identity)
        wanted = expand_refs(options, checker)
        if identity and not options.keep_venv:
            checker.results = ResultLookup(checker, identity)
        try:
            runs = _run_all(checker, wanted, options.jobs)
            runs = _redo_tainted(checker, wanted, runs)
        finally:
            if install_logs is not None:
                install_logs.update(checker.install_logs)
    return build_report(checker.store_info(), runs, strict=options.strict)


__all__ = ["ResultLookup", "check", "expand_refs"]
