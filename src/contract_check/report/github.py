"""GitHub Actions integration: annotations, log groups (uv's install output), step summary and step outputs.

Only used when ``GITHUB_ACTIONS=true``. Workflow commands follow the escaping of the Actions toolkit
(``@actions/core`` ``command.ts``): message data escapes ``%``, ``\\r`` and ``\\n``; property values
(``title=...``) additionally ``:`` and ``,``. Step outputs use ``name=value`` lines, switching to the
``name<<DELIMITER`` form only for a value that contains a newline. What a contract or a build wrote goes
through ``printable`` first: the log viewer renders ANSI colours, and a cleared screen or a green "COMPATIBLE"
must not come from a failure message.
"""

import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from contract_check.models import Check, ExitCode, Report, Run, Severity, verdict_slug
from contract_check.report.causes import not_run, unrun_line
from contract_check.report.markdown import render_markdown
from contract_check.util import printable
from contract_check.util.proc import redact


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: str) -> str:
    """One workflow command line: ``::name key=value,key=value::message``."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def group(title: str) -> str:
    return command("group", title)


def endgroup() -> str:
    return "::endgroup::"


def is_github_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def install_log_group(core_ref: str, log: str) -> str:
    """uv's install output for one run, folded in the log: ``::group::uv install for REF`` ... ``::endgroup::``.

    The log is printed with workflow commands switched off (``::stop-commands::TOKEN`` ... ``::TOKEN::``)
    so that a line a build backend printed cannot end the group, annotate or set outputs; it is redacted.
    """
    token = f"contract-check-{uuid.uuid4().hex}"
    lines = [group(f"uv install for {printable.text(redact(core_ref), multiline=False)}"), f"::stop-commands::{token}"]
    lines += printable.text(redact(log)).strip("\n").splitlines()
    lines += [f"::{token}::", endgroup()]
    return "\n".join(lines) + "\n"


def print_install_logs(
    report: Report, logs: Mapping[str, str], env: Mapping[str, str], *, stream: TextIO | None = None
) -> None:
    """One folded group per run that installed (report order); does nothing unless ``GITHUB_ACTIONS=true``.

    ``logs`` maps ``Run.core_ref`` to that run's install output; runs without one (cached, failed before
    installing) get no group. Printed to ``stream`` (default stderr, so that ``--format json`` stays JSON).
    """
    if not is_github_actions(env) or not logs:
        return
    out = stream if stream is not None else sys.stderr
    for run in report.runs:
        log = logs.get(run.core_ref)
        if log is not None and log.strip():
            out.write(install_log_group(run.core_ref, log))
    out.flush()


def _check_title(run: Run, check: Check) -> str:
    return f"contract-check core {run.core_ref}: {check.subject} {check.id}" + (f" {check.tag}" if check.tag else "")


def _check_message(check: Check) -> str:
    text = check.message.strip() or f"{check.id}: {check.status.value}"
    return f"{check.rule}: {text}" if check.rule else text


def _findings(report: Report) -> list[tuple[str, str, str]]:
    """(level, title, message) for every finding, errors first, each group in report order."""
    errors: list[tuple[str, str, str]] = []
    warnings: list[tuple[str, str, str]] = []
    unrun = [run.core_ref for run in report.runs if not_run(run)]
    if len(unrun) > 1:  # one annotation for what an interrupt left unrun, not one per ref
        errors.append(("error", "contract-check: interrupted", unrun_line(unrun)))
    for run in report.runs:
        if len(unrun) > 1 and not_run(run):
            continue
        if run.error:
            errors.append(("error", f"contract-check core {run.core_ref}: could not check", run.error.strip()))
        elif run.exit_code not in (ExitCode.OK, ExitCode.BROKEN) and not any(c.is_failure for c in run.checks):
            msg = f"no contract result (exit code {run.exit_code})"
            errors.append(("error", f"contract-check core {run.core_ref}: could not check", msg))
        for check in run.checks:
            if check.is_failure:
                errors.append(("error", _check_title(run, check), _check_message(check)))
            elif check.severity is Severity.WARN:
                warnings.append(("warning", _check_title(run, check), _check_message(check)))
    return errors + warnings


def annotations(report: Report, limit: int = 10) -> list[str]:
    """``::error``/``::warning`` lines for failing checks and WARN rows; at most ``limit``, then a count."""
    findings = _findings(printable.report(report))
    shown = findings[: max(limit, 0)]
    lines = [command(level, message, title=title) for level, title, message in shown]
    hidden = len(findings) - len(shown)
    if hidden:
        noun = "finding" if hidden == 1 else "findings"
        lines.append(command("warning", f"{hidden} more contract-check {noun} not shown; see the step summary"))
    return lines


def _output(name: str, value: str) -> str:
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def outputs(report: Report, report_path: Path | None) -> str:
    """The ``$GITHUB_OUTPUT`` text: ``verdict``, ``exit-code``, ``report`` (with a path) and, after a range,
    ``suggested-specifier``."""
    code = report.summary.exit_code
    text = _output("verdict", verdict_slug(code)) + _output("exit-code", str(code))
    if report_path is not None:
        text += _output("report", str(report_path))
    if report.summary.suggested_specifier:
        text += _output("suggested-specifier", report.summary.suggested_specifier)
    return text


def _append(path: str, text: str) -> None:
    with Path(path).open("a", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def publish(
    report: Report,
    env: Mapping[str, str],
    report_path: Path | None,
    *,
    stream: TextIO | None = None,
    summary: bool = True,
) -> None:
    """Publish ``report`` to GitHub Actions; does nothing unless ``env`` says ``GITHUB_ACTIONS=true``.

    Appends the Markdown to ``$GITHUB_STEP_SUMMARY`` (unless ``summary`` is false), appends
    ``verdict``/``exit-code``/``report`` to ``$GITHUB_OUTPUT`` (each only if the variable is set) and prints
    the annotations to ``stream`` (default stdout). ``OSError`` from writing those files propagates.
    """
    if not is_github_actions(env):
        return
    if summary and (summary_path := env.get("GITHUB_STEP_SUMMARY")):
        _append(summary_path, render_markdown(report) + "\n")
    if output := env.get("GITHUB_OUTPUT"):
        _append(output, outputs(report, report_path))
    out = stream if stream is not None else sys.stdout
    for line in annotations(report):
        print(line, file=out)
    out.flush()
