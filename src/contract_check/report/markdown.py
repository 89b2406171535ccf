"""GitHub-flavoured Markdown (``--markdown``, and the Actions step summary), in the terminal's order.

A verdict heading, the Store, then for one ref: its Core line, the pass/fail table (a row per subject, a
column per layer), the failures and warnings grouped by cause (each listing the checks it broke), the passes
in a collapsed ``<details>``. For several refs: one compact grid (a row per ref), the range answer, then each
ref's causes and passes collapsed (the refs an interrupt left unrun in one line). Counts and exit code last.
Text from checks goes through ``printable`` and is escaped so that it can neither break a table, inject HTML
nor carry control characters; the whole document stays under ``LIMIT`` bytes (GitHub refuses a step summary
over 1 MiB): per-ref details are dropped from the end first, and the report says so.
"""

from __future__ import annotations

import html
import re

from contract_check.models import Report, Run, Status, Summary, verdict
from contract_check.report.causes import Cause, group, not_run, shortened, summary_counts, unrun_line
from contract_check.report.table import short_commit
from contract_check.report.tally import LAYER_TITLES, LAYERS, Tally, by_subject, tally
from contract_check.util import printable

CELL_LIMIT = 200  # message cells in tables; the JSON report carries the full text
LIMIT = 1_000_000  # bytes; GitHub's step summary limit is 1 MiB


