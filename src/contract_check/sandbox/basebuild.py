"""The shared base environment of one invocation: how it is built and keyed, so that it is the same whichever
refs the invocation has (its contents are part of every result's key: a single ref reuses what a matrix cached).

It holds the Store, its dependencies and pytest, with bytecode warmed; the Core its own range installs is
installed to resolve them and removed again. Only when that range installs nothing here (a Store pinned to a
Core the index does not have) is another Core used: the newest release, else the first ref the
invocation checks (``_fallback_cores``).
``baseenv`` holds the mechanism (persistent and transient bases, the guard); this module the policy.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import contract_check.suite as suites
from contract_check import __version__
from contract_check.errors import ContractCheckError, UsageError
from contract_check.run import matrix
from contract_check.run.refcheck import core_requirement
from contract_check.run.settings import ref_selection
from contract_check.sandbox import FreshSandbox, baseenv
from contract_check.sources import index, refs
from contract_check.util import fingerprint, proc

if TYPE_CHECKING:
    from contract_check.run.pipeline import Session

log = logging.getLogger("contract_check")


def _warm_modules(suite: suites.Suite) -> list[str]:
    """What the base environment imports once so that its clones start with bytecode: pytest and the
    subjects' modules (Core's bytecode goes with Core, which the base does not keep)."""
    modules = [target.partition(":")[0] for target in suite.subjects.values()]
    return ["pytest", "_pytest.python", "_pytest.fixtures", *dict.fromkeys(modules)]


def _build_base(session: Session, venv: Path, override: refs.ResolvedRef | None) -> None:
    """Store + dependencies + pytest, bytecode warmed, then Core removed: what every ref's sandbox starts from."""
    options = session.options
    with FreshSandbox(session.settings, relocatable=True) as box:
        reread = (session.store.name,) if session.store.path is not None and session.store.name else ()
        core = [core_requirement(override, box, options.core_package)] if override else []  # a local Core: a copy
        box.install([session.store_install, "pytest", *options.with_], core, reread=reread)
        box.warm(_warm_modules(session.suite))
        box.uninstall(options.core_package)
        shutil.move(str(box.venv), str(venv))


@contextlib.contextmanager
def environments(session: Session, *, many: bool) -> Iterator[baseenv.Environments]:
    """Sandboxes for the refs: clones of a shared base when several refs share it or it is kept (the Store
    is pinned), else fresh venvs. A base that cannot be built only costs speed.

    The base is the same whichever refs an invocation has (its contents are part of every result's key, so a
    single ref reuses what a matrix cached): the Store with the Core its own range installs, then Core
    removed; only when that range installs nothing here another Core (``_fallback_cores``)."""
    options = session.options
    identity = None if options.no_cache else session.store.identity()
    if not (many or identity) or options.keep_venv:
        yield baseenv.Environments(session.settings)
        return

    def build(venv: Path) -> None:
        try:
            _build_base(session, venv, None)
            return
        except UsageError:
            raise
        except ContractCheckError as exc:
            failure = exc
        for override in _fallback_cores(session):
            why = proc.redact(failure.message.splitlines()[0])
            log.info("the Store's own Core range does not install (%s); the shared environment uses %s", why,
                     override.display)  # fmt: skip
            try:
                _build_base(session, venv, override)
                return
            except UsageError:
                raise
            except ContractCheckError as exc:
                failure = exc
        raise failure

    session.progress("preparing the shared environment (Store, dependencies, pytest)")
    with contextlib.ExitStack() as stack:
        guard = None
        try:
            if identity:
                key = fingerprint.digest(
                    "base", identity, options.python or sys.executable, sys.version, __version__,
                    options.core_package, options.index, options.with_,
                )  # fmt: skip
                guard = baseenv.BaseGuard(stack.enter_context(baseenv.persistent_base(key, build)))
            else:
                guard = baseenv.BaseGuard(stack.enter_context(baseenv.transient_base(build)))
        except UsageError:  # a --python that is not installed: no ref can be checked either
            raise
        except (ContractCheckError, OSError) as exc:
            message = getattr(exc, "message", str(exc))
            log.info("no shared environment (each ref installs from scratch): %s", proc.redact(message.splitlines()[0]))
        yield baseenv.Environments(session.settings, guard)


def _fallback_cores(session: Session) -> Iterator[refs.ResolvedRef]:
    """The Cores a base is built with when the Store's own range installs none, in turn until one installs:
    the newest release on the index (the same for every invocation), then the first ref this one checks (for
    ``--since-pin`` only when the Store's range is known without a base)."""
    tried: set[str] = set()
    checker = session.checker(session.contracts(baseenv.Environments(session.settings)))
    for pick in (_newest, _first_ref):
        try:
            ref = pick(session)
            resolved = checker.resolve(ref) if ref is not None else None
        except ContractCheckError:
            continue
        if resolved is not None and resolved.requirement not in tried:
            tried.add(resolved.requirement)
            yield resolved


def _newest(session: Session) -> str | None:
    newest = index.newest(session.releases(), python=index.python_version(session.options.python))
    return str(newest) if newest is not None else None


def _first_ref(session: Session) -> str | None:
    options = session.options
    if options.core_refs:
        return options.core_refs[0]
    if session.store.declared_core is None and options.since_pin:
        return None
    return matrix.expand_refs(ref_selection(options), declared=session.store.declared_core, releases=session.releases)[
        0
    ]
