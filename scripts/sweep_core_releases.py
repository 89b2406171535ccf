"""Check every published Core release against one Store and print the verdict per version.

Usage: python scripts/sweep_core_releases.py [--store market-data-store==0.6.73] [--min 1.2.0]
Every release is expected to be compatible with Store 0.6.73; a failure is a false alarm to explain or fix.
Versions are listed from the index uv uses (or --index-url), as contract-check itself lists them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from packaging.version import Version

from contract_check.sandbox import find_uv
from contract_check.sources import index


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="market-data-store==0.6.73")
    parser.add_argument("--core-package", default="market-data-core")
    parser.add_argument("--min", default="1.2.0")
    parser.add_argument("--index-url", default=None)
    args = parser.parse_args()
    settings = index.IndexSettings(index_url=args.index_url)
    found = index.releases(args.core_package, settings, uv=find_uv())
    versions = [
        r.version for r in found if not r.yanked and not r.version.is_prerelease and r.version >= Version(args.min)
    ]
    exe = Path(sys.executable).with_name("contract-check")
    verdicts: dict[str, list[str]] = {}
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for version in versions:
            out = Path(tmp) / f"{version}.json"
            argv = [str(exe), "--core-ref", str(version), "--store", args.store, "-q", "--json", str(out)]
            done = subprocess.run(argv, capture_output=True, text=True)
            failing = []
            if out.is_file():
                report = json.loads(out.read_text())
                failing = [c["id"] for r in report["runs"] for c in r["checks"] if c["status"] in ("failed", "error")]
            verdict = {0: "compatible", 1: "BROKEN", 3: "could not check"}.get(
                done.returncode, f"exit {done.returncode}"
            )
            verdicts.setdefault(verdict, []).append(str(version))
            print(f"{version!s:>8}  {verdict:16} {', '.join(failing[:4])}", flush=True)
    print(
        f"\n{len(versions)} releases in {time.monotonic() - start:.0f}s: "
        + "; ".join(f"{k}: {len(v)}" for k, v in verdicts.items())
    )
    return 0 if set(verdicts) == {"compatible"} else 1


if __name__ == "__main__":
    sys.exit(main())
