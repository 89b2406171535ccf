"""Command line. Thin: each command parses options, calls one core function and returns an exit code;
``run`` is the one place that maps errors to exit codes and messages."""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from contract_check import __version__, config, pipeline, proc
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError, bounded, from_os_error
from contract_check.models import ExitCode, Report
from contract_check.proc import redact
from contract_check.refcheck import Progress

try:  # newer typer raises the exceptions of its own copy of click and no longer installs click itself
    from typer._click.exceptions import UsageError as ClickUsageError
except ImportError:  # pragma: no cover - older typer raises click's own
    from click.exceptions import UsageError as ClickUsageError  # type: ignore[assignment]

COMMANDS = {"check", "snapshot", "list", "merge", "plan", "cache"}
app = typer.Typer(
    name="contract-check",
    help="Does the Store still work with this Core? Checks a Core ref against the Store in a throwaway uv venv.",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    json = "json"


def _split_refs(values: list[str]) -> tuple[str, ...]:
    return config.split_refs(values)


SUMMARY_ENV = "CONTRACT_CHECK_SUMMARY"
_SWITCH = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def summary_wanted(flag: bool | None, environ: Mapping[str, str]) -> bool:
    """Whether to append to ``$GITHUB_STEP_SUMMARY``: ``--summary/--no-summary``, else ``$CONTRACT_CHECK_SUMMARY``."""
    if flag is not None:
        return flag
    value = environ.get(SUMMARY_ENV, "").strip()
    if not value:
        return True
    if value.lower() not in _SWITCH:
        raise UsageError(f"{SUMMARY_ENV}={value!r} is neither on nor off", tip=f"set {SUMMARY_ENV} to on or off")
    return _SWITCH[value.lower()]


def platform_problem(os_name: str | None = None) -> EnvironmentProblem | None:
    """The error for a platform the tool cannot run on (it needs POSIX: process groups, file locks)."""
    os_name = os.name if os_name is None else os_name
    if os_name == "posix":
        return None
    return EnvironmentProblem(
        f"contract-check runs on Linux and macOS only (POSIX), not on this platform ({os_name})",
        tip="run it under WSL, in a Linux container, or on a Linux or macOS CI runner",
    )


def _progress(quiet: bool) -> tuple[Progress, Any]:
    """A progress callback for stderr: a spinner on a terminal, nothing when piped (log lines under -v)."""
    log = logging.getLogger("contract_check")
    if quiet or not err.is_terminal:
        return (lambda message: log.info("%s", redact(message))), None
    status = err.status("starting", spinner="dots")
    status.start()

    def update(message: str) -> None:
        message = redact(message)  # progress names refs, and a ref may be a URL with a token in it
        log.info("%s", message)
        status.update(escape(message))  # a ref or path may hold "[...]", which is not markup

    return update, status


def _emit_report(
    report: Report,
    *,
    fmt: Format,
    quiet: bool,
    elapsed: float,
    json_path: Path | None,
    junit_path: Path | None,
    markdown_path: Path | None,
    install_logs: dict[str, str] | None = None,
    summary: bool = True,
) -> int:
    from contract_check import report as render

    github_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    if github_actions and install_logs:  # before the verdict, as the installs came first
        from contract_check.report import github

        sys.stdout.flush()
        github.print_install_logs(report, install_logs, os.environ)
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 140  # logs (CI, files) are read wide; 80 columns would fold every check id
    if fmt is Format.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        render.render_table(report, out, quiet=quiet, elapsed=elapsed)
    try:
        if json_path:
            render.write_json(report, json_path)
        if junit_path:
            from contract_check.report.junit import render_junit

            junit_path.write_text(render_junit(report), encoding="utf-8")
        if markdown_path:
            from contract_check.report.markdown import render_markdown

            markdown_path.write_text(render_markdown(report), encoding="utf-8")
        if github_actions:
            from contract_check.report import github

            # with JSON on stdout, annotations go to stderr (the runner reads workflow commands on both)
            stream = sys.stderr if fmt is Format.json else None
            github.publish(report, os.environ, json_path, stream=stream, summary=summary)
    except OSError as exc:  # the verdict is printed, but a gate that reads the report file must not pass
        where = f" {exc.filename}" if exc.filename else ""
        raise EnvironmentProblem(f"could not write the report{where}: {exc.strerror or exc}") from None
    return report.summary.exit_code


def _output_path(path: Path | None, option: str) -> Path | None:
    """A report file to write, checked before the (slow) check runs so that a typo fails fast."""
    if path is None:
        return None
    problem = None
    try:
        if path.is_dir():
            problem = "is a directory"
        elif not path.parent.is_dir():
            problem = "is in a directory that does not exist"
    except (OSError, ValueError) as exc:
        problem = f"is not a usable path ({exc})"
    if problem:
        raise UsageError(f"{option} {str(path)!r} {problem}", tip="give the path of a file to write")
    return path


RefOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--core-ref",
        help="Core ref to check (repeatable or comma-separated): "
        "1.4.55, v1.4.55, latest, git:TAG, a branch or SHA, a path, 'NAME @ URL'.",
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store path (PATH[extra,...]) or requirement (default: '.' when it depends on Core, else the suite's "
        "Store, newest on the index).",
    ),
]
CorePkgOpt = Annotated[str | None, typer.Option("--core-package", help="Core distribution name.")]
CoreGitOpt = Annotated[str | None, typer.Option("--core-git", help="Core git URL for git: refs.")]
PythonOpt = Annotated[str | None, typer.Option("--python", help="Python for the sandbox (version or path).")]
IndexOpt = Annotated[str | None, typer.Option("--index-url", help="Package index URL (default: uv's).")]
FindLinksOpt = Annotated[list[str] | None, typer.Option("--find-links", help="Extra wheel directory or page.")]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Use only uv's cache and --find-links.")]
TimeoutOpt = Annotated[float | None, typer.Option("--timeout", help="Seconds allowed for each phase.")]
VerboseOpt = Annotated[int, typer.Option("-v", "--verbose", count=True, help="Log commands; tracebacks.")]
SummaryOpt = Annotated[
    bool | None,
    typer.Option(
        "--summary/--no-summary",
        help=f"Under GitHub Actions, append the report to the step summary (default: on; env {SUMMARY_ENV}=on|off).",
        show_default=False,
    ),
]
CoreRangeOpt = Annotated[
    str | None, typer.Option("--core-range", help="Check every release in this range, e.g. '>=1.4,<2'.")
]
PreOpt = Annotated[bool, typer.Option("--pre", help="Include pre-releases in --core-range/--since-pin.")]
SincePinOpt = Annotated[
    bool, typer.Option("--since-pin", help="Check every release from the Store's declared lower bound on.")
]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print only the verdict.")]
SuiteOpt = Annotated[
    Path | None, typer.Option("--suite", help="A suite directory (suite.toml) instead of the built-in one.")
]
GoldenOpt = Annotated[
    Path | None, typer.Option("--golden", help="The golden directory to compare with (default: the suite's).")
]
WithOpt = Annotated[
    list[str] | None,
    typer.Option("--with", help="Also install this requirement in the sandbox, e.g. a test dependency (repeatable)."),
]


