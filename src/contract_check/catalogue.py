"""The built-in checks, for ``contract-check list``: read from the contract files without running them."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from contract_check import compat, fsread, runner


@dataclass(frozen=True)
class Entry:
    id: str
    subject: str
    layer: str
    guards: str


def _marker(decorator: ast.expr) -> dict[str, str] | None:
    """The keyword arguments of ``@pytest.mark.contract(id=..., subject=...)``."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    if decorator.func.attr != "contract":
        return None
    return {
        kw.arg: kw.value.value
        for kw in decorator.keywords
        if kw.arg and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
    }


def assertion_entries(directory: Path) -> list[Entry]:
    entries = []
    for path in sorted(directory.glob("test_*.py")):
        source = fsread.read_text(path, limit=runner.CONTRACT_LIMIT, what="built-in contract file")
        tree = ast.parse(source, filename=str(path))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                marker = _marker(decorator)
                if marker and "id" in marker:
                    doc = (ast.get_docstring(node) or "").strip().splitlines()
                    entries.append(
                        Entry(
                            marker["id"],
                            marker.get("subject", "?"),
                            marker.get("layer", "assertion"),
                            doc[0] if doc else "",
                        )
                    )
    return entries


def entries() -> list[Entry]:
    rules = [
        Entry(
            f"schema.*.{rule.value}",
            "all subjects",
            "schema",
            f"[{compat.SEVERITY[rule].value}] {compat.GUARDS[rule]}",
        )
        for rule in compat.Rule
    ]
    return [*assertion_entries(runner.builtin_contracts()), *rules]
