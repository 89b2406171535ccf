"""Command line. Thin: each command takes the options it names (declared once: ``config.Options`` and
``cli.options``), turns them into ``config.Options``, calls one core function and emits the report; ``run`` is
the one place that maps outcomes to exit codes and messages."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.markup import escape

from contract_check import __version__, config, report
from contract_check.cache import cacheledger
from contract_check.cli import terminal
from contract_check.cli.cache_commands import cache_app
from contract_check.cli.options import EXIT_CODES, Format, Given, Use, command, one
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


# the options each command takes, in the order -h lists them (declared in config.Options and cli.options)
REFS = ("core_refs", "core_range", "since_pin", "pre")
CORE_SOURCE = ("core_package", "core_git", "python", "index_url", "find_links", "offline")
LOUDNESS = ("verbose", "quiet")
REPORT_FILES = ("json_path", "junit_xml", "markdown")
CHECK = (
    *REFS, "store", "with_", "contracts", "suite", "golden", "against", "accept_file", "strict", *REPORT_FILES,
    "fmt", "summary", "show_all", *CORE_SOURCE, "jobs", "timeout", "no_cache", "keep_venv", *LOUDNESS,
)  # fmt: skip
SNAPSHOT = (
    one("core_refs", "The known-good Core ref."), "store", "output", "suite", "with_", *CORE_SOURCE, "timeout",
    *LOUDNESS,
)  # fmt: skip
BUMP = (
    one("core_refs", "The Core to move the Store's pin to."), "dry_run", "allow_unpublished", "json_path", "store",
    "with_", "contracts", *CORE_SOURCE, "timeout", *LOUDNESS,
)  # fmt: skip
LIST = ("suite", *LOUDNESS)
MERGE = ("results", *REPORT_FILES, "fmt", "summary", *LOUDNESS)
PLAN = (*REFS, "store", "find_links", "index_url", "core_package", "offline", *LOUDNESS)


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


@dataclass(frozen=True)
class Shown:
    """How a command shows its report: stdout's format, the report files, the step summary, how much."""

    fmt: Format
    files: dict[str, Path]
    summary: bool | None
    quiet: bool

    @classmethod
    def given(cls, given: Given) -> Shown:
        """From the command's options, checked before anything slow runs (a bad CONTRACT_CHECK_SUMMARY too)."""
        summary_wanted(given["summary"], os.environ)
        files = _outputs(given["json_path"], given["junit_xml"], given["markdown"])
        return cls(given["fmt"], files, given["summary"], given["quiet"])

    def emit(self, rep: Any, *, elapsed: float | None = None, **kw: Any) -> int:
        summary = summary_wanted(self.summary, os.environ)
        took = terminal.elapsed() if elapsed is None else elapsed
        outputs = report.Outputs(
            stdout=self.fmt.value, files=self.files, summary=summary, quiet=self.quiet, elapsed=took, **kw
        )
        return report.emit(rep, outputs)


def _refuse_inputs(files: dict[str, Path], options: config.Options) -> None:
    """A report path may never name a file the command reads or edits (``report_paths``)."""
    from contract_check.report import report_paths

    report_paths.refuse_inputs(files, report_paths.of_options(options, Path.cwd()))


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """Progress for the work inside; the status line is gone when it ends, however it ends."""
    progress, status = terminal.progress(quiet)
    try:
        yield progress
    finally:
        if status is not None:
            status.stop()


@command(app.command("check", epilog=EXIT_CODES), CHECK)
def check_command(ctx: typer.Context, given: Given) -> int:
    """Check the Store against one or more Core refs (the default command)."""
    shown = Shown.given(given)
    options = config.build(given.settings(), Path.cwd())
    _refuse_inputs(shown.files, options)
    install_logs: dict[str, str] = {}
    try:
        with _progress(shown.quiet) as progress:
            rep = pipeline.check(options, Path.cwd(), progress, install_logs=install_logs, contracts=ctx.obj)
    except pipeline.Interrupted as stopped:  # what finished, and the rest marked not run
        shown.emit(stopped.report, install_logs=install_logs)
        raise KeyboardInterrupt from None
    return shown.emit(rep, install_logs=install_logs, show_all=given["show_all"] or given["verbose"] > 0)