@app.command("check")
def check_command(
    ctx: typer.Context,
    core_ref: RefOpt = None,
    core_range: CoreRangeOpt = None,
    pre: PreOpt = False,
    since_pin: SincePinOpt = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither reuse nor keep shared environments and results.")
    ] = False,
    store: StoreOpt = None,
    core_package: CorePkgOpt = None,
    core_git: CoreGitOpt = None,
    contracts: Annotated[
        list[Path] | None,
        typer.Option("--contracts", help="Extra pytest contract files or directories (repeatable)."),
    ] = None,
    python: PythonOpt = None,
    index_url: IndexOpt = None,
    find_links: FindLinksOpt = None,
    offline: OfflineOpt = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
    junit_xml: Annotated[Path | None, typer.Option("--junit-xml", help="Write a JUnit XML report here.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report here.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output on stdout.")] = Format.table,
    strict: Annotated[bool, typer.Option("--strict", help="Treat WARN findings as failures.")] = False,
    jobs: Annotated[int | None, typer.Option("--jobs", help="Refs checked in parallel.")] = None,
    timeout: TimeoutOpt = None,
    keep_venv: Annotated[bool, typer.Option("--keep-venv", help="Keep the sandbox and print its path.")] = False,
    summary: SummaryOpt = None,
    suite: SuiteOpt = None,
    golden: GoldenOpt = None,
    with_: WithOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> int:
    """Check the Store against one or more Core refs (the default command)."""
    start = time.monotonic()
    publish_summary = summary_wanted(summary, os.environ)
    cwd = Path.cwd()
    json_path = _output_path(json_path, "--json")
    junit_xml = _output_path(junit_xml, "--junit-xml")
    markdown = _output_path(markdown, "--markdown")
    flags: dict[str, Any] = {
        "core_refs": _split_refs(core_ref or []),
        "core_range": core_range,
        "pre": pre or None,
        "since_pin": since_pin or None,
        "no_cache": no_cache or None,
        "store": store,
        "core_package": core_package,
        "core_git": core_git,
        "contracts": tuple(contracts or ()),  # made absolute (against cwd) and checked by config.build
        "python": python,
        "index_url": index_url,
        "find_links": tuple(find_links or ()),
        "offline": offline or None,
        "strict": strict or None,
        "jobs": jobs,
        "timeout": timeout,
        "keep_venv": keep_venv,
        "verbose": verbose,
        "suite": suite,
        "golden": golden,
        "with_": tuple(with_ or ()),
    }
    options = config.build(flags, cwd)
    progress, status = _progress(quiet)
    install_logs: dict[str, str] = {}
    try:
        report = pipeline.check(options, cwd, progress, install_logs=install_logs, contracts=ctx.obj)
    finally:
        if status is not None:
            status.stop()
    return _emit_report(
        report,
        fmt=fmt,
        quiet=quiet,
        elapsed=time.monotonic() - start,
        json_path=json_path,
        junit_path=junit_xml,
        markdown_path=markdown,
        install_logs=install_logs,
        summary=publish_summary,
    )


