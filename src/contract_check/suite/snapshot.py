"""``contract-check snapshot``: record a golden baseline (schemas, payloads, metadata) from a known-good pair.

Where it goes: ``--output DIR``, else ``golden`` of ``[tool.contract-check]`` (relative to the Store project),
else the ``--suite`` directory's ``golden/``; with none of these, a usage error naming them. What it may
replace there, and what it refuses (the current directory, a project root, the home directory, a directory
that holds no golden, the installed tool), is ``golden_replace``'s to decide: the place is judged before
anything is installed, and the golden is written through the one writer. ``check`` reads ``--golden DIR``,
config ``golden``, the suite's ``golden/``, the built-in one, in that order.
"""

from __future__ import annotations

from pathlib import Path

from contract_check.config import Options
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.run.pipeline import ContractsFactory, Session, open_session
from contract_check.run.refcheck import Progress, quiet
from contract_check.sandbox import baseenv
from contract_check.suite import golden, golden_write


def destination(output: Path | None, golden: Path | None, suite: Path | None, cwd: Path) -> Path:
    """Where the golden goes: *output* (``--output``), else *golden* (``golden`` of the config), else *suite*'s
    ``golden/`` (see the module docstring), as an absolute path (symlinks not yet followed)."""
    chosen = output or golden or (suite / "golden" if suite else None)
    if chosen is None:
        raise UsageError(
            "snapshot needs to know where to write the golden baseline",
            tip='give --output DIR, set golden = "DIR" in [tool.contract-check], or --suite DIR (writes DIR/golden)',
        )
    return chosen if chosen.is_absolute() else cwd / chosen


def take(
    options: Options,
    cwd: Path,
    output: Path | None,
    progress: Progress = quiet,
    *,
    contracts: ContractsFactory | None = None,
) -> Path:
    """Run the contracts of the first ref recording the baseline, and write it (replacing only a golden)."""
    target = destination(output, options.golden, options.suite, cwd)
    golden_write.plan(target, cwd=cwd)  # a place it may not write to is refused before anything is installed
    session = open_session(options, cwd, progress, need_baseline=False)
    runner = (contracts or Session.contracts)(session, baseenv.Environments(session.settings))
    resolved = session.checker(runner).resolve(options.core_refs[0])
    outcome = runner.run(resolved, {}, recording=True)
    broken = [c for c in outcome.checks if c.is_failure]
    snapshot, payloads = outcome.artifacts.get("snapshot"), outcome.artifacts.get("payloads")
    if broken or outcome.foreign or not isinstance(snapshot, dict) or not isinstance(payloads, dict):
        detail = "; ".join(f"{c.id}: {c.message.splitlines()[0] if c.message else ''}" for c in broken[:5])
        raise EnvironmentProblem(
            f"{resolved.display} is not a known-good pair with the Store: "
            f"{detail or outcome.foreign or 'no schemas were reported'}",
            tip="snapshot a Core/Store pair whose assertions pass",
        )
    metadata = golden.recorded_from(
        suite=session.suite.name,
        core_ref=resolved.ref,
        store_spec=session.store.spec,
        store_name=session.store.name,
        versions=outcome.versions,
        core_package=options.core_package,
    )
    return golden_write.write(target, golden.Content(snapshot, payloads, metadata), cwd=cwd)
