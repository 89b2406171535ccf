"""Benchmark bump's planning on large files (not a test: it prints numbers).

``bump.plan_bump`` once checked each copy of the Core requirement's text by parsing the whole pyproject.toml
again: 3,200 copies in 116 KB took 34 s (quadratic). This prints, for a growing number of copies, the time
to plan the bump of a pyproject.toml whose dependencies list the Core requirement that many times (plus as many
copies elsewhere in the document, which must stay), and of a requirements file with that many Core lines,
continuations and comments. Linear: twice the copies, about twice the time.

Usage: python benchmarks/bench_bump.py [--up-to 12800]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from packaging.version import Version

from contract_check.bump.edits import plan_bump

CORE = "market-data-core"
REQUIREMENT = "market-data-core>=1.4.54,<2.0.0"


def pyproject(copies: int) -> str:
    deps = "".join(f'  "{REQUIREMENT}",  # copy {n}\n' for n in range(copies))
    elsewhere = "".join(f'k{n} = "{REQUIREMENT}"\n' for n in range(copies))
    return f'[project]\nname = "store"\ndependencies = [\n{deps}]\n\n[tool.other]\n{elsewhere}'


def requirements(copies: int) -> str:
    lines = []
    for n in range(copies):
        lines += [
            f"# pin {n} \\",
            f"{REQUIREMENT}  # the Core line",
            f"pydantic>=2.{n % 9} \\",
            "  ; python_version>'3'",
        ]
    return "\r\n".join(lines) + "\r\n"


def timed(copies: int, *, in_requirements: bool) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        if in_requirements:
            (project / "pyproject.toml").write_text(pyproject(1))
            (project / "requirements.txt").write_text(requirements(copies))
        else:
            (project / "pyproject.toml").write_text(pyproject(copies))
        size = sum(p.stat().st_size for p in project.iterdir())
        start = time.perf_counter()
        plan = plan_bump(project, CORE, Version("1.4.61"))
        elapsed = time.perf_counter() - start
        assert len(plan.edits) == (2 if in_requirements else 1), plan
        return size, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--up-to", type=int, default=12800, help="the largest number of copies (default 12800)")
    args = parser.parse_args()
    print(f"{'where':<18} {'copies':>7} {'bytes':>10} {'seconds':>9} {'per copy (us)':>14}")
    for where in ("pyproject.toml", "requirements.txt"):
        copies = 200
        while copies <= args.up_to:
            size, elapsed = timed(copies, in_requirements=where == "requirements.txt")
            print(f"{where:<18} {copies:>7} {size:>10,} {elapsed:>9.3f} {elapsed / copies * 1e6:>14.1f}")
            copies *= 2


if __name__ == "__main__":
    main()
