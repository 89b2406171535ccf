"""The terminal report: fits the width it is given, never cuts what a user needs (verdicts, check ids, rule
IDs, old -> new values wrap instead), failures first, the verdict line last.

One ref: the Store and Core lines, a pass/fail table (a row per subject, a column per layer), the failures
and warnings grouped by cause (each listing the checks it broke), a count of the passes (``--all`` lists
them), the verdict. Several refs: one row per ref (columns adapt to the width; a per-subject grid when there
is room), each ref's causes under it, the refs an interrupt left unrun in one line, the range answer, the
verdict. Every text goes through ``printable`` first: nothing a contract wrote can steer the terminal.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from contract_check.models import ExitCode, Report, Run, Severity, Status, verdict
from contract_check.report.causes import Cause, group, not_run, shortened, summary_counts, unrun_line
from contract_check.report.tally import LAYER_TITLES, LAYERS, Tally, by_subject, tally
from contract_check.util import printable

STYLE: dict[int, str] = {ExitCode.OK: "bold green", ExitCode.BROKEN: "bold red", ExitCode.ENVIRONMENT: "bold yellow"}
KIND_STYLE = {
    "FAIL": "bold red",
    "ERROR": "bold red",
    "WARN": "bold yellow",
    "ACCEPTED": "bold cyan",
    "SKIP": "yellow",
    "INFO": "dim",
}
SHORT_SHA = 7  # a git commit as the matrix table shows it (the JSON report has it whole: artifact.digest)


def short_commit(run: Run) -> str:
    """The commit a Core from git was installed from, short (``""`` for any other source)."""
    digest = run.artifact.digest if run.artifact is not None else None
    return digest.removeprefix("git:")[:SHORT_SHA] if digest and digest.startswith("git:") else ""


CAUSES_PER_RUN = 8  # in a matrix; the rest are counted, and every one is in the JSON and Markdown reports
WORD_STYLE = {"pass": "green", "FAIL": "bold red", "ERROR": "bold red", "warn": "yellow", "accepted": "cyan"}


def _style(code: int) -> str:
    return STYLE.get(code, "bold red")


def _labelled(label: str, *lines: Text) -> Table:
    """``Label  first line`` with the following lines under the first, each wrapping within its column."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold", min_width=8)
    grid.add_column(overflow="fold")
    for i, line in enumerate(lines):
        grid.add_row(label if i == 0 else "", line)
    return grid


def store_block(report: Report) -> Table:
    store = report.store
    line = Text(f"{store.name or store.spec} {store.version or 'version unknown'}")
    if store.origin:
        line.append(f"  ({store.origin})", style="dim")
    lines = [line]
    if store.declared_core:
        lines.append(Text(f"declares Core {store.declared_core}", style="dim"))
    return _labelled("Store", *lines)


def core_block(run: Run) -> Table:
    line = Text(run.core_ref)
    if run.requirement and run.requirement.split("==")[-1] != run.core_ref.lstrip("vV"):
        line.append(f"  {run.requirement}", style="dim")
    if run.core_version:
        line.append(f"  resolved {run.core_version}")
    if run.installed_from:
        line.append(f"  from {run.installed_from}", style="dim")
    if run.cached:
        line.append("  (cached result)", style="cyan")
    lines = [line]
    if run.in_declared_range is False:
        lines.append(Text("outside the Store's declared range (installed with an override)", style="yellow"))
    elif run.in_declared_range:
        lines.append(Text("inside the Store's declared range", style="dim"))
    rows = [_labelled("Core", *lines)]
    if run.baseline:
        rows.append(_labelled("Baseline", Text(run.baseline, style="dim")))
    table = Table.grid()
    for row in rows:
        table.add_row(row)
    return table


