"""Benchmark redaction on adversarial text (not a test: it prints numbers).

``proc.redact`` runs on every message, log line and report field; a 320,000-character failure message took
71 s with the regular expression it used to be. This prints, per kind of input, the time for 10,000 and
320,000 characters with the current implementation (linear: about 32 times longer for 32 times the text)
and with the old expression on the smaller sizes (quadratic: about 1,000 times longer).

Usage: python benchmarks/bench_redact.py [--old-up-to 40000]
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from contract_check.util.proc import redact

OLD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def old_redact(text: str) -> str:
    return OLD.sub(lambda m: f"{m['scheme']}***@", text)


def inputs(n: int) -> dict[str, str]:
    return {
        "letters, no '://'": "a" * n + "@",
        "'a://' repeated, one '@'": "a://" * (n // 4) + "@",
        "digits before each '://'": ("1" * 50 + "://x@") * (n // 55),
        "one '@' run": "a://" + "@" * n,
        "'a://t@' repeated": "a://t@" * (n // 6),
        "text with a token URL": ("log line https://user:token@host/simple/ " * (n // 40))[:n],
    }


def timed(fn: Callable[[str], str], text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-up-to", type=int, default=40_000, help="largest size to time the old expression on")
    args = parser.parse_args()
    sizes = [10_000, 40_000, 320_000]
    print(
        f"{'input':<28}"
        + "".join(f"{f'new {n // 1000}k':>12}" for n in sizes)
        + "".join(f"{f'old {n // 1000}k':>12}" for n in sizes if n <= args.old_up_to)
    )
    for name in inputs(10):
        row = [timed(redact, inputs(n)[name]) for n in sizes]
        row += [timed(old_redact, inputs(n)[name]) for n in sizes if n <= args.old_up_to]
        print(f"{name:<28}" + "".join(f"{t * 1000:>10.1f}ms" for t in row))


if __name__ == "__main__":
    main()
