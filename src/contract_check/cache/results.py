"""The result cache: a finished run is reused only when nothing that decides its verdict changed.

The key is the Core artifact uv will install (``artifacts.plan``: the bytes of every local file uv may pick
for an index version, with uv's own name rules, and the hashes the index gives; the commit a git ref resolves
to; the digest of a local path; a remote find-links artifact or a URL is never cached) plus the inputs every
run of an invocation shares (``common``: the Store's identity, the suite and user contracts, the pytest
configuration around them, the Python, the tool, strict mode, the index settings, the verdict variables, the
base environment's contents). The key is known before anything is installed, so a hit costs no clone and no
install; a run is stored only when its install was verified to be that artifact (``artifacts.verify``).

An entry is ``{"format", "stored", "run"}``; it is used only when it is younger than ``RESULT_TTL``, a
well-formed run, and its stored verdict is the one ``judge.rejudge`` recomputes from its checks and the
checks the suite declares now (a compatible entry must hold a passing result for every declared check).
Anything else is a miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contract_check import suite
from contract_check.cache import cacheledger, cacheroot
from contract_check.config import cache_root
from contract_check.models import ExitCode, Run
from contract_check.sources.artifacts import Plan
from contract_check.util import fsread
from contract_check.util.fingerprint import digest
from contract_check.verdict import judge

RESULT_TTL = 7 * 24 * 3600.0
RESULT_LIMIT = 16 * fsread.MIB
_FORMAT = 1


class ResultCache:
    """Finished runs, as JSON files under ``<cache>/results``, keyed by every input of their verdict."""

    def __init__(self, common: Sequence[Any], *, declared: list[suite.Expected], root: Path | None = None) -> None:
        self.common = tuple(common)
        self.declared = declared
        self.root = (root or cache_root()) / "results"

    # ------------------------------------------------------------------------------------------------- key

    def key(self, planned: Plan) -> str | None:
        """The cache key of the artifact *planned*, or None when it cannot be pinned (never cached)."""
        return digest("result", planned.identity, *self.common) if planned.identity else None

    # ----------------------------------------------------------------------------------------- get / put

    def _read(self, key: str, now: float | None = None) -> dict[str, Any] | None:
        raw = fsread.read_cached(self.root / f"{key}.json", limit=RESULT_LIMIT)  # a FIFO or a device: a miss
        try:
            data = json.loads(raw) if raw is not None else None
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        stored, run = data.get("stored"), data.get("run")
        age = (time.time() if now is None else now) - stored if isinstance(stored, int | float) else -1
        if not (0 <= age < RESULT_TTL) or not isinstance(run, dict):
            return None
        return run

    def get(self, key: str, now: float | None = None) -> Run | None:
        """The cached run for *key*, if it is fresh, well formed, and its verdict is the one its checks give
        now (``judge.rejudge`` with the checks the suite declares); anything else is a miss."""
        data = self._read(key, now)
        try:
            run = Run.model_validate(data) if data else None
        except ValueError:
            return None
        if run is None or run.exit_code not in (ExitCode.OK, ExitCode.BROKEN) or run.error or not run.checks:
            return None
        try:
            judged = judge.rejudge(run, self.declared)
        except judge.NotRecomputable:
            return None
        if (judged.exit_code, judged.status, judged.error_kind, judged.checks) != (
            run.exit_code,
            run.status,
            run.error_kind,
            run.checks,
        ):
            return None  # the stored verdict does not follow from the stored checks
        cacheledger.touch(self.root.parent, f"results/{key}.json")  # used again: the last to be evicted
        return judged

    def put(self, key: str, run: Run) -> None:
        root = cacheroot.usable(self.root.parent)  # None: not contract-check's directory, nothing is written
        if root is None:
            return
        tmp = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f"{key}.json.", suffix=".tmp")
            stored = time.time()
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": _FORMAT, "stored": stored, "run": run.model_dump(mode="json")}, fh)
            size = os.path.getsize(tmp)
            os.replace(tmp, self.root / f"{key}.json")
            tmp = None
            cacheledger.record(root, f"results/{key}.json", "result", size, expires=stored + RESULT_TTL)
        except OSError:
            pass  # a cache that cannot be written only costs speed
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
