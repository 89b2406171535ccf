"""``contract-check snapshot``: write contracts/golden/ from a known-good Core/Store pair."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from contract_check import __version__, runner
from contract_check.check import Checker, Progress
from contract_check.config import Options
from contract_check.errors import EnvironmentProblem
from contract_check.proc import redact


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def take(options: Options, cwd: Path, output: Path | None, progress: Progress) -> Path:
    checker = Checker(options, cwd, progress)
    resolved = checker.resolve(options.core_refs[0])
    outcome = checker.execute(resolved, {})
    broken = [c for c in outcome.checks if c.is_failure]
    snapshot, payloads = outcome.artifacts.get("snapshot"), outcome.artifacts.get("payloads")
    if broken or not isinstance(snapshot, dict) or not isinstance(payloads, dict):
        detail = "; ".join(f"{c.id}: {c.message.splitlines()[0] if c.message else ''}" for c in broken[:5])
        raise EnvironmentProblem(
            f"{resolved.display} is not a known-good pair with the Store: {detail or 'no schemas were reported'}",
            tip="snapshot a Core/Store pair whose assertions pass",
        )
    golden = output or runner.builtin_contracts() / "golden"
    (golden / "payloads").mkdir(parents=True, exist_ok=True)
    _dump(golden / "schemas.json", snapshot)
    for subject, items in payloads.items():
        _dump(golden / "payloads" / f"{subject}.json", items)
    versions = outcome.versions
    _dump(
        golden / "metadata.json",
        {
            "core_ref": redact(resolved.ref),  # committed to the repository: never a token
            "core": versions.get(options.core_package),
            "store": {
                "spec": redact(checker.store.spec),
                "name": checker.store_name,
                "version": versions.get(checker.store_name or "", None),
            },
            "pydantic": versions.get("pydantic"),
            "python": versions.get("python"),
            "tool": __version__,
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
        },
    )
    return golden
