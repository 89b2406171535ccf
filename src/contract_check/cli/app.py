"""Command line. Thin: each command turns its options into ``config.Options``, calls one core function and
emits the report; ``run`` is the one place that maps outcomes to exit codes and messages."""

from __future__ import annotations

import io
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.markup import escape

from contract_check import __version__, config, report
from contract_check.cache import cacheledger
from contract_check.cli import terminal
from contract_check.cli.cache_commands import cache_app
from contract_check.cli.options import (
    EXIT_CODES,
    AcceptOpt,
    AgainstOpt,
    AllOpt,
    AllowUnpublishedOpt,
    ContractsOpt,
    CoreGitOpt,
    CorePkgOpt,
    FindLinksOpt,
    Format,
    FormatOpt,
    GoldenOpt,
    IndexOpt,
    JobsOpt,
    JsonOpt,
    JunitOpt,
    KeepOpt,
    MarkdownOpt,
    NoCacheOpt,
    OfflineOpt,
    PreOpt,
    PythonOpt,
    QuietOpt,
    RangeOpt,
    RefOpt,
    SincePinOpt,
    StoreOpt,
    StrictOpt,
    SuiteOpt,
    SummaryOpt,
    TimeoutOpt,
    VerboseOpt,
    WithOpt,
    opt,
)
from contract_check.cli.terminal import err, platform_problem, summary_wanted
from contract_check.errors import ContractCheckError, UsageError, bounded, from_os_error
from contract_check.models import ExitCode
from contract_check.run import pipeline
from contract_check.util import proc
from contract_check.util.proc import redact

try:  # newer typer raises the exceptions of its own copy of click and no longer installs click itself
    from typer._click.exceptions import UsageError as ClickUsageError
except ImportError:  # pragma: no cover - older typer raises click's own
    from click.exceptions import UsageError as ClickUsageError  # type: ignore[assignment]

