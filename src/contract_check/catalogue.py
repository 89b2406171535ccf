"""The checks of a suite and the schema rules, for ``contract-check list``: read from the suite's files (never
run), one row per contract (parametrised cases folded into one row)."""

from __future__ import annotations

from dataclasses import dataclass

from contract_check import compat, runner, suite


@dataclass(frozen=True)
class Entry:
    id: str
    subject: str
    layer: str
    guards: str


def entries(of: suite.Suite | None = None) -> list[Entry]:
    chosen = of or suite.builtin()
    declared = chosen.declared_checks(runner.golden_payload_subjects(chosen.golden))
    rows = []
    for item in declared:
        cases = "[...]" if item.cases is None else f"[{'|'.join(item.cases)}]" if item.cases else ""
        rows.append(Entry(item.id + cases, item.subject, item.layer, item.guards))
    rules = [
        Entry(f"schema.*.{rule.value}", "all subjects", "schema", f"[{info.severity.value}] {info.guards}")
        for rule, info in compat.RULES.items()
    ]
    return [*rows, *rules]
