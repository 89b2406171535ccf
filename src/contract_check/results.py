"""The result cache: a finished run is reused only when nothing that decides its verdict changed.

The key is the resolved Core artifact (an index version and the digest of any local file for it, the commit a
git ref resolves to, the digest of a local path; remote URLs are never cached) plus the inputs every run of an
invocation shares (``common``: the Store's identity, the suite and user contracts, the pytest configuration
around them, the Python, the tool, strict mode, the index settings, the verdict variables, the base
environment's contents). An entry is ``{"format", "stored", "run"}``; it is used only when it is younger than
``RESULT_TTL``, a well-formed run, and complete (its exit code follows from its checks; a compatible one has a
passing result for every declared check). Anything else is a miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contract_check import cacheledger, cacheroot, fsread, proc, suite
from contract_check.config import cache_root
from contract_check.errors import ContractCheckError
from contract_check.fingerprint import content_digest, digest, file_digest
from contract_check.models import ExitCode, Layer, Run, Source, run_exit_code
from contract_check.refs import ResolvedRef
from contract_check.sandbox import scrubbed_env

RESULT_TTL = 7 * 24 * 3600.0
RESULT_LIMIT = 16 * fsread.MIB
_FORMAT = 1
_SHA = re.compile(r"[0-9a-f]{40}")


class ResultCache:
    """Finished runs, as JSON files under ``<cache>/results``, keyed by every input of their verdict."""

    def __init__(
        self,
        common: Sequence[Any],
        *,
        declared: list[suite.Expected],
        find_links: Sequence[str] = (),
        core_package: str = "",
        root: Path | None = None,
    ) -> None:
        self.common = tuple(common)
        self.declared = declared
        self.find_links = tuple(find_links)
        self.core_package = core_package
        self.root = (root or cache_root()) / "results"

    # ------------------------------------------------------------------------------------------------- key

    def _core_identity(self, resolved: ResolvedRef) -> str | None:
        if resolved.source is Source.INDEX:
            files = []
            for link in self.find_links:
                folder = Path(link)
                if folder.is_dir() and resolved.version is not None:
                    stem = self.core_package.replace("-", "_") + f"-{resolved.version}"
                    files += [file_digest(p) for p in sorted(folder.glob(f"{stem}[-.]*"))]
            return f"{resolved.requirement}|{files}"
        if resolved.source is Source.GIT:
            return self._git_commit(resolved)
        target = resolved.requirement.split(" @ ", 1)[-1]
        if target.startswith("file://"):
            return content_digest(Path(target.removeprefix("file://")))
        return None  # a remote URL may change behind the same name: not cached

    @staticmethod
    def _git_commit(resolved: ResolvedRef) -> str | None:
        url, rev = resolved.git_url, resolved.git_rev
        if not url or not rev:
            return None
        if _SHA.fullmatch(rev):
            return f"git:{rev}"
        try:
            done = proc.run(
                ["git", "ls-remote", "--", url, rev, f"{rev}^{{}}"],  # "--": the URL is never an option
                env=scrubbed_env({"GIT_TERMINAL_PROMPT": "0"}),
                timeout=30,
                what="git ls-remote",
            )
        except (ContractCheckError, OSError):
            return None
        shas = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
        return f"git:{shas[-1]}" if done.ok and shas else None  # the peeled tag (^{}) comes last

    def key(self, resolved: ResolvedRef) -> str | None:
        """The cache key of *resolved*, or None when its artifact cannot be pinned (never cached)."""
        core = self._core_identity(resolved)
        return digest("result", core, *self.common) if core else None

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
        """The cached run for *key*, if it is fresh, well formed and complete; anything else is a miss."""
        data = self._read(key, now)
        try:
            run = Run.model_validate(data) if data else None
        except ValueError:
            return None
        if run is None or run.exit_code not in (ExitCode.OK, ExitCode.BROKEN) or run.error:
            return None
        if run_exit_code(run.checks) != run.exit_code:
            return None  # the stored verdict does not follow from the stored checks
        builtin = {c.id: c.status.value for c in run.checks if c.layer is not Layer.USER}
        if run.exit_code == ExitCode.OK and not suite.completeness(self.declared, builtin).complete:
            return None
        return run

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