def cell(text: str, limit: int | None = CELL_LIMIT) -> str:
    """``text`` made safe for one GFM table cell: no raw HTML, ``|`` escaped, newlines as ``<br>``."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = html.escape(printable.text(text.strip()), quote=False).replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", text)


def code(text: str) -> str:
    """Inline code that survives backticks inside ``text``."""
    text = printable.text(text).replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _block(text: str) -> list[str]:
    """A fenced code block longer than any backtick run inside ``text``."""
    text = printable.text(text)
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`{3,}", text)), default=0) + 1)
    return [fence, text.rstrip("\n"), fence]


def _store_line(report: Report) -> str:
    store = report.store
    name = " ".join(p for p in (store.name, store.version) if p) or store.spec
    extra = [f"spec {code(store.spec)}"] if store.spec and store.spec != name else []
    if not store.version:
        extra.insert(0, "version unknown")
    if store.origin:
        extra.append(f"from {cell(store.origin)}")
    if store.declared_core:
        extra.append(f"declares {code(store.declared_core)}")
    return f"**Store:** {code(name)}" + (f" ({', '.join(extra)})" if extra else "")


def _core_line(run: Run) -> str:
    line = f"**Core:** {code(run.core_ref)}"
    if run.core_version and run.core_version != run.core_ref:
        line += f" → {code(run.core_version)}"
    details = []
    if run.installed_from:
        details.append(f"from {cell(run.installed_from)}")
    if run.requirement:
        details.append(f"installed as {code(run.requirement)}")
    if run.in_declared_range is False:
        details.append("outside the Store's declared range")
    if run.cached:
        details.append("cached result")
    line += f" ({', '.join(details)})" if details else ""
    if run.baseline:
        line += f"  \n**Baseline:** {cell(run.baseline)}"
    return line


def _cause(cause: Cause) -> list[str]:
    tag = f"{code(cause.tag)} " if cause.tag else ""
    lines = [f"- **{cause.kind}** {tag}{cell(shortened(cause.message), None)}"]
    if cause.note:
        lines.append(f"  - {cell(cause.note, None)}")
    lines.append(f"  - {cause.noun}: " + ", ".join(code(i) for i in cause.ids))
    origins = cause.origins()
    for place, statement, ids in origins:  # where the error came from, when not from the check's own assertion
        who = "" if len(origins) == 1 and len(ids) == len(cause.checks) else ", ".join(code(i) for i in ids) + ": "
        lines.append(f"  - {who}raised {cell(place, None)}" + (f": {code(statement)}" if statement else ""))
    return lines


def _counts_cell(counts: Tally) -> str:
    parts = [f"{n} **{word}**" if word in ("FAIL", "ERROR") else f"{n} {word}" for n, word in counts.parts()]
    return ", ".join(parts) or "-"


def _subject_table(run: Run) -> list[str]:
    """A row per subject (the Store's own contracts as one more), a column per layer: the counts."""
    rows = ["| Subject | " + " | ".join(LAYER_TITLES[layer] for layer in LAYERS) + " |", "|---|---|---|---|"]
    for name, cells in by_subject(run.checks):
        rows.append(f"| {cell(name)} | " + " | ".join(_counts_cell(cells[layer]) for layer in LAYERS) + " |")
    return [*rows, ""]


def _passes(run: Run) -> list[str]:
    passed = [c for c in run.checks if c.status is Status.PASSED and c.word == "pass"]
    if not passed:
        return []
    rows = ["| Check | Subject | Layer | Note |", "|---|---|---|---|"]
    rows += [f"| {cell(c.id)} | {cell(c.subject)} | {c.layer.value} | {cell(c.message)} |" for c in passed]
    return ["<details><summary>" + f"{len(passed)} checks passed" + "</summary>", "", *rows, "", "</details>", ""]


def _run_body(run: Run, *, table: bool = False) -> list[str]:
    lines = [_core_line(run), ""]
    lines += _subject_table(run) if table and run.checks else []
    if run.error:
        lines += ["**Could not check:**", "", *_block(shortened(run.error.strip(), 20_000)), ""]
    causes = group(run.checks)  # INFO findings too: compatible changes worth knowing about
    if causes:
        lines += [*(line for c in causes for line in _cause(c)), ""]
    lines += _passes(run)
    if not run.checks and not run.error:
        lines += ["No checks ran.", ""]
    return lines


def _grid(report: Report) -> list[str]:
    rows = ["| Core ref | Version | In range | Passed | Failed | Warnings | Verdict | Time |"]
    rows.append("|---|---|---|--:|--:|--:|---|--:|")
    for run in report.runs:
        found = tally(run.checks)
        passed, failed, warned = found.passed, found.failing, found.warned
        in_range = {True: "yes", False: "no", None: "?"}[run.in_declared_range]
        time = "cached" if run.cached else f"{run.duration_s:.1f}s"
        version = " ".join(x for x in (run.core_version or "-", short_commit(run)) if x)
        rows.append(
            f"| {code(run.core_ref)} | {cell(version)} | {in_range} | {passed} | {failed} "
            f"| {warned} | **{verdict(run.exit_code)}** | {time} |"
        )
    return [*rows, ""]


def _counts(summary: Summary, strict: bool) -> str:
    return f"**Counts:** {', '.join(summary_counts(summary, strict))} · **exit code {summary.exit_code}**"


def _range(summary: Summary) -> list[str]:
    lines = []
    if summary.compatible is not None:
        lines.append("**Compatible:** " + (", ".join(code(v) for v in summary.compatible) or "none"))
        if summary.suggested_specifier:
            lines.append(f"**Suggested specifier:** {code(summary.suggested_specifier)}")
        lines.append("")
    lines += [f"- note: {cell(note, None)}" for note in summary.notes]
    return [*lines, ""] if summary.notes else lines


def render_markdown(report: Report, limit: int = LIMIT) -> str:
    """The report as a GitHub-flavoured Markdown fragment (starts with a ``###`` heading), under *limit* bytes."""
    report = printable.report(report)
    head = [f"### contract-check: {verdict(report.summary.exit_code)}", "", _store_line(report), ""]
    tail = [_counts(report.summary, report.tool.strict)]
    several = len(report.runs) > 1
    if not report.runs:
        head += ["No Core ref was checked.", ""]
    unrun = [run.core_ref for run in report.runs if several and not_run(run)]
    if several:
        head += _grid(report)
    if unrun:  # the grid says INTERRUPTED on each of their rows: one line, not one section each
        head += [f"*Interrupted: {unrun_line([code(r) for r in unrun])}.*", ""]
    head += _range(report.summary)
    bodies = []
    for run in report.runs:
        if several and not_run(run):
            continue
        body = _run_body(run, table=not several)  # several refs have the grid instead
        if several:
            title = f"core {cell(run.core_ref)}: {verdict(run.exit_code)}"
            body = [f"<details><summary>{title}</summary>", "", *body, "</details>", ""]
        bodies.append(body)
    return _fit(head, bodies, tail, limit)


def _fit(head: list[str], bodies: list[list[str]], tail: list[str], limit: int) -> str:
    """Join the parts, dropping per-ref details from the end until the document fits *limit* bytes."""

    def size(lines: list[str]) -> int:
        return sum(len(line.encode()) + 1 for line in lines)

    budget = limit - size(head) - size(tail) - 200
    kept: list[str] = []
    used = dropped = 0
    for body in bodies:
        needed = size(body)
        if used + needed <= budget:
            kept += body
            used += needed
        else:
            dropped += 1
    note = [f"*{dropped} refs' details are not shown: the step summary is limited to 1 MiB; see the JSON report.*", ""]
    text = "\n".join([*head, *kept, *(note if dropped else []), *tail]) + "\n"
    if len(text.encode()) > limit:  # the grid alone is too large: cut it, and say so
        cut = text.encode()[: limit - 200].decode(errors="ignore").rsplit("\n", 1)[0]
        text = cut + "\n\n*The report was cut to fit the 1 MiB limit; see the JSON report.*\n"
    return text
