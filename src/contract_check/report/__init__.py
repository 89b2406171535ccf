"""Reports: one renderer per output style, looked up by name, and ``emit``, the one place that decides what
is written where (stdout, report files, GitHub Actions' log, step summary and outputs) and at what width.

Renderers: ``table`` (the terminal, ``table.render_table``), ``json``, ``junit``, ``markdown`` (text), and
``github`` (annotations, step summary, step outputs; only under GitHub Actions). Adding a style is one
function and one entry in ``RENDERERS``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_core import PydanticSerializationError
from rich.console import Console

from contract_check.errors import EnvironmentProblem
from contract_check.models import Report
from contract_check.report import github, junit, markdown
from contract_check.report.table import render_table
from contract_check.util import printable

PIPE_WIDTH = 120  # a log or a file: wide enough for check ids, narrow enough for a CI log viewer


def render_json(report: Report) -> str:
    """The report as JSON: every character of every message kept, the ones a terminal would act on escaped
    (``printable.json_text``); a lone surrogate a contract produced is written as its ``\\uXXXX`` escape."""
    try:
        text = report.model_dump_json(indent=2)
    except PydanticSerializationError:  # a lone surrogate cannot be UTF-8: let json write it as an escape
        text = json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return printable.json_text(text) + "\n"


#: renderer name -> a function from the report to the text of a file (or of stdout)
RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": render_json,
    "junit": junit.render_junit,
    "markdown": markdown.render_markdown,
}


def width(environ: Mapping[str, str], is_terminal: bool) -> int:
    """Output width: ``COLUMNS``, else the terminal's, else ``PIPE_WIDTH`` (a pipe, a CI log)."""
    try:
        columns = int(environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if 20 <= columns <= 1000:
        return columns
    if is_terminal:
        return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
    return PIPE_WIDTH


def console(environ: Mapping[str, str] | None = None, **kw: object) -> Console:
    """A console for stdout at the width ``width`` decides."""
    out = Console(highlight=False, soft_wrap=False, **kw)  # type: ignore[arg-type]
    out.width = width(os.environ if environ is None else environ, out.is_terminal)
    return out


@dataclass
class Outputs:
    """What the user asked for: the style on stdout, report files by renderer name, and how much to show."""

    stdout: str = "table"  # "table" or "json"
    files: dict[str, Path] = field(default_factory=dict)  # renderer name -> path
    quiet: bool = False
    show_all: bool = False
    elapsed: float | None = None
    summary: bool = True  # under GitHub Actions: append to the step summary
    install_logs: dict[str, str] = field(default_factory=dict)


def emit(report: Report, outputs: Outputs, environ: Mapping[str, str] | None = None) -> int:
    """Write *report* everywhere *outputs* says; return its exit code. A report file that cannot be written
    is an EnvironmentProblem (exit 3): the verdict was printed, but a gate reading the file must not pass."""
    env = os.environ if environ is None else environ
    on_github = github.is_github_actions(env)
    if on_github and outputs.install_logs:  # before the verdict, as the installs came first
        sys.stdout.flush()
        github.print_install_logs(report, outputs.install_logs, env)
    if outputs.stdout == "json":
        sys.stdout.write(render_json(report))
    else:
        out = console(env)
        options = {"quiet": outputs.quiet, "elapsed": outputs.elapsed, "show_all": outputs.show_all}
        if out.is_terminal:
            render_table(report, out, **options)  # type: ignore[arg-type]
        else:  # a log or a file: the same text, without the padding that tables leave at the ends of lines
            with out.capture() as captured:
                render_table(report, out, **options)  # type: ignore[arg-type]
            sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    try:
        for name, path in outputs.files.items():
            try:
                path.write_text(RENDERERS[name](report), encoding="utf-8")
            except OSError as exc:
                exc.filename = exc.filename or str(path)
                raise
        if on_github:
            # with JSON on stdout, annotations go to stderr (the runner reads workflow commands on both)
            stream = sys.stderr if outputs.stdout == "json" else None
            github.publish(report, env, outputs.files.get("json"), stream=stream, summary=outputs.summary)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise EnvironmentProblem(f"could not write the report{where}: {exc.strerror or exc}") from None
    return report.summary.exit_code


__all__ = ["RENDERERS", "Outputs", "console", "emit", "render_json", "render_table", "width"]
