"""How checks are counted, once for every renderer: each check falls in exactly one bucket, and a check that
fails under the run's policy (a WARN finding under ``--strict`` is a ``failed`` row) is counted as a failure
and nothing else. The terminal's tables, the Markdown grid and the step summary all count with ``tally``.

``by_subject`` is the single-ref table: one row per subject of the suite (in the order the run reported
them), the Store's own contracts as one more row, a ``Tally`` per layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contract_check.models import Check, Layer, Severity, Status

LAYERS = (Layer.ASSERTION, Layer.SCHEMA, Layer.PAYLOAD)  # the table's columns; user contracts are assertions
LAYER_TITLES = {Layer.ASSERTION: "Assertions", Layer.SCHEMA: "Schema", Layer.PAYLOAD: "Payloads"}
STORE_ROW = "Store contracts"  # the Store's own contracts (layer "user"), whatever their files are called
ANY_SUBJECT = "all subjects"  # a check about every subject at once (``schema.snapshot``, subject "*")


def bucket(check: Check) -> str:
    """The one bucket a check is counted in: failed, error, accepted, skipped, warned or passed."""
    if check.status is Status.FAILED:
        return "failed"  # a WARN finding under --strict too: it is a failure, not also a warning
    if check.status is Status.ERROR:
        return "error"
    if check.status is Status.ACCEPTED:
        return "accepted"
    if check.status is Status.SKIPPED:
        return "skipped"
    return "warned" if check.severity is Severity.WARN else "passed"


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    error: int = 0
    warned: int = 0
    accepted: int = 0
    skipped: int = 0

    def add(self, check: Check) -> None:
        name = bucket(check)
        setattr(self, name, getattr(self, name) + 1)

    @property
    def failing(self) -> int:
        """Failed and errored checks: what makes a run BROKEN."""
        return self.failed + self.error

    @property
    def total(self) -> int:
        return self.passed + self.failing + self.warned + self.accepted + self.skipped

    def parts(self) -> list[tuple[int, str]]:
        """The non-zero counts in the order a cell shows them: ``(8, "pass"), (2, "FAIL")``."""
        words = [
            (self.passed, "pass"),
            (self.failed, "FAIL"),
            (self.error, "ERROR"),
            (self.warned, "warn"),
            (self.accepted, "accepted"),
            (self.skipped, "skip"),
        ]
        return [(count, word) for count, word in words if count]


def tally(checks: Iterable[Check]) -> Tally:
    out = Tally()
    for check in checks:
        out.add(check)
    return out


def row_name(check: Check) -> str:
    if check.layer is Layer.USER:
        return STORE_ROW
    return ANY_SUBJECT if check.subject in ("*", "") else check.subject


def by_subject(checks: Iterable[Check]) -> list[tuple[str, dict[Layer, Tally]]]:
    """``[(row, {layer: Tally})]``: the suite's subjects in the order the run first reported them, then the
    checks about every subject, then the Store's own contracts (counted as assertions)."""
    rows: dict[str, dict[Layer, Tally]] = {}
    for check in checks:
        layer = Layer.ASSERTION if check.layer is Layer.USER else check.layer
        cells = rows.setdefault(row_name(check), {name: Tally() for name in LAYERS})
        cells[layer].add(check)
    last = (ANY_SUBJECT, STORE_ROW)
    names = [n for n in rows if n not in last] + [n for n in last if n in rows]
    return [(name, rows[name]) for name in names]
