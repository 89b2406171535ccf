"""The command line's vocabulary: every option once (name, metavar, one-line help), the exit-code epilog, and
the stdout formats; ``cli`` composes its commands from these."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from contract_check.cli import terminal

# the project's repository, as [project.urls] Repository in pyproject.toml says (a test keeps them equal): -h
# points there, not at a docs/ folder that an installed package does not have
REPOSITORY = "https://github.com/OWNER/contract-check"
EXIT_CODES = f"""\b
Other commands: snapshot, list, merge, plan, bump, cache (COMMAND -h).
\b
Exit codes:
  0    compatible (WARN findings allowed unless --strict)
  1    broken: a contract failed, or Core does not import
  2    usage or configuration error
  3    could not check: ref not found, network, build, timeout, incomplete
  4    internal error (-v shows the traceback)
  130  interrupted
With several refs the worst code wins.
\b
Documentation: docs/cli.md in the project's repository (every option, the REF
grammar, the config keys): {REPOSITORY}
(OWNER: where the project is hosted; its README.md links every page)."""


class Format(StrEnum):
    table = "table"
    json = "json"


def opt(*names: str, help: str, metavar: str | None = None, **kw: Any) -> Any:
    return typer.Option(*names, help=help, metavar=metavar, show_default=False, **kw)


RefOpt = Annotated[
    list[str] | None,
    opt(
        "--core-ref",
        metavar="REF",
        help="Core ref to check (repeatable or comma-separated): 1.4.55, v1.4.55, latest, git:TAG, "
        "a branch or SHA, a path, 'NAME @ URL'.",
    ),
]
RangeOpt = Annotated[str | None, opt("--core-range", metavar="SPEC", help="Check every release in this range.")]
PreOpt = Annotated[bool, opt("--pre", help="Include pre-releases in --core-range/--since-pin.")]
SincePinOpt = Annotated[bool, opt("--since-pin", help="Check every release from the Store's declared lower bound.")]
StoreOpt = Annotated[
    str | None,
    opt(
        "--store",
        metavar="SPEC",
        help="Store path (PATH[extra,...]) or requirement. Default: the project this directory is in, when it "
        "depends on Core, else the suite's Store, newest on the index.",
    ),
]
SuiteOpt = Annotated[Path | None, opt("--suite", metavar="DIR", help="A suite directory instead of the built-in.")]
GoldenOpt = Annotated[Path | None, opt("--golden", metavar="DIR", help="Golden directory to compare with.")]
AgainstOpt = Annotated[
    str | None, opt("--against", metavar="REF", help="Compare with this Core, checked live ('pin': the Store's).")
]
AcceptOpt = Annotated[Path | None, opt("--accept", metavar="FILE", help="TOML file of [[accept]] entries.")]
WithOpt = Annotated[list[str] | None, opt("--with", metavar="REQ", help="Also install REQ (repeatable).")]
ContractsOpt = Annotated[
    list[Path] | None, opt("--contracts", metavar="PATH", help="Your own pytest contracts (repeatable).")
]
CorePkgOpt = Annotated[str | None, opt("--core-package", metavar="NAME", help="Core distribution name.")]
CoreGitOpt = Annotated[str | None, opt("--core-git", metavar="URL", help="Core git repository for git: refs.")]
PythonOpt = Annotated[str | None, opt("--python", metavar="VERSION|PATH", help="Python for the sandbox.")]
IndexOpt = Annotated[str | None, opt("--index-url", metavar="URL", help="Package index (default: uv's).")]
FindLinksOpt = Annotated[list[str] | None, opt("--find-links", metavar="PATH|URL", help="Extra wheel directory.")]
OfflineOpt = Annotated[bool, opt("--offline", help="Use only uv's cache and --find-links.")]
TimeoutOpt = Annotated[float | None, opt("--timeout", metavar="SECONDS", help="Seconds allowed for each phase.")]
JobsOpt = Annotated[int | None, opt("--jobs", metavar="N", help="Refs checked in parallel (default: CPUs).")]
JsonOpt = Annotated[Path | None, opt("--json", metavar="FILE", help="Write the JSON report.")]
JunitOpt = Annotated[Path | None, opt("--junit-xml", metavar="FILE", help="Write a JUnit XML report.")]
MarkdownOpt = Annotated[Path | None, opt("--markdown", metavar="FILE", help="Write a Markdown report.")]
FormatOpt = Annotated[Format, opt("--format", metavar="table|json", help="What goes to stdout.")]
SummaryOpt = Annotated[
    bool | None,
    opt("--summary/--no-summary", help=f"GitHub Actions step summary (default on; {terminal.SUMMARY_ENV}=off)."),
]
AllOpt = Annotated[bool, opt("--all", help="List every passing check too.")]
StrictOpt = Annotated[bool, opt("--strict", help="Treat WARN findings as failures.")]
NoCacheOpt = Annotated[bool, opt("--no-cache", help="Neither reuse nor keep shared environments and results.")]
KeepOpt = Annotated[bool, opt("--keep-venv", help="Keep the sandbox and print its path.")]
VerboseOpt = Annotated[int, opt("-v", "--verbose", count=True, help="Log commands; tracebacks on errors.")]
AllowUnpublishedOpt = Annotated[
    bool,
    opt(
        "--allow-unpublished",
        help="bump: write a version the package index does not serve (a git tag, a wheel, --find-links only).",
    ),
]
QuietOpt = Annotated[bool, opt("-q", "--quiet", help="Print only the verdict.")]
