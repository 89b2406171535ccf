"""Regenerate the README's example outputs, or check that they are current.

    python scripts/readme_examples.py            # rewrite the blocks in README.md
    python scripts/readme_examples.py --check    # exit 1 if a block differs (timings and paths normalised)

Each example is a README block between ``<!-- example: NAME -->`` and ``<!-- /example -->``: a shell
command run in the example Store project (built fresh by ``examples/build.py`` in a temporary directory,
with a private cache) at 100 columns, and its output.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WIDTH = "100"
EXAMPLES: dict[str, list[str]] = {
    "check-compatible": ["--core-ref", "1.2.0"],
    "check-broken": ["--core-ref", "1.1.0"],
    "check-range": ["--core-range", ">=1.0"],
    "against": ["--core-ref", "1.3.0", "--against", "1.0.0"],
    "bump": ["bump", "--core-ref", "1.2.0", "--dry-run", "--allow-unpublished"],  # example-core: --find-links only
}
BLOCK = re.compile(r"(<!-- example: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /example -->)", re.S)


def _shown(args: list[str]) -> str:
    return "contract-check " + " ".join(f"'{a}'" if any(c in a for c in "<>=,") else a for a in args)


def run_examples() -> dict[str, str]:
    """Every example's block text: the command and its output, as a reader would see it."""
    sys.path.insert(0, str(ROOT / "examples"))
    from build import build  # type: ignore[import-not-found]

    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="readme-examples-") as tmp:
        root = build(Path(tmp) / "out")
        env = {**os.environ, "COLUMNS": WIDTH, "NO_COLOR": "1", "CONTRACT_CHECK_CACHE_DIR": str(Path(tmp) / "cache")}
        env.pop("GITHUB_ACTIONS", None)
        for name, args in EXAMPLES.items():
            done = subprocess.run(
                [sys.executable, "-m", "contract_check", *args],
                cwd=root / "store",
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            text = done.stdout.replace(str(root), "examples/out")
            out[name] = f"```\n$ {_shown(args)}\n{text.rstrip()}\n$ echo $?\n{done.returncode}\n```\n"
    return out


def normalised(text: str) -> str:
    """What may differ between two runs of the same example: durations, dates, temporary paths."""
    text = re.sub(r"\b\d+\.\ds\b", "N.Ns", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "YYYY-MM-DD", text)
    return re.sub(r"/tmp/[\w./-]+", "TMP", text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    readme = README.read_text(encoding="utf-8")
    fresh = run_examples()
    stale: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in fresh:
            stale.append(f"{name}: no such example")
            return match.group(0)
        if normalised(match["body"]) != normalised(fresh[name]):
            diff = difflib.unified_diff(match["body"].splitlines(), fresh[name].splitlines(), lineterm="", n=1)
            stale.append(f"{name}:\n" + "\n".join(diff))
        return match.group(1) + fresh[name] + match.group(4)

    updated = BLOCK.sub(replace, readme)
    missing = set(fresh) - {m["name"] for m in BLOCK.finditer(readme)}
    stale += [f"{name}: not in README.md" for name in sorted(missing)]
    if check:
        print("\n\n".join(stale) if stale else "README examples are current")
        return 1 if stale else 0
    README.write_text(updated, encoding="utf-8")
    print(f"rewrote {len(fresh)} examples in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