@app.command("list")
def list_command(suite: SuiteOpt = None) -> int:
    """List the checks of the suite (built-in unless --suite): id, subject, layer and what each guards."""
    from rich.table import Table

    from contract_check import catalogue
    from contract_check import suite as suites

    chosen = suites.load(suite.resolve()) if suite else None
    table = Table(header_style="bold")
    for column in ("Id", "Subject", "Layer", "Guards"):
        table.add_column(column, overflow="fold")
    for entry in catalogue.entries(chosen):
        table.add_row(entry.id, entry.subject, entry.layer, entry.guards)
    out = Console(highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 140  # as for the report: piped output is read wide
    out.print(table)
    return 0


@app.command("merge")
def merge_command(
    results: Annotated[list[Path], typer.Argument(help="Shard JSON reports to join.")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the merged JSON report here.")] = None,
    junit_xml: Annotated[Path | None, typer.Option("--junit-xml", help="Write a JUnit XML report here.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report here.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output on stdout.")] = Format.table,
    summary: SummaryOpt = None,
    quiet: QuietOpt = False,
) -> int:
    """Join shard reports (one per Core ref, e.g. from a CI matrix) into one report."""
    from contract_check.merge import MergeError, merge_reports

    publish_summary = summary_wanted(summary, os.environ)
    json_path = _output_path(json_path, "--json")
    junit_xml = _output_path(junit_xml, "--junit-xml")
    markdown = _output_path(markdown, "--markdown")
    try:
        report = merge_reports(results)
    except MergeError as exc:
        raise UsageError(str(exc)) from None
    return _emit_report(
        report,
        fmt=fmt,
        quiet=quiet,
        elapsed=sum(r.duration_s for r in report.runs),
        json_path=json_path,
        junit_path=junit_xml,
        markdown_path=markdown,
        summary=publish_summary,
    )


@app.command("plan")
def plan_command(
    core_ref: RefOpt = None,
    core_range: CoreRangeOpt = None,
    since_pin: SincePinOpt = False,
    pre: PreOpt = False,
    store: StoreOpt = None,
    find_links: FindLinksOpt = None,
    index_url: IndexOpt = None,
    core_package: CorePkgOpt = None,
    offline: OfflineOpt = False,
    verbose: VerboseOpt = 0,
) -> int:
    """Print the Core refs a check would run, as one JSON list (for a CI matrix); installs nothing."""
    import json

    from contract_check.plan import plan_refs

    flags: dict[str, Any] = {
        "core_refs": _split_refs(core_ref or []),
        "core_range": core_range,
        "pre": pre or None,
        "since_pin": since_pin or None,
        "store": store,
        "core_package": core_package,
        "index_url": index_url,
        "find_links": tuple(find_links or ()),
        "offline": offline or None,
        "verbose": verbose,
    }
    options = config.build(flags, Path.cwd())
    refs = plan_refs(options, Path.cwd(), logging.getLogger("contract_check").info)
    sys.stdout.write(json.dumps(refs, separators=(",", ":")) + "\n")
    return 0


@app.command("snapshot")
def snapshot_command(
    ctx: typer.Context,
    core_ref: Annotated[str, typer.Option("--core-ref", help="The known-good Core ref.")],
    store: StoreOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Golden directory to write (default: golden of [tool.contract-check], else SUITE/golden)."
        ),
    ] = None,
    suite: SuiteOpt = None,
    core_package: CorePkgOpt = None,
    core_git: CoreGitOpt = None,
    python: PythonOpt = None,
    index_url: IndexOpt = None,
    find_links: FindLinksOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = None,
    with_: WithOpt = None,
    verbose: VerboseOpt = 0,
) -> int:
    """Record a golden baseline (schemas, payloads) from a known-good Core/Store pair."""
    from contract_check import snapshot

    flags: dict[str, Any] = {
        "core_refs": (core_ref,),
        "store": store,
        "suite": suite,
        "with_": tuple(with_ or ()),
        "core_package": core_package,
        "core_git": core_git,
        "python": python,
        "index_url": index_url,
        "find_links": tuple(find_links or ()),
        "offline": offline or None,
        "timeout": timeout,
        "verbose": verbose,
    }
    options = config.build(flags, Path.cwd())
    progress, status = _progress(False)
    try:
        written = snapshot.take(options, Path.cwd(), output, progress, contracts=ctx.obj)
    finally:
        if status is not None:
            status.stop()
    Console(highlight=False).print(f"wrote the golden contract to {escape(str(written))}")
    return 0