def _hanging(indent: int, label_width: int) -> Table:
    """A grid whose second column wraps under itself (a hanging indent), never back to the margin."""
    grid = Table.grid(padding=(0, 1))
    if indent:
        grid.add_column(width=indent - 1, no_wrap=True)
    grid.add_column(width=label_width, no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def split_change(message: str) -> tuple[str, str]:
    """("queue_size: constraint tightened", ">= 0 -> > 0") from a finding's message; ("...", "") otherwise."""
    head, sep, tail = message.rpartition(": ")
    if sep and " -> " in tail and len(tail) < 200:
        return head, tail
    return message, ""


def cause_block(cause: Cause, indent: int = 0) -> Table:
    grid = _hanging(indent, 8)
    lead = [""] if indent else []
    message = Text()
    if cause.tag:
        message.append(f"{cause.tag}  ", style="bold")
    what, change = split_change(shortened(cause.message))
    message.append(what)
    grid.add_row(*lead, Text(cause.kind, style=KIND_STYLE[cause.kind]), message)
    if change:  # "old -> new" on a line of its own, never broken at a space
        grid.add_row(*lead, "", Text(change, no_wrap=True, overflow="fold"))
    if cause.note:
        grid.add_row(*lead, "", Text(cause.note, style="cyan" if cause.kind == "ACCEPTED" else "yellow"))
    listing = Text(f"{cause.noun}: ", style="dim")
    listing.append(", ".join(cause.ids))
    grid.add_row(*lead, "", listing)
    origins = cause.origins()
    for place, statement, ids in origins:  # where the error came from, when not from the check's own assertion
        line = Text() if len(origins) == 1 and len(ids) == len(cause.checks) else Text(", ".join(ids) + ": ")
        line.append(f"raised {place}", style="dim")
        grid.add_row(*lead, "", line)
        if statement:  # indented under its place, wrapping under itself
            code = Table.grid()
            code.add_column(width=2)
            code.add_column(overflow="fold")
            code.add_row("", Text(statement))
            grid.add_row(*lead, "", code)
    return grid


def _cell(counts: Tally) -> Text:
    if not counts.total:
        return Text("-", style="dim")
    cell = Text()
    for i, (count, word) in enumerate(counts.parts()):
        cell.append(" " if i else "")
        cell.append(f"{count} {word}", style=WORD_STYLE.get(word, "yellow"))
    return cell


def subject_table(run: Run) -> Table:
    """A row per subject of the suite (the Store's own contracts as one more), a column per layer, each cell
    its counts: what held and what broke, at a glance."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=False)
    table.add_column("Subject", overflow="fold")
    for layer in LAYERS:
        table.add_column(LAYER_TITLES[layer], overflow="fold")
    for name, cells in by_subject(run.checks):
        table.add_row(name, *[_cell(cells[layer]) for layer in LAYERS])
    return table


def error_block(run: Run) -> Table:
    """A run's own error (it could not check, it was interrupted) as one more ERROR row: counted, so shown."""
    grid = _hanging(0, 8)
    grid.add_row(Text("ERROR", style="bold red"), Text(shortened(run.error or "", 4000)))
    return grid


def _passes(run: Run) -> Table:
    grid = _hanging(0, 8)
    for check in run.checks:
        if check.status is Status.PASSED and check.severity is not Severity.WARN:
            line = Text(check.id)
            if check.message.strip():
                line.append(f"  {check.message.strip().splitlines()[0]}", style="dim")
            grid.add_row(Text("pass", style="green"), line)
    return grid


def run_body(run: Run, *, show_all: bool) -> list[RenderableType]:
    parts: list[RenderableType] = [core_block(run)]
    if run.checks:
        parts.append(subject_table(run))
    parts += [cause_block(cause) for cause in group(run.checks)]
    passed = tally(run.checks).passed
    if show_all and passed:
        parts.append(_passes(run))
    elif passed:
        noun = "check" if passed == 1 else "checks"
        parts.append(Text(f"{passed} {noun} passed (--all lists them)", style="dim"))
    if run.error:
        parts.append(error_block(run))
    return parts


def _subjects(report: Report) -> list[str]:
    seen: dict[str, None] = {}
    for run in report.runs:
        for check in run.checks:
            if check.subject not in ("*", "?") and check.layer.value != "user":
                seen.setdefault(check.subject, None)
    return list(seen)


def _subject_cell(run: Run, subject: str) -> Text:
    rows = [c for c in run.checks if c.subject == subject]
    if not rows:
        return Text("-", style="dim")
    if any(c.is_failure for c in rows):
        return Text("FAIL", style="bold red")
    if any(c.severity is Severity.WARN for c in rows):
        return Text("warn", style="bold yellow")
    return Text("ok", style="green")


def matrix_table(report: Report, width: int) -> Table:
    """One row per Core ref; narrower terminals get fewer, combined columns instead of squeezed ones."""
    wide = width >= 100
    subjects = _subjects(report) if width >= 120 + 9 * len(_subjects(report)) else []
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=False)
    table.add_column("Core ref", overflow="fold", min_width=8)
    table.add_column("Version", overflow="fold")
    table.add_column("In range", no_wrap=True)
    if wide:
        for name in ("Pass", "Fail", "Warn"):
            table.add_column(name, justify="right", no_wrap=True)
    else:
        table.add_column("P/F/W", justify="right", no_wrap=True)
    for subject in subjects:
        table.add_column(subject, no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    for run in report.runs:
        found = tally(run.checks)
        passed, failed, warned = found.passed, found.failing, found.warned
        counts = [str(passed), str(failed), str(warned)] if wide else [f"{passed}/{failed}/{warned}"]
        table.add_row(
            run.core_ref,
            " ".join(x for x in (run.core_version or "-", short_commit(run)) if x),
            {True: "yes", False: "no", None: "?"}[run.in_declared_range],
            *counts,
            *[_subject_cell(run, s) for s in subjects],
            Text(run.verdict, style=_style(run.exit_code)),
            "cached" if run.cached else f"{run.duration_s:.1f}s",
        )
    return table


def matrix_findings(report: Report) -> list[RenderableType]:
    lines: list[RenderableType] = []
    unrun = [run.core_ref for run in report.runs if not_run(run)]
    for run in report.runs:
        if not_run(run):
            continue  # the grid says INTERRUPTED on each row: one line below says it once
        causes = group(run.checks, info=False)
        if not causes and not run.error:
            continue
        head = Text(f"{run.core_ref}: ", style="bold")
        lines.append(head.append(run.verdict, style=_style(run.exit_code)))
        if run.error:
            lines.append(Text("    " + shortened(run.error.splitlines()[0]), style="red"))
        lines += [cause_block(cause, indent=2) for cause in causes[:CAUSES_PER_RUN]]
        if len(causes) > CAUSES_PER_RUN:
            more = len(causes) - CAUSES_PER_RUN
            lines.append(Text(f"  ... {more} more causes: see --json or --markdown", style="dim"))
    if unrun:
        lines.append(Text(f"interrupted: {unrun_line(unrun)}", style="yellow"))
    return lines


def range_lines(report: Report) -> list[Text]:
    summary = report.summary
    lines = []
    if summary.compatible is not None:
        found = ", ".join(summary.compatible) or "none"
        lines.append(Text("Compatible  ", style="bold").append(found))
        if summary.suggested_specifier:
            lines.append(Text("Suggested   ", style="bold").append(summary.suggested_specifier))
    for note in summary.notes:
        lines.append(Text(f"note: {note}", style="yellow"))
    return lines


def verdict_line(report: Report, elapsed: float | None = None, width: int | None = None) -> Text:
    """``COMPATIBLE  37 passed, 0 failed, 0 errors, 0 warnings  exit 0  in 2.1s``. Too long for *width*, it
    breaks between its parts, never inside one ("in" and its time stay together)."""
    s = report.summary
    total = elapsed if elapsed is not None else sum(r.duration_s for r in report.runs)
    parts = [
        Text(verdict(s.exit_code), style=_style(s.exit_code)),
        Text(", ".join(summary_counts(s, report.tool.strict))),
        Text(f"exit {s.exit_code}"),
        *([Text(f"({len(report.runs)} Core refs)")] if len(report.runs) > 1 else []),
        Text(f"in {total:.1f}s", style="dim"),
    ]
    line, used = Text(), 0
    for part in parts:
        if used and width and used + 2 + len(part) > width:
            line.append("\n")
            used = 0
        elif used:
            line.append("  ")
            used += 2
        line.append_text(part)
        used += len(part)
    return line


def render_table(
    report: Report, console: Console, *, quiet: bool = False, elapsed: float | None = None, show_all: bool = False
) -> None:
    """Print *report* on *console* (its width decides the layout)."""
    report = printable.report(report)
    if not quiet:
        console.print(store_block(report))
        if len(report.runs) > 1:
            console.print(matrix_table(report, console.width))
            for line in matrix_findings(report):
                console.print(line)
        else:
            for run in report.runs:
                for part in run_body(run, show_all=show_all):
                    console.print(part)
        for line in range_lines(report):
            console.print(line)
        console.print()
    console.print(verdict_line(report, elapsed, console.width))
