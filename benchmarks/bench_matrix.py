"""Benchmark the matrix: every published Core release against one Store, in one run (prints numbers).

Side by side, in the same run, with a warm uv cache:
  1. matrix   contract-check --core-range '>=MIN' --jobs N --no-cache   (all refs; shared base env, parallel)
  2. cached   the same command without --no-cache, run twice: the second run answers from the result cache
  3. single   one `contract-check --core-ref X --no-cache` per ref, for a sample, extrapolated to all refs
  4. pip      the starting plan's pip flow (venv + pip install + pytest) for a sample, extrapolated
Peak memory is the tool process's own high-water mark (VmHWM), sampled from /proc while it runs.

Usage: python benchmarks/bench_matrix.py [--store market-data-store==0.6.73] [--min 1.2.0] [--sample 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_check import pip_flow

EXE = str(Path(sys.executable).with_name("contract-check"))


def run_tool(args: list[str], env: dict[str, str]) -> tuple[float, int, dict]:
    """Wall time, peak RSS (KiB) of the tool process itself, and the JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        start = time.perf_counter()
        proc = subprocess.Popen([EXE, *args, "-q", "--json", str(out)], env=env, stdout=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.05)
        wall = time.perf_counter() - start
        return wall, peak, json.loads(out.read_text()) if out.is_file() else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="market-data-store==0.6.73")
    parser.add_argument("--min", default="1.2.0")
    parser.add_argument("--sample", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="bench-cache-")
    env = {**os.environ, "CONTRACT_CHECK_CACHE_DIR": cache}
    base = ["--core-range", f">={args.min}", "--store", args.store, "--jobs", str(args.jobs)]

    run_tool(["--core-ref", "1.4.61", "--store", args.store, "--no-cache"], env)  # warm uv's cache, untimed
    wall, peak, report = run_tool([*base, "--no-cache"], env)
    refs = [r["core_ref"] for r in report.get("runs", [])]
    verdicts = {r["core_ref"]: r["exit_code"] for r in report.get("runs", [])}
    n = len(refs)
    run_tool(base, env)  # fills the result cache
    cached_wall, cached_peak, cached_report = run_tool(base, env)
    hits = sum(r.get("cached", False) for r in cached_report.get("runs", []))

    sample = refs[:: max(1, n // args.sample)][: args.sample]
    single = [run_tool(["--core-ref", ref, "--store", args.store, "--no-cache"], env)[0] for ref in sample]
    per_single = sum(single) / len(single)
    pip = [pip_flow(ref, args.store) for ref in sample[:2]]
    per_pip = sum(pip) / len(pip)

    print(
        f"{n} Core releases (>= {args.min}) against {args.store}, warm uv cache, {os.cpu_count()} CPUs, "
        f"--jobs {args.jobs}"
    )
    print(
        f"verdicts: {sum(v == 0 for v in verdicts.values())} compatible, {sum(v != 0 for v in verdicts.values())} not"
    )
    print(f"{'way':44} {'total s':>8} {'per ref s':>9} {'vs matrix':>9}")
    rows = [
        ("matrix (one run, --no-cache)", wall),
        (f"matrix, fully cached re-run ({hits}/{n} hits)", cached_wall),
        (f"single runs, one per ref (sample {len(sample)}, extrapolated)", per_single * n),
        ("pip flow of the starting plan (sample 2, extrapolated)", per_pip * n),
    ]
    for name, total in rows:
        print(f"{name:44} {total:8.1f} {total / max(n, 1):9.2f} {total / wall:8.2f}x")
    print(f"peak memory of the tool process: {peak / 1024:.0f} MiB (matrix), {cached_peak / 1024:.0f} MiB (cached)")
    print(
        f"targets: sweep < 60 s: {wall:.1f} s ({'met' if wall < 60 else 'NOT met'}); "
        f">= 30x faster than pip: {per_pip * n / wall:.1f}x ({'met' if per_pip * n / wall >= 30 else 'NOT met'}); "
        f"cached re-run < 3 s: {cached_wall:.2f} s ({'met' if cached_wall < 3 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
