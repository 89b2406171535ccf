"""GitHub-flavoured Markdown (``--markdown``, and the Actions step summary).

A verdict heading in plain words, the Store, one table row per check (one section per Core ref when there
are several), the findings that matter (failed, errored and WARN rows) with rule and severity, the counts
and the exit code. Text from checks is escaped so that it can neither break a table nor inject HTML.
"""

from __future__ import annotations

import html
import re

from contract_check.models import Check, ExitCode, Report, Run, Severity, Status, Summary

CELL_LIMIT = 200  # message cells in tables; the findings list carries the full text
FINDING_LIMIT = 2000

_VERDICTS: dict[int, str] = {
    ExitCode.OK: "compatible",
    ExitCode.BROKEN: "BROKEN",
    ExitCode.ENVIRONMENT: "could not check",
    ExitCode.USAGE: "could not check (usage error)",
    ExitCode.INTERNAL: "could not check (internal error)",
    ExitCode.INTERRUPTED: "interrupted",
}


def verdict_words(exit_code: int) -> str:
    """The plain-words verdict for an exit code: ``compatible``, ``BROKEN``, ``could not check``, ..."""
    return _VERDICTS.get(exit_code, f"could not check (exit code {exit_code})")


def cell(text: str, limit: int | None = CELL_LIMIT) -> str:
    """``text`` made safe for one GFM table cell: no raw HTML, ``|`` escaped, newlines as ``<br>``."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = html.escape(text.strip(), quote=False).replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", text)


def _code(text: str) -> str:
    """Inline code that survives backticks inside ``text``."""
    text = text.replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _block(text: str) -> list[str]:
    """A fenced code block longer than any backtick run inside ``text``."""
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`{3,}", text)), default=0) + 1)
    return [fence, text.rstrip("\n"), fence]


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _status_word(check: Check) -> str:
    if check.status is Status.PASSED and check.severity is Severity.WARN:
        return "WARN"
    return check.status.value


def _is_finding(check: Check) -> bool:
    return check.is_failure or check.severity is Severity.WARN


def _store_line(report: Report) -> str:
    store = report.store
    name = " ".join(p for p in (store.name, store.version) if p) or store.spec
    extra = [f"spec {_code(store.spec)}"] if store.spec and store.spec != name else []
    if store.origin:
        extra.append(f"from {cell(store.origin)}")
    if store.declared_core:
        extra.append(f"declares {_code(store.declared_core)}")
    return f"**Store:** {_code(name)}" + (f" ({', '.join(extra)})" if extra else "")


def _core_line(run: Run) -> str:
    line = f"**Core:** {_code(run.core_ref)}"
    if run.core_version and run.core_version != run.core_ref:
        line += f" → {_code(run.core_version)}"
    details = []
    if run.source:
        details.append(f"from {run.source.value}")
    if run.requirement:
        details.append(f"installed as {_code(run.requirement)}")
    if run.in_declared_range is False:
        details.append("outside the Store's declared range")
    return line + (f" ({', '.join(details)})" if details else "")


def _table(checks: list[Check]) -> list[str]:
    rows = [
        "| Check | Subject | Layer | Status | Rule | Severity | Message |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        rows.append(
            f"| {cell(c.id)} | {cell(c.subject)} | {c.layer.value} | {_status_word(c)} "
            f"| {cell(c.rule or '')} | {c.severity.value if c.severity else ''} | {cell(c.message)} |"
        )
    return rows


def _findings(runs: list[Run], *, label_runs: bool) -> list[str]:
    items = []
    for run in runs:
        where = f"core {run.core_ref}: " if label_runs else ""
        if run.error:
            items.append(f"- **could not check** {where}{cell(_first_line(run.error), FINDING_LIMIT)}")
        for c in run.checks:
            if not _is_finding(c):
                continue
            tag = " ".join(p for p in (c.rule, f"[{c.severity.value}]" if c.severity else None) if p)
            items.append(
                f"- **{_status_word(c)}** {where}{_code(c.id)} ({cell(c.subject)})"
                + (f" — {tag}" if tag else "")
                + (f": {cell(c.message, FINDING_LIMIT)}" if c.message.strip() else "")
            )
    return ["#### Findings", "", *items, ""] if items else []


def _counts(summary: Summary, strict: bool) -> str:
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    parts = [
        f"{summary.passed} passed",
        f"{summary.failed} failed",
        n(summary.errors, "error"),
        n(summary.warnings, "warning"),
    ]
    note = " (strict: warnings fail)" if strict else ""
    return f"**Counts:** {', '.join(parts)}{note} · **exit code {summary.exit_code}**"


def _run_body(run: Run) -> list[str]:
    lines = [_core_line(run), ""]
    if run.error:
        lines += ["**Could not check:**", "", *_block(run.error.strip()), ""]
    if run.checks:
        lines += [*_table(run.checks), ""]
    elif not run.error:
        lines += ["No checks ran.", ""]
    return lines


def render_markdown(report: Report) -> str:
    """The report as a GitHub-flavoured Markdown fragment (starts with a ``###`` heading)."""
    summary = report.summary
    lines = [f"### contract-check: {verdict_words(summary.exit_code)}", "", _store_line(report), ""]
    several = len(report.runs) > 1
    if not report.runs:
        lines += ["No Core ref was checked.", ""]
    for run in report.runs:
        if several:
            lines += [f"#### core {cell(run.core_ref)}: {verdict_words(run.exit_code)}", ""]
        lines += _run_body(run)
    lines += _findings(report.runs, label_runs=several)
    lines.append(_counts(summary, report.tool.strict))
    return "\n".join(lines) + "\n"
