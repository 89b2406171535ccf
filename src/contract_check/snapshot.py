"""``contract-check snapshot``: record a golden baseline (schemas, payloads, metadata) from a known-good pair.

Where it goes: ``--output DIR``, else ``golden`` of ``[tool.contract-check]`` (relative to the Store project),
else the ``--suite`` directory's ``golden/``; with none of these, a usage error naming them. Never inside the
installed tool: every later check would silently compare with it. ``check`` reads ``--golden DIR``, config
``golden``, the suite's ``golden/``, the built-in one, in that order.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from contract_check import __version__, baseenv
from contract_check.config import Options
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.pipeline import ContractsFactory, Session, open_session
from contract_check.proc import redact
from contract_check.refcheck import Progress, quiet

_PACKAGE = Path(__file__).resolve().parent


def destination(options: Options, output: Path | None) -> Path:
    """Where the golden goes (see the module docstring)."""
    chosen = output or options.golden or (options.suite / "golden" if options.suite else None)
    if chosen is None:
        raise UsageError(
            "snapshot needs to know where to write the golden baseline",
            tip='give --output DIR, set golden = "DIR" in [tool.contract-check], or --suite DIR (writes DIR/golden)',
        )
    chosen = chosen.resolve()
    if chosen.is_relative_to(_PACKAGE):
        raise UsageError(
            f"{chosen} is inside the installed contract-check; every later check would compare with it",
            tip="write the golden into your project (--output DIR or golden in [tool.contract-check]) and check "
            "with --golden DIR",
        )
    return chosen


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def take(
    options: Options,
    cwd: Path,
    output: Path | None,
    progress: Progress = quiet,
    *,
    contracts: ContractsFactory | None = None,
) -> Path:
    """Run the contracts of the first ref recording the baseline, and write it (replacing what was there)."""
    target = destination(options, output)
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
    versions = outcome.versions
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".golden-", dir=target.parent))
    try:
        (staging / "payloads").mkdir()
        _dump(staging / "schemas.json", snapshot)
        for subject, items in payloads.items():
            if items:
                _dump(staging / "payloads" / f"{subject}.json", items)
        _dump(
            staging / "metadata.json",
            {
                "suite": session.suite.name,
                "core_ref": redact(resolved.ref),  # committed to a repository: never a token
                "core": versions.get(options.core_package),
                "store": {
                    "spec": redact(session.store.spec),
                    "name": session.store.name,
                    "version": versions.get(session.store.name or "", None),
                },
                "pydantic": versions.get("pydantic"),
                "python": versions.get("python"),
                "tool": __version__,
                "date": dt.datetime.now(dt.UTC).date().isoformat(),
            },
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
