"""Benchmark a check in a Store checkout against the same Store pinned from a wheel (prints numbers side by side).

Issue 12: in a checkout, every run used to build the Store in place, which changed the tree, so the shared base
environment and the result cache missed and a new Core ref cost 2-4x the pinned Store's time. Now the checkout
is built once from a clean copy (cached by content digest), and both flows should cost the same.

Both flows run in the field-shaped Store repository of the tests (``tests/storerepo.py``: setuptools, ``src/``
layout, tracked egg-info, a ``[dev]`` extra) with its own contracts, against fixture Core releases from a
find-links directory:
  1. checkout  contract-check --core-ref NEW --store '.[dev]'                       --contracts tests/contracts
  2. pinned    contract-check --core-ref NEW --store 'cc-fixture-store[dev]==0.2.0' --contracts tests/contracts
Each timed run checks a Core ref that flow has not checked before (a result-cache miss) with warm uv, wheel and
base-environment caches (one untimed run per flow first). The two flows alternate. Median of --repeat runs.

Usage: python benchmarks/bench_checkout.py [--repeat 5]   (needs the index for pydantic, setuptools, tomli-w)
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

from fixturepkgs import CORE_DIST, STORE_DIST, VARIANTS, build_fixture_world  # noqa: E402
from storerepo import STORE_REPO_VERSION, make_store_repo  # noqa: E402

EXE = str(Path(sys.executable).with_name("contract-check"))
COMPATIBLE = [name for name, variant in VARIANTS.items() if variant.expect_exit == 0]


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        start = time.perf_counter()
        done = subprocess.run([EXE, *args, "-q", "--json", str(out)], cwd=cwd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        report = json.loads(out.read_text()) if out.is_file() else {}
    if done.returncode != 0:
        raise SystemExit(f"contract-check {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return wall, report


def build_store_wheel(repo: Path, out: Path) -> None:
    """The Store as a wheel (built from a copy, like the tool does), for the pinned flow's find-links."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store"
        shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(copy)], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-checkout-"))
    try:
        world = build_fixture_world(work / "world")
        repo = make_store_repo(work / "store")
        store_links = work / "store-links"
        build_store_wheel(repo.root, store_links)
        refs = [world.variant_versions[name] for name in COMPATIBLE]
        if len(refs) < args.repeat + 1:
            raise SystemExit(f"only {len(refs)} compatible fixture Cores: use --repeat {len(refs) - 1} or fewer")
        env = {**os.environ, "CONTRACT_CHECK_CACHE_DIR": str(work / "cache")}
        common = ["--core-package", CORE_DIST, "--find-links", str(world.find_links), "--contracts", "tests/contracts"]
        flows = {
            "checkout (--store '.[dev]')": ["--store", ".[dev]"],
            f"pinned ({STORE_DIST}[dev]=={STORE_REPO_VERSION})": [
                "--store",
                f"{STORE_DIST}[dev]=={STORE_REPO_VERSION}",
                "--find-links",
                str(store_links),
            ],
        }
        for extra in flows.values():  # warm uv's cache, the Store wheel and each flow's base environment
            timed(["--core-ref", refs[0], *common, *extra], repo.root, env)
        times: dict[str, list[float]] = {name: [] for name in flows}
        phases: dict[str, list[dict]] = {name: [] for name in flows}
        for ref in refs[1 : args.repeat + 1]:
            for name, extra in flows.items():
                wall, report = timed(["--core-ref", ref, *common, *extra], repo.root, env)
                assert not report["runs"][0]["cached"], "a timed run must check a new ref"
                times[name].append(wall)
                phases[name].append(report["runs"][0]["phases"])
        if repo.status():
            raise SystemExit(f"the checkout changed:\n{repo.status()}")
        pinned = statistics.median(next(reversed(times.values())))
        print(f"warm check of a new Core ref in a Store checkout, median of {args.repeat} (a new ref each run)")
        print(f"{'flow':44} {'median s':>9} {'min s':>7} {'max s':>7} {'vs pinned':>10}  phases (median s)")
        for name, values in times.items():
            med = statistics.median(values)
            keys = sorted({k for p in phases[name] for k in p})
            shown = ", ".join(f"{k} {statistics.median(p.get(k, 0.0) for p in phases[name]):.2f}" for k in keys)
            print(f"{name:44} {med:9.2f} {min(values):7.2f} {max(values):7.2f} {med / pinned:9.2f}x  {shown}")
        ratio = statistics.median(next(iter(times.values()))) / pinned
        print(f"target: checkout <= 1.2x pinned: {ratio:.2f}x ({'met' if ratio <= 1.2 else 'NOT met'})")
        print("the checkout's git status was clean after every run")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
