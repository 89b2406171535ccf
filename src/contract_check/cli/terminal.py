"""What the tool prints besides the report: progress, log lines (``-v``), errors and tips; and the command line
normalised before it is parsed (the default command, global flags before a subcommand, ``-h``). Each of them
quotes refs, paths and what uv, git or a contract said, so each goes through ``printable`` (``shown``)."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape

from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.util import fsread, printable
from contract_check.util.proc import redact

err = Console(stderr=True, highlight=False, soft_wrap=True)
COMMANDS = ("check", "snapshot", "list", "merge", "plan", "bump", "cache")
GLOBAL_FLAGS = {"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"}
ROOT_FLAGS = {"--version", "--install-completion", "--show-completion"}
HELP = {"-h", "--help"}
SUMMARY_ENV = "CONTRACT_CHECK_SUMMARY"
_SWITCH = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def shown(text: str) -> str:
    """*text* as stderr may show it: credentials redacted, control characters escaped (``printable``)."""
    return printable.text(redact(text))


def normalise_argv(argv: list[str]) -> list[str]:
    """``check`` is the default command; ``-v``/``-q``/``-h`` may come before a subcommand (they are moved
    after it); a bare ``--help`` is ``check --help`` (its options, the other commands and the exit codes)."""
    args = list(argv)
    if args and args[0] in ROOT_FLAGS:
        return args
    if "--version" in args and not any(a in COMMANDS for a in args):  # "-q --version": the version, nothing else
        return ["--version"]
    leading = []
    while args and (args[0] in GLOBAL_FLAGS or args[0] in HELP):
        leading.append(args.pop(0))
    command = args.pop(0) if args and args[0] in COMMANDS else "check"
    return [command, *leading, *args]


_started: list[float] = []  # time.monotonic() when the command started (``mark_start``)


def process_started() -> float | None:
    """``time.monotonic()`` at the moment this process started (Linux: from /proc, so the interpreter's
    start-up and the imports count too); None where that cannot be told."""
    stat = fsread.read_cached(Path("/proc/self/stat"), limit=4 * fsread.KIB)  # bounded, None when absent
    uptime = fsread.read_cached(Path("/proc/uptime"), limit=fsread.KIB)
    try:
        ticks = int((stat or b"").rsplit(b")", 1)[1].split()[19])  # field 22: start time, clock ticks since boot
        age = float((uptime or b"").split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return time.monotonic() - age if 0 <= age < 3600 else None


def mark_start(at: float | None = None) -> None:
    """The command starts now (or at *at*, a ``time.monotonic()`` value): what ``elapsed`` counts from."""
    _started[:] = [time.monotonic() if at is None else at]


def elapsed() -> float:
    """Wall time since the command started (``mark_start``), as the verdict line reports it."""
    return time.monotonic() - (_started[0] if _started else time.monotonic())


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


def progress(quiet: bool) -> tuple[Callable[[str], None], Any]:
    """A progress callback for stderr: a spinner on a terminal, nothing when piped (log lines under -v)."""
    log = logging.getLogger("contract_check")
    if quiet or not err.is_terminal:
        return (lambda message: log.info("%s", redact(message))), None
    status = err.status("starting", spinner="dots")
    status.start()

    def update(message: str) -> None:
        message = redact(message)  # progress names refs, and a ref may be a URL with a token in it
        log.info("%s", message)
        # a ref or path may hold "[...]", which is not markup, or a control character
        status.update(escape(printable.text(message, multiline=False)))

    return update, status


class RedactingFilter(logging.Filter):
    """Redacts every record that reaches the handler: no log line (``-v`` included) can carry a token (nor a
    control character: ``printable``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = shown(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = shown(record.exc_text)
        return True


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("contract-check: %(message)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("contract_check")
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.WARNING)


def error(message: str, tip: str | None = None) -> None:
    """``error: ...`` and ``tip: ...`` on stderr, wrapped to the terminal (``hanging``); the text is escaped
    (it quotes refs, paths and what a child process said): neither rich markup nor control characters
    (``printable``)."""
    width = wrap_width()
    shown = escape(hanging(printable.text(message), width, len("error: ")))
    err.print(f"[bold red]error[/]: {shown}", markup=True, highlight=False)
    if tip:
        err.print(f"[bold]tip[/]: {escape(hanging(printable.text(tip), width, len('tip: ')))}")


def wrap_width(environ: Mapping[str, str] | None = None) -> int | None:
    """The width error lines are wrapped to on a terminal: ``COLUMNS``, else the terminal's; None when stderr
    is no terminal (a log line per error, for grep and CI logs that wrap themselves)."""
    if not err.is_terminal:
        return None
    columns = (os.environ if environ is None else environ).get("COLUMNS", "")
    return int(columns) if columns.strip().isdigit() and int(columns) > 0 else err.size.width


# a word, or a quoted value with spaces in it ('my dir/x', "NAME @ URL"): never split
_WORD = re.compile(r"""(?<![^\s(])'[^'\n]*'(?=[\s:;,.)]|$)|(?<![^\s(])"[^"\n]*"(?=[\s:;,.)]|$)|\S+""")


def hanging(text: str, width: int | None, indent: int) -> str:
    """*text* wrapped to *width* after a prefix of *indent* columns, every further line indented as far (a
    hanging indent; a line's own indentation is kept under it). Lines break only between words: a path, a
    ref, a URL or a quoted value longer than the line stays whole. Lines that fit are kept as they are."""
    if not width:
        return text
    out: list[str] = []
    for number, line in enumerate(text.split("\n")):
        lead = " " * (indent if number else 0)
        if cell_len(line) + indent <= width:
            out.append(lead + line)
            continue
        own = " " * (len(line) - len(line.lstrip(" ")))
        current = lead + own
        used = indent + len(own)
        for word in _WORD.findall(line):
            size = cell_len(word)
            if current.strip() and used + 1 + size > width:
                out.append(current)
                current, used = " " * indent + own + word, indent + len(own) + size
            else:
                current += (" " if current.strip() else "") + word
                used += (1 if used > indent + len(own) else 0) + size
        out.append(current)
    return "\n".join(out)


def interrupted() -> None:
    err.print("[yellow]interrupted[/]: stopped; child processes were killed and the sandbox removed")