app = typer.Typer(
    name="contract-check",
    help="Does the Store still work with this Core? Checks Core refs against the Store in throwaway uv venvs.",
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _outputs(json_path: Path | None, junit: Path | None, markdown: Path | None) -> dict[str, Path]:
    """Report files by renderer name, each checked before the (slow) check runs so that a typo fails fast."""
    files = {"json": json_path, "junit": junit, "markdown": markdown}
    options = {"json": "--json", "junit": "--junit-xml", "markdown": "--markdown"}
    for name, path in files.items():
        if path is None:
            continue
        try:
            problem = "is a directory" if path.is_dir() else None
            problem = problem or (None if path.parent.is_dir() else "is in a directory that does not exist")
        except (OSError, ValueError) as exc:
            problem = f"is not a usable path ({exc})"
        if problem:
            raise UsageError(f"{options[name]} {str(path)!r} {problem}", tip="give the path of a file to write")
    return {name: path for name, path in files.items() if path is not None}


def _refuse_inputs(files: dict[str, Path], options: config.Options) -> None:
    """A report path may never name a file the command reads or edits (``report_paths``)."""
    from contract_check.report import report_paths

    report_paths.refuse_inputs(files, report_paths.of_options(options, Path.cwd()))


def _emit(rep: Any, *, fmt: Format, files: dict[str, Path], summary: bool | None, **kw: Any) -> int:
    outputs = report.Outputs(stdout=fmt.value, files=files, summary=summary_wanted(summary, os.environ), **kw)
    return report.emit(rep, outputs)


@app.command("check", epilog=EXIT_CODES)
def check_command(
    ctx: typer.Context,
    core_ref: RefOpt = None,
    core_range: RangeOpt = None,
    since_pin: SincePinOpt = False,
    pre: PreOpt = False,
    store: StoreOpt = None,
    with_: WithOpt = None,
    contracts: ContractsOpt = None,
    suite: SuiteOpt = None,
    golden: GoldenOpt = None,
    against: AgainstOpt = None,
    accept: AcceptOpt = None,
    strict: StrictOpt = False,
    json_path: JsonOpt = None,
    junit_xml: JunitOpt = None,
    markdown: MarkdownOpt = None,
    fmt: FormatOpt = Format.table,
    summary: SummaryOpt = None,
    show_all: AllOpt = False,
    core_package: CorePkgOpt = None,
    core_git: CoreGitOpt = None,
    python: PythonOpt = None,
    index_url: IndexOpt = None,
    find_links: FindLinksOpt = None,
    offline: OfflineOpt = False,
    jobs: JobsOpt = None,
    timeout: TimeoutOpt = None,
    no_cache: NoCacheOpt = False,
    keep_venv: KeepOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> int:
    """Check the Store against one or more Core refs (the default command)."""
    summary_wanted(summary, os.environ)  # a bad CONTRACT_CHECK_SUMMARY is a usage error before anything runs
    files = _outputs(json_path, junit_xml, markdown)
    flags = {**locals(), "core_refs": config.split_refs(core_ref or []), "accept_file": accept}
    options = config.build(_flags(flags), Path.cwd())
    _refuse_inputs(files, options)
    progress, status = terminal.progress(quiet)
    install_logs: dict[str, str] = {}
    try:
        rep = pipeline.check(options, Path.cwd(), progress, install_logs=install_logs, contracts=ctx.obj)
    except pipeline.Interrupted as stopped:  # what finished, and the rest marked not run
        if status is not None:
            status.stop()
        _emit(stopped.report, fmt=fmt, files=files, summary=summary, quiet=quiet, install_logs=install_logs,
              elapsed=terminal.elapsed())  # fmt: skip
        raise KeyboardInterrupt from None
    finally:
        if status is not None:
            status.stop()
    shown = show_all or verbose > 0
    return _emit(rep, fmt=fmt, files=files, summary=summary, quiet=quiet, elapsed=terminal.elapsed(), show_all=shown,
                 install_logs=install_logs)  # fmt: skip


_FLAG_KEYS = {
    "core_refs", "core_range", "pre", "since_pin", "no_cache", "store", "core_package", "core_git", "contracts",
    "python", "index_url", "find_links", "offline", "strict", "jobs", "timeout", "keep_venv", "verbose", "suite",
    "golden", "with_", "against", "accept_file",
}  # fmt: skip


def _flags(given: dict[str, Any]) -> dict[str, Any]:
    """Command parameters as ``config.build`` flags: not given is None; a switch left off is not given."""
    out = {}
    for key in _FLAG_KEYS & set(given):
        value = given[key]
        if isinstance(value, list):
            value = tuple(value)
        out[key] = None if value is False else value
    return out


@app.command("snapshot")
def snapshot_command(
    ctx: typer.Context,
    core_ref: Annotated[str, opt("--core-ref", metavar="REF", help="The known-good Core ref.")],
    store: StoreOpt = None,
    output: Annotated[
        Path | None, opt("--output", metavar="DIR", help="Where to write (default: config golden, else SUITE/golden).")
    ] = None,
    suite: SuiteOpt = None,
    with_: WithOpt = None,
    core_package: CorePkgOpt = None,
    core_git: CoreGitOpt = None,
    python: PythonOpt = None,
    index_url: IndexOpt = None,
    find_links: FindLinksOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> int:
    """Record a golden baseline (schemas, payloads) from a known-good Core/Store pair."""
    from contract_check.suite import snapshot

    options = config.build(_flags({**locals(), "core_refs": (core_ref,)}), Path.cwd())
    progress, status = terminal.progress(quiet)
    try:
        written = snapshot.take(options, Path.cwd(), output, progress, contracts=ctx.obj)
    finally:
        if status is not None:
            status.stop()
    report.console().print(f"wrote the golden contract to {escape(terminal.shown(str(written)))}")
    return 0


@app.command("bump")
def bump_command(
    ctx: typer.Context,
    core_ref: Annotated[str, opt("--core-ref", metavar="REF", help="The Core to move the Store's pin to.")],
    dry_run: Annotated[bool, opt("--dry-run", help="Show the diff; write nothing.")] = False,
    allow_unpublished: AllowUnpublishedOpt = False,
    json_path: JsonOpt = None,
    store: StoreOpt = None,
    with_: WithOpt = None,
    contracts: ContractsOpt = None,
    core_package: CorePkgOpt = None,
    core_git: CoreGitOpt = None,
    python: PythonOpt = None,
    index_url: IndexOpt = None,
    find_links: FindLinksOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> int:
    """Check REF and, only if compatible, move the Store's Core requirement's lower bound to it."""
    from contract_check.bump import bump_report, command, edits
    from contract_check.report import report_paths

    if len(config.split_refs([core_ref])) > 1:
        raise UsageError(
            f"bump takes one ref, not a list ({core_ref[:200]!r})",
            tip="check several with contract-check --core-ref A,B first, then bump to the one you choose",
        )
    files = _outputs(json_path, None, None)
    options = config.build(_flags({**locals(), "core_refs": (core_ref,)}), Path.cwd())
    project = command.project_of(options, Path.cwd())  # not a local project: a usage error before the check
    report_paths.refuse_inputs(files, report_paths.of_options(options, Path.cwd(), bump_project=project))
    progress, status = terminal.progress(quiet)
    try:
        done = command.check_and_bump(
            options, Path.cwd(), progress, dry_run=True, allow_unpublished=allow_unpublished, contracts=ctx.obj
        )
    finally:
        if status is not None:
            status.stop()
    code = report.emit(done.report, report.Outputs(quiet=quiet, summary=False, files=files))
    if not dry_run and done.plan is not None and done.plan.changed:
        edits.apply(done.plan)  # after the report: a refused or failed write is said below it
    bump_report.say(done, dry_run=dry_run)
    return code


@app.command("list")
def list_command(suite: SuiteOpt = None, verbose: VerboseOpt = 0, quiet: QuietOpt = False) -> int:
    """List every check id a run of the suite (built-in unless --suite) reports, and the schema rules."""
    import contract_check.suite as suites
    from contract_check.suite import catalogue

    catalogue.render(suites.load(suite.resolve()) if suite else None, report.console())
    return 0


@app.command("merge")
def merge_command(
    results: Annotated[
        list[Path] | None, typer.Argument(metavar="REPORT.json", help="Shard JSON reports to join.")
    ] = None,
    json_path: JsonOpt = None,
    junit_xml: JunitOpt = None,
    markdown: MarkdownOpt = None,
    fmt: FormatOpt = Format.table,
    summary: SummaryOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> int:
    """Join shard reports (one per Core ref, e.g. from a CI matrix) into one report."""
    from contract_check.report import report_paths
    from contract_check.report.merge import merge_reports

    summary_wanted(summary, os.environ)
    files = _outputs(json_path, junit_xml, markdown)
    shards = report_paths.collect(Path.cwd(), files=[(p, "a shard report merge reads") for p in results or []])
    report_paths.refuse_inputs(files, shards)
    rep = merge_reports(results or [])  # a MergeError is a UsageError naming the file
    elapsed = sum(r.duration_s for r in rep.runs)
    return _emit(rep, fmt=fmt, files=files, summary=summary, quiet=quiet, elapsed=elapsed)


@app.command("plan")
def plan_command(
    core_ref: RefOpt = None,
    core_range: RangeOpt = None,
    since_pin: SincePinOpt = False,
    pre: PreOpt = False,
    store: StoreOpt = None,
    find_links: FindLinksOpt = None,
    index_url: IndexOpt = None,
    core_package: CorePkgOpt = None,
    offline: OfflineOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> int:
    """Print the Core refs a check would run, as one JSON list (for a CI matrix); installs nothing."""
    import json

    from contract_check.run.plan import plan_refs

    options = config.build(_flags({**locals(), "core_refs": config.split_refs(core_ref or [])}), Path.cwd())
    refs = plan_refs(options, Path.cwd(), terminal.progress(True)[0])
    sys.stdout.write(json.dumps(refs, separators=(",", ":")) + "\n")
    return 0


app.add_typer(cache_app, name="cache")


def _version_callback(value: bool) -> None:
    if value:
        print(f"contract-check {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, opt("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Does the Store still work with this Core?"""


def _on_stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(argv: list[str], *, contracts: pipeline.ContractsFactory | None = None, started: float | None = None) -> int:
    """Parse *argv*, run the command, and map every outcome to an exit code.

    *contracts* makes what runs the contracts of a ref (default: real sandboxes); tests pass a fake. *started*:
    when the command started (``time.monotonic()``; default now), what the verdict line's time counts from.
    """
    terminal.mark_start(started)
    args = terminal.normalise_argv(argv)
    verbose = any(a in ("-v", "--verbose", "-vv", "-vvv") for a in args)
    terminal.setup_logging(verbose)
    problem = platform_problem()
    if problem is not None and not {"--help", "-h", "--version"} & set(args):
        terminal.error(problem.message, problem.tip)
        return problem.exit_code
    if not os.path.isabs(os.environ.get("TMPDIR") or "/"):  # children run elsewhere: make it mean the same there
        os.environ["TMPDIR"] = os.path.abspath(os.environ["TMPDIR"])
    # SIGTERM (CI cancel) and SIGHUP (terminal closed) unwind like Ctrl-C: children killed, sandboxes removed
    stops = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    handled = {sig: signal.signal(sig, _on_stop) for sig in stops}
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    proc.enable_subreaper()  # orphans of a contract (double fork, setsid) stay ours to sweep
    try:
        result = app(args, prog_name="contract-check", standalone_mode=False, obj=contracts)
        if result == ExitCode.INTERRUPTED:  # typer/click return Exit(130) for a KeyboardInterrupt
            terminal.interrupted()
            return ExitCode.INTERRUPTED
        return int(result) if isinstance(result, int) else 0
    except ClickUsageError as exc:  # a bad option or value; the message may quote a URL with a token
        shown = io.StringIO()
        exc.show(file=shown)
        sys.stderr.write(terminal.shown(shown.getvalue()))
        return ExitCode.USAGE
    except typer.Exit as exc:  # typer turns KeyboardInterrupt into Exit(130)
        if exc.exit_code == ExitCode.INTERRUPTED:
            terminal.interrupted()
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        terminal.interrupted()
        return ExitCode.INTERRUPTED
    except SystemExit as exc:  # shell completion ends the program itself
        return exc.code if isinstance(exc.code, int) else 0
    except (ContractCheckError, OSError) as caught:
        # an OSError that got this far is the machine's (a full disk, a vanished file), not a bug: exit 3
        failure = caught if isinstance(caught, ContractCheckError) else from_os_error(caught)
        terminal.error(redact(bounded(failure.message)), redact(bounded(failure.tip)) if failure.tip else None)
        if verbose and isinstance(caught, OSError):
            err.print(bounded(terminal.shown(traceback.format_exc()), 20000), markup=False)
        return failure.exit_code
    except Exception as exc:  # an internal error: short message, traceback only with -v
        err.print(f"[bold red]internal error[/]: {type(exc).__name__}: {escape(terminal.shown(bounded(str(exc))))}")
        if verbose:
            err.print(terminal.shown(traceback.format_exc()), markup=False)
        else:
            err.print("run again with -v for the traceback, and report it")
        return ExitCode.INTERNAL
    finally:
        proc.sweep_all()
        cacheledger.end_of_command()  # at most one eviction per command, after its work
        for sig, previous in handled.items():
            signal.signal(sig, previous)
        signal.signal(signal.SIGINT, previous_int)


def main() -> None:
    sys.exit(run(sys.argv[1:], started=terminal.process_started()))  # the user's wait includes start-up