@command(app.command("snapshot"), SNAPSHOT)
def snapshot_command(ctx: typer.Context, given: Given) -> int:
    """Record a golden baseline (schemas, payloads) from a known-good Core/Store pair."""
    from contract_check.suite import snapshot

    options = config.build(given.settings(), Path.cwd())
    with _progress(given["quiet"]) as progress:
        written = snapshot.take(options, Path.cwd(), given["output"], progress, contracts=ctx.obj)
    report.console().print(f"wrote the golden contract to {escape(terminal.shown(str(written)))}")
    return 0


@command(app.command("bump"), BUMP)
def bump_command(ctx: typer.Context, given: Given) -> int:
    """Check REF and, only if compatible, move the Store's Core requirement's lower bound to it."""
    from contract_check.bump import bump_report, edits
    from contract_check.bump import command as bumping
    from contract_check.report import report_paths

    core_ref, quiet, dry_run = given["core_refs"], given["quiet"], given["dry_run"]
    if len(config.split_refs([core_ref])) > 1:
        raise UsageError(
            f"bump takes one ref, not a list ({core_ref[:200]!r})",
            tip="check several with contract-check --core-ref A,B first, then bump to the one you choose",
        )
    files = _outputs(given["json_path"], None, None)
    options = config.build(given.settings(), Path.cwd())
    project = bumping.project_of(options.store, options.core_package, Path.cwd())  # not a local project: exit 2
    report_paths.refuse_inputs(files, report_paths.of_options(options, Path.cwd(), bump_project=project))
    with _progress(quiet) as progress:
        done = bumping.check_and_bump(
            options, Path.cwd(), progress, dry_run=True, allow_unpublished=given["allow_unpublished"], contracts=ctx.obj
        )
    code = report.emit(done.report, report.Outputs(quiet=quiet, summary=False, files=files))
    if not dry_run and done.plan is not None and done.plan.changed:
        edits.apply(done.plan)  # after the report: a refused or failed write is said below it
    bump_report.say(done, dry_run=dry_run)
    return code


@command(app.command("list"), LIST)
def list_command(ctx: typer.Context, given: Given) -> int:
    """List every check id a run of the suite (built-in unless --suite) reports, and the schema rules."""
    import contract_check.suite as suites
    from contract_check.suite import catalogue

    suite = given["suite"]
    catalogue.render(suites.load(suite.resolve()) if suite else None, report.console())
    return 0


@command(app.command("merge"), MERGE)
def merge_command(ctx: typer.Context, given: Given) -> int:
    """Join shard reports (one per Core ref, e.g. from a CI matrix) into one report."""
    from contract_check.report import report_paths
    from contract_check.report.merge import merge_reports

    shown = Shown.given(given)
    results = given["results"] or []
    shards = report_paths.collect(Path.cwd(), files=[(p, "a shard report merge reads") for p in results])
    report_paths.refuse_inputs(shown.files, shards)
    rep = merge_reports(results)  # a MergeError is a UsageError naming the file
    return shown.emit(rep, elapsed=sum(r.duration_s for r in rep.runs))


@command(app.command("plan"), PLAN)
def plan_command(ctx: typer.Context, given: Given) -> int:
    """Print the Core refs a check would run, as one JSON list (for a CI matrix); installs nothing."""
    import json

    from contract_check.run import settings
    from contract_check.run.plan import plan_refs

    options = config.build(given.settings(), Path.cwd())
    found = plan_refs(settings.plan(options), Path.cwd(), terminal.progress(True)[0])
    sys.stdout.write(json.dumps(found, separators=(",", ":")) + "\n")
    return 0


app.add_typer(cache_app, name="cache")


def _version_callback(value: bool) -> None:
    if value:
        print(f"contract-check {__version__}")
        raise typer.Exit()


@command(app.callback(), [Use("version", callback=_version_callback)])
def _root(ctx: typer.Context, given: Given) -> None:
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
