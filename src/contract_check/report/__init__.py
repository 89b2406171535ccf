"""Renderers: one per output style. The terminal table lives here; JUnit, Markdown and GitHub in siblings."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from contract_check.models import Check, Report, Run, Severity, Status

VERDICT = {
    0: "COMPATIBLE",
    1: "BROKEN",
    2: "USAGE ERROR",
    3: "COULD NOT CHECK",
    4: "INTERNAL ERROR",
    130: "INTERRUPTED",
}
_STYLE = {0: "bold green", 1: "bold red", 3: "bold yellow"}
_RESULT = {
    Status.PASSED: ("pass", "green"),
    Status.FAILED: ("FAIL", "bold red"),
    Status.ERROR: ("ERROR", "bold red"),
    Status.SKIPPED: ("skip", "dim"),
}


def verdict(code: int) -> str:
    return VERDICT.get(code, f"EXIT {code}")


def _result_cell(check: Check) -> Text:
    label, style = _RESULT[check.status]
    if check.status is Status.PASSED and check.severity is Severity.WARN:
        label, style = "warn", "bold yellow"
    return Text(label, style=style)


def _detail(check: Check) -> Text:
    text = Text()
    if check.rule or check.severity:
        tag = " ".join(x for x in (check.rule, f"[{check.severity.value}]" if check.severity else None) if x)
        text.append(tag + " ", style="bold" if check.is_failure else "")
    message = check.message.strip().splitlines()
    if message:
        style = "" if check.is_failure or check.severity else "dim"
        shown = " ".join(line.strip() for line in message[:4])[:400] if check.is_failure else message[0][:100]
        text.append(shown, style=style)
    return text


def store_line(report: Report) -> Text:
    store = report.store
    line = Text("Store  ", style="bold")
    line.append(" ".join(x for x in (store.name or store.spec, store.version) if x))
    line.append(f"  ({store.origin})" if store.origin else "", style="dim")
    if store.declared_core:
        line.append(f"  declares Core {store.declared_core}", style="dim")
    return line


def core_line(run: Run) -> Text:
    line = Text("Core   ", style="bold")
    line.append(run.core_ref)
    if run.requirement and run.requirement.split("==")[-1] != run.core_ref.lstrip("vV"):
        line.append(f" -> {run.requirement}", style="dim")
    if run.core_version:
        line.append(f"  resolved {run.core_version}")
    if run.source:
        line.append(f"  from {run.source.value}", style="dim")
    if run.in_declared_range is False:
        line.append("  outside the Store's declared range (installed with an override)", style="yellow")
    elif run.in_declared_range:
        line.append("  inside the Store's declared range", style="dim")
    if run.cached:
        line.append("  (cached result)", style="cyan")
    return line


def run_table(run: Run) -> Table:
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("Subject", no_wrap=True)
    table.add_column("Check", overflow="fold", min_width=24)
    table.add_column("Result", no_wrap=True)
    table.add_column("Detail", overflow="fold")
    previous = ""
    for check in run.checks:
        detail = _detail(check)
        if check.is_failure and check.message and check.message == previous:
            detail = Text("(same error as above)", style="dim")
        previous = check.message if check.is_failure else ""
        table.add_row(escape(check.subject), escape(check.id), _result_cell(check), detail)
    return table


def verdict_line(report: Report, elapsed: float | None = None) -> Text:
    s = report.summary
    line = Text(f"{verdict(s.exit_code)}", style=_STYLE.get(s.exit_code, "bold red"))
    counts = f"{s.passed} passed, {s.failed} failed, {s.errors} errors, {s.warnings} warnings"
    line.append(f"  {counts}  exit {s.exit_code}")
    if len(report.runs) > 1:
        line.append(f"  ({len(report.runs)} Core refs)")
    total = elapsed if elapsed is not None else sum(r.duration_s for r in report.runs)
    line.append(f"  in {total:.1f}s", style="dim")
    return line


SUBJECTS = ("BackpressureLevel", "FeedbackEvent", "StoreFeedbackEvent", "HealthStatus", "HealthComponent")
FINDINGS_PER_RUN = 8


def _subject_cell(run: Run, subject: str) -> Text:
    rows = [c for c in run.checks if c.subject == subject]
    if not rows:
        return Text("-", style="dim")
    if any(c.is_failure for c in rows):
        return Text("FAIL", style="bold red")
    if any(c.severity is Severity.WARN for c in rows):
        return Text("warn", style="bold yellow")
    return Text("ok", style="green")


def matrix_table(report: Report) -> Table:
    """One row per Core ref: version, source, range, counts, a column per subject, verdict, time."""
    table = Table(header_style="bold")
    for column in ("Core ref", "Version", "Source", "In range"):
        table.add_column(column, no_wrap=True)
    for column in ("Pass", "Fail", "Warn"):
        table.add_column(column, justify="right")
    subjects = [s for s in SUBJECTS if any(c.subject == s for r in report.runs for c in r.checks)]
    for subject in subjects:
        table.add_column(subject.replace("FeedbackEvent", "Feedback").replace("Health", "Health"), no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    for run in report.runs:
        in_range = {True: "yes", False: "no", None: "?"}[run.in_declared_range]
        counts = [
            str(sum(c.status is Status.PASSED for c in run.checks)),
            str(sum(c.is_failure for c in run.checks)),
            str(sum(c.severity is Severity.WARN for c in run.checks)),
        ]
        verdict_cell = Text(verdict(run.exit_code), style=_STYLE.get(run.exit_code, "bold red"))
        time_cell = "cached" if run.cached else f"{run.duration_s:.1f}s"
        table.add_row(
            escape(run.core_ref),
            run.core_version or "-",
            run.source.value if run.source else "-",
            in_range,
            *counts,
            *[_subject_cell(run, s) for s in subjects],
            verdict_cell,
            time_cell,
        )
    return table


def findings(report: Report) -> list[Text]:
    """Failing and WARN rows of every run, under the matrix table."""
    lines: list[Text] = []
    for run in report.runs:
        notable = [c for c in run.checks if c.is_failure or c.severity is Severity.WARN]
        notable.sort(key=lambda c: c.layer.value != "schema")  # rule findings are the most precise: first
        unique: dict[str, Check] = {}
        for c in notable:  # one line per distinct error
            unique.setdefault(c.message, c)
        notable = list(unique.values())
        if run.error:
            line = Text(f"{run.core_ref}: ", style="bold")
            lines.append(line.append(run.error.splitlines()[0], style="red"))
        for check in notable[:FINDINGS_PER_RUN]:
            line = Text(f"{run.core_ref}: ", style="bold")
            line.append(f"{check.subject} {check.id}  ")
            lines.append(line.append_text(_detail(check)))
        if len(notable) > FINDINGS_PER_RUN:
            lines.append(
                Text(f"{run.core_ref}: ... {len(notable) - FINDINGS_PER_RUN} more in the JSON report", style="dim")
            )
    return lines


def render_table(report: Report, console: Console, *, quiet: bool = False, elapsed: float | None = None) -> None:
    if not quiet and len(report.runs) > 1:
        console.print(store_line(report))
        console.print(matrix_table(report))
        for line in findings(report):
            console.print(line)
        console.print()
    elif not quiet:
        console.print(store_line(report))
        for run in report.runs:
            parts: list[Table | Text] = [core_line(run)]
            if run.checks:
                parts.append(run_table(run))
            if run.error:
                parts.append(Text(run.error, style="red" if run.exit_code else ""))
            console.print(Group(*parts))
            console.print()
    console.print(verdict_line(report, elapsed))


def write_json(report: Report, path: Path) -> None:
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
