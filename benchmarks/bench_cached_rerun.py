"""Benchmark a cached re-run of many Core releases: the result cache's key is known before any install.

Issue 17.6: the key is the artifact uv installs (an index release by the hash the index gives, a find-links
file by its bytes), computed from the listing the refs are resolved with, so a re-run answered from the cache
costs no clone and no install. The goal: a cached re-run of 71 releases in under a second.

The fixture index: N fixture Core releases (``1.0.0`` ... ``1.0.N-1``) served by the tests' loopback index with
``#sha256=`` links (PyPI's simple API gives them too), the fixture Store as a wheel, one command:
  contract-check --core-range '>=1.0.0' --store STORE.whl --index-url LOOPBACK --find-links WHEELHOUSE
  1. fill    the first run: every release checked (untimed, printed)
  2. cached  the same command again, --repeat times: every run answered from the result cache (median)
  3. local   the same with the Core wheels as a --find-links directory instead (each hashed from its bytes)
The wheelhouse holds the Store's and the tool's test dependencies (pydantic, pytest, ...) so that nothing but
the loopback index is asked; uv's cache is warm after the first run.

Usage: python benchmarks/bench_cached_rerun.py [--releases 71] [--repeat 5] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fixturepkgs import CORE_DIST, build_core_wheel, build_store_wheel  # noqa: E402
from loopback_index import LoopbackIndex  # noqa: E402
from wheelhouse import build as build_wheelhouse  # noqa: E402

EXE = str(Path(sys.executable).with_name("contract-check"))


def timed(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        start = time.perf_counter()
        done = subprocess.run([EXE, *args, "-q", "--json", str(out)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        report = json.loads(out.read_text()) if out.is_file() else {}
    if done.returncode not in (0, 1):
        raise SystemExit(f"contract-check exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return wall, report


def cached_runs(args: list[str], env: dict[str, str], repeat: int) -> tuple[float, float, int, int]:
    """(fill time, median cached time, runs, cache hits in the last cached run)."""
    fill, report = timed(args, env)
    walls = []
    for _ in range(repeat):
        wall, report = timed(args, env)
        walls.append(wall)
    runs = report.get("runs", [])
    return fill, statistics.median(walls), len(runs), sum(bool(r.get("cached")) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", type=int, default=71)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cached-"))
    try:
        served, wheelhouse = work / "served", work / "wheelhouse"
        for n in range(args.releases):
            build_core_wheel(served, f"1.0.{n}")
        store = build_store_wheel(work / "store", core_range=">=1.0,<2")
        build_wheelhouse(wheelhouse, ["pydantic", "pytest"], exclude="contract-check")
        base = ["--core-range", ">=1.0.0", "--core-package", CORE_DIST, "--store", str(store), "--jobs", str(args.jobs)]
        results = {}
        with LoopbackIndex(served, hashes=True) as index:
            env = {**os.environ, "CONTRACT_CHECK_CACHE_DIR": str(work / "cache-index")}
            flags = [*base, "--index-url", index.url, "--find-links", str(wheelhouse)]
            results["index (sha256 from the listing)"] = cached_runs(flags, env, args.repeat)
        links = work / "links"
        shutil.copytree(served, links)
        shutil.copytree(wheelhouse, links, dirs_exist_ok=True)
        env = {**os.environ, "CONTRACT_CHECK_CACHE_DIR": str(work / "cache-links")}
        results["find-links (each file hashed)"] = cached_runs([*base, "--find-links", str(links), "--offline"], env,
                                                               args.repeat)  # fmt: skip
        print(
            f"{args.releases} fixture Core releases, --jobs {args.jobs}, {os.cpu_count()} CPUs, median of {args.repeat}"
        )
        for name, (fill, cached, runs, hits) in results.items():
            print(
                f"  {name:34} first run {fill:6.1f} s   cached re-run {cached:5.2f} s   ({hits}/{runs} from the cache)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
