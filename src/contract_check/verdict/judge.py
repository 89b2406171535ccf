"""The one step from a run's checks to its verdict, pure: ``judge(checks, declared, evidence) -> Judgement``.

Every path to a verdict goes through it: a fresh run (``classify``), a result served from the cache
(``ResultCache.get``) and every run of a shard report (``merge``). Nothing stored is trusted for its verdict:
a stored run's exit code, status and error kind are recomputed from its checks and the checks its suite
declares (``rejudge``), the same way a fresh run's are.

- **checks**: the rows of the run (assertions, schema and payload findings, user contracts) with
  acceptances applied. An accepted row that no acceptance may cover (``Check.acceptable``: an import
  failure, a missing model, an error or crash) is a failure again, and so is every accepted built-in row of
  a run in which no built-in check passed: acceptances never make such a Core compatible.
- **declared**: the checks the suite declares. Each must have a result that ran (``suite.completeness``),
  else the run could not be checked (3), unless a built-in check that did run failed (1).
- **evidence**: what only the run itself saw (a Core imported from outside the sandbox, a timeout, user
  contracts that did not run, missing test dependencies). Evidence can only move a verdict towards "could
  not check"; nothing in it can make a run compatible. A stored run's evidence is its own claim of "could
  not check" (an exit code 3 with its error), which is kept: a report can say less than its checks, never
  more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract_check import suite
from contract_check.models import Check, ExitCode, Layer, Run, Status, run_exit_code, run_status

UNKNOWN_CASES = "[...]"  # a declared label for a parametrised check whose cases cannot be read statically
NO_PASS_NOTE = "not accepted: no built-in check passed, and acceptances never make such a Core compatible"


@dataclass(frozen=True)
class Evidence:
    """What decides a verdict besides the checks (see the module docstring)."""

    could_not_check: tuple[str | None, str] | None = None  # (error kind, message): 3 whatever the checks say
    timed_out: bool = False  # a pytest session was killed at --timeout
    timed_out_ids: frozenset[str] = frozenset()  # the checks that were running then (their error rows)
    unrun: tuple[str, ...] = ()  # user contract sessions that did not run, and why
    test_dependency: str | None = None  # the message when every failure is a user contract's missing module
    test_dependency_ids: frozenset[str] = frozenset()  # those user contracts
    note: str | None = None  # why a session did not complete (pytest died), shown with the verdict


@dataclass(frozen=True)
class Judgement:
    exit_code: int
    error: str | None
    kind: str | None
    checks: list[Check]  # the rows as judged (accepted rows that may not be accepted are failures again)

    @property
    def status(self) -> Status:
        return run_status(self.exit_code)


def _refuse(check: Check, why: str) -> Check:
    note = f"{why}; {check.note}" if check.note else why
    return check.model_copy(update={"status": Status.FAILED, "note": note})


def settle_acceptances(checks: Sequence[Check]) -> list[Check]:
    """The rows with every acceptance that may not stand undone (see the module docstring)."""
    out = [c if c.status is not Status.ACCEPTED or c.acceptable else _refuse(c, c.unacceptable_reason) for c in checks]
    builtin = [c for c in out if c.layer is not Layer.USER]
    if any(c.status is Status.ACCEPTED for c in builtin) and not any(c.status is Status.PASSED for c in builtin):
        out = [
            _refuse(c, NO_PASS_NOTE) if c.status is Status.ACCEPTED and c.layer is not Layer.USER else c for c in out
        ]
    return out


def judge(checks: Sequence[Check], declared: Sequence[suite.Expected], evidence: Evidence = Evidence()) -> Judgement:
    """The verdict of a run: its exit code, why it is not a plain verdict (error), and the kind of that.

    A built-in or user check that ran and failed makes the run BROKEN (1), unless its only failures are user
    contracts missing a test dependency (3). Otherwise every declared built-in check must have a result that
    ran, no pytest session may have timed out, the user contracts must have run, and at least one built-in
    check must have passed: else the run could not be checked (3). Only then is it COMPATIBLE (0).
    """
    rows = settle_acceptances(checks)
    if evidence.could_not_check is not None:  # a result about another copy of Core says nothing about this one
        kind, message = evidence.could_not_check
        return Judgement(ExitCode.ENVIRONMENT, message, kind, rows)
    exit_code = run_exit_code(rows)
    builtin = {c.id: c.status.value for c in rows if c.layer is not Layer.USER}
    gaps = suite.completeness(list(declared), builtin)
    real_failure = any(c.is_failure and c.id not in evidence.timed_out_ids for c in rows)
    if exit_code == ExitCode.BROKEN and real_failure:
        failures = [c for c in rows if c.is_failure]
        if evidence.test_dependency and all(
            c.layer is Layer.USER and c.id in evidence.test_dependency_ids for c in failures
        ):
            return Judgement(ExitCode.ENVIRONMENT, evidence.test_dependency, "missing-test-dependency", rows)
        return Judgement(ExitCode.BROKEN, evidence.note, None, rows)
    if exit_code == ExitCode.OK and gaps.complete and not evidence.timed_out and not evidence.unrun:
        return Judgement(ExitCode.OK, evidence.note, None, rows)
    if not any(c.status is not Status.SKIPPED for c in rows):
        error = "could not check: no contract ran"
    elif evidence.timed_out:
        error = "could not check: the contracts did not finish within --timeout"
        if evidence.timed_out_ids:
            error += f" ({', '.join(sorted(evidence.timed_out_ids))} still running)"
    elif not any(c.status is not Status.SKIPPED for c in rows if c.layer is not Layer.USER):
        error = "could not check: none of the built-in contracts ran"
    elif evidence.unrun:
        error = "could not check: " + "; ".join(evidence.unrun)
    else:
        error = "could not check: not every built-in check ran"
    if not gaps.complete:
        error += f" ({gaps.describe()})"
    if evidence.note:
        error += f"\n{evidence.note}"
    kind = "timeout" if evidence.timed_out else "contracts-did-not-run" if evidence.unrun else "incomplete"
    return Judgement(ExitCode.ENVIRONMENT, error, kind, rows)


# ------------------------------------------------------------------------------------------ stored runs

# Exit codes a run can carry: 0/1/3 from its checks; 3, 4 and 130 for a run that could not check at all.
RUN_EXIT_CODES = frozenset(
    {ExitCode.OK, ExitCode.BROKEN, ExitCode.ENVIRONMENT, ExitCode.INTERNAL, ExitCode.INTERRUPTED}
)
_WITHOUT_CHECKS = frozenset({ExitCode.ENVIRONMENT, ExitCode.INTERNAL, ExitCode.INTERRUPTED})


class NotRecomputable(ValueError):
    """A stored run whose verdict cannot be recomputed; the message says why (merge refuses the shard)."""


def labels(declared: Sequence[suite.Expected]) -> list[str]:
    """The declared checks as a run records them: exact ids, or ``id[...]`` for cases unknown until run."""
    return [label for e in declared for label in (e.ids() if e.cases is not None else [e.id + UNKNOWN_CASES])]


def from_labels(found: Sequence[str]) -> list[suite.Expected]:
    """``labels`` read back: the declarations completeness is measured against."""
    out = []
    for label in found:
        if label.endswith(UNKNOWN_CASES):
            out.append(suite.Expected(label.removesuffix(UNKNOWN_CASES), "?", "?", "", None))
        else:
            out.append(suite.Expected(label, "?", "?", ""))
    return out


def stored_evidence(run: Run) -> Evidence:
    """A stored run's evidence: its own claim of "could not check" (exit 3 with its error), nothing more."""
    if run.exit_code == ExitCode.ENVIRONMENT and run.error:
        return Evidence(could_not_check=(run.error_kind, run.error))
    return Evidence(note=run.error if run.exit_code in (ExitCode.OK, ExitCode.BROKEN) else None)


