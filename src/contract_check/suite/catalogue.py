"""``contract-check list``: every check id a run of a suite reports and the schema rules, read from the
same sources a run uses (never run): the checks the suite's files declare (``suite.declared_checks``, each
parametrised case its own id), and the rows the schema and payload layers make from its golden snapshot
(``schema_rows.expected``). The rules are the finding ids a difference reports, as ``[[accept]]`` globs.

Ids are what users copy into ``[[accept]]``: each is printed whole on a line of its own, never wrapped (a
line longer than the terminal overflows it); only the descriptions wrap, indented under their id.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from contract_check import suite
from contract_check.run import pytest_session
from contract_check.util import printable
from contract_check.verdict import schema_rows, schema_rules

INDENT = 4


@dataclass(frozen=True)
class Entry:
    id: str
    subject: str
    layer: str
    guards: str


def checks(of: suite.Suite | None = None) -> list[Entry]:
    """Every check id a run of the suite reports when nothing changed: the suite's files' checks, the generic
    layer's, then the host's schema and payload rows."""
    chosen = of or suite.builtin()
    declared = chosen.declared_checks(pytest_session.golden_payload_subjects(chosen.golden))
    golden = schema_rows.load_golden(chosen.golden)
    if golden is not None:
        declared += schema_rows.expected(golden, list(chosen.subjects))
    rows = []
    for item in declared:
        # a parametrisation that cannot be read statically: at least one case, ids known only when it runs
        ids = item.ids() or [f"{item.id}[...]"]
        rows += [Entry(check_id, item.subject, item.layer, item.guards) for check_id in ids]
    return rows


def rules() -> list[Entry]:
    """One entry per schema rule: the ids its findings get (``schema.<Subject>[.<field>].<RULE>``) as a glob."""
    return [
        Entry(f"schema.*.{rule.value}", "all subjects", "schema", f"[{info.severity.value}] {info.guards}")
        for rule, info in schema_rules.RULES.items()
    ]


def entries(of: suite.Suite | None = None) -> list[Entry]:
    return [*checks(of), *rules()]


def _entry(entry: Entry, console: Console) -> list[Text]:
    """The id on a line of its own (never wrapped), then what it guards, wrapped and indented under it."""
    check_id = printable.text(entry.id, multiline=False)
    subject = "all subjects" if entry.subject == "*" else entry.subject
    about = f"{printable.text(subject, multiline=False)}, {entry.layer}"
    line = Text(check_id, style="bold")
    guards = printable.text(entry.guards, multiline=False)
    if len(check_id) + 2 + len(about) <= console.width:
        line.append(f"  {about}", style="dim")
    else:  # the id alone on its line; what it is about starts the description
        guards = f"{about}: {guards}"
    lines = [line]
    for part in Text(guards).wrap(console, max(console.width - INDENT, 20)):
        part.rstrip()
        lines.append(Text(" " * INDENT).append_text(part))
    return lines


def render(of: suite.Suite | None, console: Console) -> None:
    """Print the listing on *console* (see the module docstring)."""
    found, known = checks(of), rules()
    name = printable.text((of or suite.builtin()).name, multiline=False)
    sections = [
        (f"Checks: every run of the {name} suite reports each of these {len(found)} ids", found),
        (f"Rules: a schema difference is reported as schema.<Subject>[.<field>].<RULE> ({len(known)})", known),
    ]
    for number, (title, listed) in enumerate(sections):
        if number:
            console.print()
        console.print(Text(title, style="bold"))
        for entry in listed:
            for line in _entry(entry, console):
                console.print(line, soft_wrap=True)  # never wrapped nor cropped: a long id overflows whole
