"""Benchmark one check three ways, side by side, in one run (not a test: it prints numbers).

1. contract-check --core-ref REF --store STORE            (the tool, warm uv cache)
2. the starting plan's flow: python -m venv + pip install Store, Core, pytest + pytest the contracts
3. a bare script: uv venv + uv pip install (same overrides) + pytest the contracts

Usage: python benchmarks/bench_check.py [--core-ref 1.4.61] [--store market-data-store==0.6.73] [--repeat 3]
The pip flow uses pip as configured on the machine; the uv flows let uv pick its index.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contract_check.run.pytest_session import prepare
from contract_check.sandbox import find_uv
from contract_check.suite import builtin

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.mkdtemp(prefix="bench-check-cache-"))
TOOL_ENV = {"CONTRACT_CHECK_CACHE_DIR": str(CACHE)}


def timed(argv: list[str], **kw: object) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - start


def tool(core_ref: str, store: str) -> float:
    """A warm check: the shared environment for this pinned Store is cached; results are not (--no-cache off
    for environments only would need a flag, so the result cache is cleared before every timed run)."""
    exe = Path(sys.executable).with_name("contract-check")
    shutil.rmtree(CACHE / "results", ignore_errors=True)
    return timed([str(exe), "--core-ref", core_ref, "--store", store, "-q"], env={**os.environ, **TOOL_ENV})


def tool_cold(core_ref: str, store: str) -> float:
    """No reuse at all: a fresh venv and a full install, like the bare uv script."""
    exe = Path(sys.executable).with_name("contract-check")
    return timed(
        [str(exe), "--core-ref", core_ref, "--store", store, "-q", "--no-cache"], env={**os.environ, **TOOL_ENV}
    )


def run_contracts(py: str, d: Path) -> None:
    """The built-in suite, sealed, with the result plugin: the same files and pytest options the tool uses
    (``runner.prepare`` lays them out), so the hand-made flows run exactly the tool's contracts."""
    suite = builtin()
    layout = prepare(d / "work", suite, suite.golden)
    env = {
        **os.environ,
        "CONTRACT_CHECK_OUT": str(d / "results.jsonl"),
        "CONTRACT_CHECK_SUITE": str(layout.config),
    }
    argv = [py, "-I", "-B", str(layout.plugin), "--sealed", "--", "-p", "contract_check_plugin"]
    argv += ["-p", "no:cacheprovider", "-o", "addopts=", "-q", "--no-header"]
    argv += ["-c", str(layout.sealed_ini), "--rootdir", str(layout.suite), "--confcutdir", str(layout.suite)]
    subprocess.run([*argv, str(layout.suite)], check=True, env=env, cwd=layout.suite, stdout=subprocess.DEVNULL)


def pip_flow(core_ref: str, store: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(d / "v")], check=True)
        py = str(d / "v/bin/python")
        (d / "c.txt").write_text(f"market-data-core=={core_ref}\n")
        # pip has no overrides: install the Store first, then force the Core version over its pin
        subprocess.run([py, "-m", "pip", "install", "-q", store, "pytest"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [py, "-m", "pip", "install", "-q", "--no-deps", f"market-data-core=={core_ref}"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        run_contracts(py, d)
        return time.perf_counter() - start


def uv_flow(core_ref: str, store: str) -> float:
    uv = find_uv()  # the uv the tool uses (its dependency), whether or not it is on PATH
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        start = time.perf_counter()
        subprocess.run([uv, "venv", "-q", str(d / "v")], check=True)
        py = str(d / "v/bin/python")
        (d / "o.txt").write_text(f"market-data-core=={core_ref}\n")
        subprocess.run(
            [uv, "pip", "install", "-q", "-p", py, "--overrides", str(d / "o.txt"), store, "pytest"],
            check=True,
        )
        run_contracts(py, d)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--core-ref", default="1.4.61")
    parser.add_argument("--store", default="market-data-store==0.6.73")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    flows = {
        "contract-check": tool,
        "contract-check --no-cache": tool_cold,
        "bare uv script": uv_flow,
        "pip flow (starting plan)": pip_flow,
    }
    for fn in flows.values():  # warm every cache once (uv's and pip's), untimed
        fn(args.core_ref, args.store)
    results = {name: [fn(args.core_ref, args.store) for _ in range(args.repeat)] for name, fn in flows.items()}
    tool_median = statistics.median(results["contract-check"])
    print(f"check of Core {args.core_ref} against {args.store}, warm caches, median of {args.repeat}")
    print(f"{'flow':28} {'median s':>9} {'min s':>7} {'max s':>7} {'vs tool':>8}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:28} {med:9.2f} {min(times):7.2f} {max(times):7.2f} {med / tool_median:7.2f}x")
    print("contract-check: warm shared environment (the Store pinned), result cache cleared before each run")
    pip_ratio = statistics.median(results["pip flow (starting plan)"]) / tool_median
    uv_ratio = tool_median / statistics.median(results["bare uv script"])
    print(
        f"targets: tool >= 10x faster than pip flow: {pip_ratio:.1f}x ({'met' if pip_ratio >= 10 else 'NOT met'}); "
        f"tool <= 1.2x bare uv: {uv_ratio:.2f}x ({'met' if uv_ratio <= 1.2 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