def rejudge(run: Run, declared: Sequence[suite.Expected] | None) -> Run:
    """*run* (read from a report or the cache) with its verdict recomputed from its checks, as a fresh run's is.

    *declared*: the checks its suite declares (None: not known; then a run that would be compatible cannot be
    recomputed). A run without results keeps its own "could not check" (3, 4 or 130 with the error saying
    why); any other run without results could not check. Raises ``NotRecomputable`` for an exit code no run
    has, and for a run that would be compatible when the checks its suite declares are unknown.
    """
    if run.exit_code not in RUN_EXIT_CODES:
        raise NotRecomputable(f"exit code {run.exit_code} is not one a run can have (0, 1, 3, 4 or 130)")
    if not run.checks and run.exit_code in _WITHOUT_CHECKS and run.error:
        return run.model_copy(update={"status": run_status(run.exit_code)})
    verdict = judge(run.checks, declared or [], stored_evidence(run))
    if declared is None and verdict.exit_code == ExitCode.OK:
        raise NotRecomputable("it does not record which checks its suite declares, so its completeness is unknown")
    return run.model_copy(
        update={
            "exit_code": verdict.exit_code,
            "status": verdict.status,
            "error": verdict.error,
            "error_kind": verdict.kind,
            "checks": verdict.checks,
        }
    )