cache_app = typer.Typer(help="Inspect or empty the cache of shared environments and results.")
app.add_typer(cache_app, name="cache")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@cache_app.command("info")
def cache_info_command() -> int:
    """Where the cache is and what it holds."""
    from contract_check import results

    found = results.info()
    out = Console(highlight=False)
    out.print(f"cache directory  {escape(str(found.root))}")
    out.print(f"results          {found.results} ({found.expired} expired or unusable; kept for 7 days)")
    out.print(f"environments     {found.bases} shared base environments (kept for a day)")
    out.print(f"size             {_size(found.size_bytes)}")
    return 0


@cache_app.command("clear")
def cache_clear_command() -> int:
    """Remove every cached result and shared environment."""
    from contract_check import results

    before = results.clear()
    Console(highlight=False).print(
        f"removed {before.results} results and {before.bases} environments ({_size(before.size_bytes)}) "
        f"from {escape(str(before.root))}"
    )
    return 0


def _version_callback(value: bool) -> None:
    if value:
        print(f"contract-check {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Does the Store still work with this Core?"""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class RedactingFilter(logging.Filter):
    """Redacts every record that reaches the handler: no log line (``-v`` included) can carry a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("contract-check: %(message)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("contract_check")
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.WARNING)


def _interrupted() -> int:
    err.print("[yellow]interrupted[/]: stopped; child processes were killed and the sandbox removed")
    return ExitCode.INTERRUPTED


def run(argv: list[str], *, contracts: pipeline.ContractsFactory | None = None) -> int:
    """Parse *argv*, run the command, and map every outcome to an exit code.

    *contracts* makes what runs the contracts of a ref (default: real sandboxes); tests pass a fake.
    """
    args = list(argv)
    if not args or (args[0] not in COMMANDS and args[0] not in ("--help", "-h", "--version")):
        args.insert(0, "check")
    verbose = any(a in ("-v", "--verbose", "-vv") for a in args)
    _setup_logging(verbose)
    problem = platform_problem()
    if problem is not None and not {"--help", "-h", "--version"} & set(args):
        err.print(f"[bold red]error[/]: {escape(problem.message)}")
        err.print(f"[bold]tip[/]: {escape(problem.tip or '')}")
        return problem.exit_code
    if not os.path.isabs(os.environ.get("TMPDIR") or "/"):  # children run elsewhere: make it mean the same there
        os.environ["TMPDIR"] = os.path.abspath(os.environ["TMPDIR"])
    # SIGTERM (CI cancel) and SIGHUP (terminal closed) unwind like Ctrl-C: children killed, sandboxes removed
    stops = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    handled = {sig: signal.signal(sig, _on_sigterm) for sig in stops}
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    proc.enable_subreaper()  # orphans of a contract (double fork, setsid) stay ours to sweep
    try:
        result = app(args, prog_name="contract-check", standalone_mode=False, obj=contracts)
        if result == ExitCode.INTERRUPTED:  # typer/click return Exit(130) for a KeyboardInterrupt
            return _interrupted()
        return int(result) if isinstance(result, int) else 0
    except ClickUsageError as exc:  # a bad option or value; the message may quote a URL with a token
        shown = io.StringIO()
        exc.show(file=shown)
        sys.stderr.write(redact(shown.getvalue()))
        return ExitCode.USAGE
    except typer.Exit as exc:  # typer turns KeyboardInterrupt into Exit(130)
        if exc.exit_code == ExitCode.INTERRUPTED:
            return _interrupted()
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        return _interrupted()
    # messages quote refs, paths and option values: escaped, so that "[...]" is printed, not read as markup
    except (ContractCheckError, OSError) as caught:
        # an OSError that got this far is the machine's (a full disk, a vanished file), not a bug: exit 3
        failure = caught if isinstance(caught, ContractCheckError) else from_os_error(caught)
        err.print(f"[bold red]error[/]: {escape(redact(bounded(failure.message)))}", markup=True, highlight=False)
        if failure.tip:
            err.print(f"[bold]tip[/]: {escape(redact(bounded(failure.tip)))}")
        if verbose and isinstance(caught, OSError):
            err.print(bounded(redact(traceback.format_exc()), 20000), markup=False)
        return failure.exit_code
    except Exception as exc:  # an internal error: short message, traceback only with -v
        err.print(f"[bold red]internal error[/]: {type(exc).__name__}: {escape(redact(bounded(str(exc))))}")
        if verbose:
            err.print(redact(traceback.format_exc()), markup=False)
        else:
            err.print("run again with -v for the traceback, and report it")
        return ExitCode.INTERNAL
    finally:
        proc.sweep_all()
        for sig, previous in handled.items():
            signal.signal(sig, previous)
        signal.signal(signal.SIGINT, previous_int)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
