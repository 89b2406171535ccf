"""The command line's vocabulary: every option once, the exit-code epilog, and how a command's typer parameters
are made from the declarations.

A setting (what ``config.Options`` holds) is declared by its Options field (``config.options``); an option
that only steers what a command prints or writes (``--json``, ``--format``, ``--dry-run``) is declared here,
in ``COMMAND_ONLY``. ``REGISTRY`` is both. A command names the options it takes (``command``), and its typer
signature is generated from the registry: the parameter, its flags, metavar, help, default and whether it
repeats all come from the one declaration, and the command's body receives what was given as ``Given``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from contract_check import config
from contract_check.cache import cacheledger
from contract_check.cli import terminal
from contract_check.config import Spec

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


def _only(name: str, *flags: str, type: Any, default: Any = None, **spec: Any) -> tuple[str, Spec]:
    return name, Spec(flags=flags, name=name, type=type, default=default, **spec)


# options of a command alone (not settings): name -> declaration (type and default are the typer parameter's)
COMMAND_ONLY: dict[str, Spec] = dict(
    [
        _only("json_path", "--json", type=Path | None, metavar="FILE", help="Write the JSON report."),
        _only("junit_xml", "--junit-xml", type=Path | None, metavar="FILE", help="Write a JUnit XML report."),
        _only("markdown", "--markdown", type=Path | None, metavar="FILE", help="Write a Markdown report."),
        _only("fmt", "--format", type=Format, default=Format.table, metavar="table|json", help="What goes to stdout."),
        _only(
            "summary",
            "--summary/--no-summary",
            type=bool | None,
            help=f"GitHub Actions step summary (default on; {terminal.SUMMARY_ENV}=off).",
        ),
        _only("show_all", "--all", type=bool, default=False, help="List every passing check too."),
        _only("quiet", "-q", "--quiet", type=bool, default=False, help="Print only the verdict."),
        _only(
            "output",
            "--output",
            type=Path | None,
            metavar="DIR",
            help="Where to write (default: config golden, else SUITE/golden).",
        ),
        _only("dry_run", "--dry-run", type=bool, default=False, help="Show the diff; write nothing."),
        _only(
            "allow_unpublished",
            "--allow-unpublished",
            type=bool,
            default=False,
            help="bump: write a version the package index does not serve (a git tag, a wheel, --find-links only).",
        ),
        _only(
            "results",
            type=list[Path] | None,
            positional=True,
            metavar="REPORT.json",
            help="Shard JSON reports to join.",
        ),
        _only("version", "--version", type=bool, default=False, eager=True, help="Show the version."),
        _only(
            "max_size",
            "--max-size",
            type=str | None,
            metavar="SIZE",
            help=f"Prune to this size (e.g. 1GiB, 500M, none); default ${cacheledger.SIZE.variable}, "
            f"else {cacheledger.SIZE.default}.",
        ),
        _only(
            "max_age",
            "--max-age",
            type=str | None,
            metavar="AGE",
            help=f"Remove entries unused for longer (e.g. 7d, 36h, none); default ${cacheledger.AGE.variable}, "
            f"else {cacheledger.AGE.default}.",
        ),
    ]
)
REGISTRY: dict[str, Spec] = {**config.settings(), **COMMAND_ONLY}
assert len(REGISTRY) == len(config.settings()) + len(COMMAND_ONLY), "a command's option named like a setting"


@dataclass(frozen=True)
class Use:
    """How one command takes an option: as declared, or with the command's own help; *one*: a single value
    that must be given (``snapshot --core-ref REF``), of an option that elsewhere repeats."""

    name: str
    help: str | None = None
    one: bool = False
    callback: Callable[..., Any] | None = None


def one(name: str, help: str) -> Use:
    return Use(name, help=help, one=True)


def _typed(spec: Spec, use: Use) -> tuple[Any, Any]:
    """The typer parameter's type and default: a setting's from its Options field (a value not given is None,
    a switch off, a count 0), a command's own option as declared."""
    if spec.name in COMMAND_ONLY:
        return spec.type, spec.default
    if use.one:
        return spec.element, inspect.Parameter.empty
    if spec.count:
        return int, 0
    if spec.element is bool:
        return bool, False
    return (list[spec.element] if spec.repeatable else spec.element) | None, None  # type: ignore[name-defined]


def parameter(use: Use) -> inspect.Parameter:
    """The typer parameter of *use*, from its declaration."""
    spec = REGISTRY[use.name]
    kind, default = _typed(spec, use)
    help = use.help or spec.help
    if spec.positional:
        info = typer.Argument(metavar=spec.metavar, help=help)
    else:
        info = typer.Option(
            *spec.flags,
            help=help,
            metavar=spec.metavar,
            show_default=False,
            count=spec.count,
            is_eager=spec.eager,
            callback=use.callback,
        )
    return inspect.Parameter(
        spec.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info]
    )


class Given:
    """What one command was given, by option name."""

    def __init__(self, values: dict[str, Any], uses: Iterable[Use]) -> None:
        self.values = values
        self._one = {u.name for u in uses if u.one}

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def settings(self) -> dict[str, Any]:
        """The settings among them, as ``config.build`` takes flags: not given is None (a switch left off is
        not given), repeated values a tuple, comma-separated refs split, a single required value a tuple."""
        out = {}
        for name, value in self.values.items():
            spec = REGISTRY[name]
            if name in COMMAND_ONLY:
                continue
            if name in self._one:
                value = (value,)
            elif isinstance(value, list):
                value = config.split_refs(value) if spec.split else tuple(value)
            out[name] = None if value is False else value
        return out


Body = Callable[[typer.Context, Given], Any]


def command(register: Callable[[Callable[..., Any]], Any], uses: Iterable[str | Use]) -> Callable[[Body], Body]:
    """Register *body* with typer (*register*: ``app.command(NAME, ...)`` or ``app.callback()``) taking the
    options *uses* names, in that order; the signature typer reads is generated from ``REGISTRY``."""
    taken = [u if isinstance(u, Use) else Use(u) for u in uses]

    def decorate(body: Body) -> Body:
        def callback(ctx: typer.Context, **values: Any) -> Any:
            return body(ctx, Given(values, taken))

        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        params = [context, *(parameter(u) for u in taken)]
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        callback.__annotations__ = {p.name: p.annotation for p in params}
        callback.__name__, callback.__qualname__ = body.__name__, body.__qualname__
        callback.__doc__, callback.__module__ = body.__doc__, body.__module__
        register(callback)
        return body

    return decorate
