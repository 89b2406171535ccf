"""Result types and their reductions; the runner's pure helpers that turn plugin events into checks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from contract_check.models import (
    Check,
    ExitCode,
    Layer,
    Run,
    Severity,
    Status,
    run_exit_code,
    summarise,
    worst,
)
from contract_check.run.events import check_from_result as _check_from_result
from contract_check.run.events import read_events as _read_events

BADNESS = [0, 1, 3, 2, 4, 130]  # DESIGN.md: "with several refs: the worst wins"


# ---------------------------------------------------------------------------------------------- worst


@pytest.mark.parametrize(("better", "worse"), list(itertools.combinations(BADNESS, 2)))
def test_worst_ordering(better: int, worse: int) -> None:
    assert worst([better, worse]) == worse
    assert worst([worse, better]) == worse
    assert worst([better, better, worse, better]) == worse


def test_worst_of_everything_and_of_nothing() -> None:
    assert worst(list(reversed(BADNESS))) == ExitCode.INTERRUPTED == 130
    assert worst([0, 0]) == 0
    assert worst([]) == 0
    assert worst([ExitCode.USAGE, ExitCode.ENVIRONMENT]) == 2
    assert worst([3, 99]) == 99  # an unknown code is never hidden


# ----------------------------------------------------------------------------------------- run_exit_code


def check(status: Status, severity: Severity | None = None, rule: str | None = None, id: str = "c") -> Check:
    return Check(id=id, subject="FeedbackEvent", layer=Layer.ASSERTION, status=status, severity=severity, rule=rule)


P, F, E, S = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], 3),  # nothing ran: could not check
        ([S], 3),
        ([S, S, S], 3),
        ([P], 0),
        ([P, S], 0),
        ([P, P, S], 0),
        ([P, F], 1),
        ([F], 1),
        ([E], 1),
        ([S, E], 1),
        ([P, S, F, E], 1),
    ],
)
def test_run_exit_code(statuses: list[Status], expected: int) -> None:
    assert run_exit_code([check(s) for s in statuses]) == expected


def test_a_warn_row_is_compatible_unless_strict_made_it_fail() -> None:
    assert run_exit_code([check(P), check(P, Severity.WARN, "ENUM_VALUE_ADDED")]) == 0
    assert run_exit_code([check(P), check(F, Severity.WARN, "ENUM_VALUE_ADDED")]) == 1


# ---------------------------------------------------------------------------------------------- summarise


def test_summarise_counts() -> None:
    runs = [
        Run(
            core_ref="1.4.61",
            status=Status.PASSED,
            exit_code=0,
            checks=[
                check(P),
                check(P),
                check(P, Severity.WARN, "DEFAULT_CHANGED"),
                check(S),
                check(P, Severity.INFO),
            ],
        ),
        Run(
            core_ref="1.2.0",
            status=Status.FAILED,
            exit_code=1,
            checks=[
                check(P),
                check(F, Severity.ERR, "FIELD_REMOVED"),
                check(E, Severity.ERR),
                check(F, Severity.WARN),
            ],
        ),
        Run(
            core_ref="9.9.9",
            status=Status.ERROR,
            exit_code=3,
            error="market-data-core 9.9.9 is not on the index",
        ),
    ]
    summary = summarise(runs)
    assert (summary.passed, summary.failed, summary.errors, summary.warnings) == (5, 2, 2, 2)
    assert summary.exit_code == 3  # environment beats broken


def test_summarise_nothing() -> None:
    summary = summarise([])
    assert (summary.passed, summary.failed, summary.errors, summary.warnings) == (0, 0, 0, 0)


# ---------------------------------------------------------------------------- runner: _check_from_result


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event": "result",
        "nodeid": "contracts/test_feedback.py::test_store_event_is_core_event",
        "id": "feedback.is-a",
        "subject": "FeedbackEvent",
        "layer": "assertion",
        "outcome": "passed",
        "message": "",
        "duration": 0.0123,
        "warnings": [],
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("outcome", "status", "severity"),
    [
        ("passed", Status.PASSED, None),
        ("failed", Status.FAILED, Severity.ERR),
        ("error", Status.ERROR, Severity.ERR),
        ("skipped", Status.SKIPPED, None),
    ],
)
def test_outcomes(outcome: str, status: Status, severity: Severity | None) -> None:
    row = _check_from_result(event(outcome=outcome, message="  because  "), strict=False)
    assert (row.status, row.severity) == (status, severity)
    assert (row.id, row.subject, row.layer) == ("feedback.is-a", "FeedbackEvent", Layer.ASSERTION)
    assert row.message == "because"
    assert row.duration_s == pytest.approx(0.0123)


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("FIELD_REMOVED: FeedbackEvent.ts is gone", "FIELD_REMOVED"),
        ("ContractImportError: IMPORT_FAILED: No module named 'market_data_core.telemetry'", "IMPORT_FAILED"),
        ("AssertionError: ENUM_VALUE_REMOVED: 'hard' is gone", "ENUM_VALUE_REMOVED"),
        ("assert 1 == 2", None),
        ("FIELD_REMOVED FeedbackEvent.ts is gone", None),
        ("see FIELD_REMOVED: later in the text", None),
        ("", None),
    ],
)
def test_rule_prefix(message: str, rule: str | None) -> None:
    row = _check_from_result(event(outcome="failed", message=message), strict=False)
    assert row.rule == rule
    assert row.message == message  # the prefix stays in the message


def test_a_contract_warning_makes_a_warn_row() -> None:
    warnings = ["ENUM_VALUE_ADDED: BackpressureLevel gained 'critical'", "second note"]
    row = _check_from_result(event(message="enum values are stable", warnings=warnings), strict=False)
    assert (row.status, row.severity, row.rule) == (Status.PASSED, Severity.WARN, "ENUM_VALUE_ADDED")
    assert row.message == "ENUM_VALUE_ADDED: BackpressureLevel gained 'critical'; second note"
    assert run_exit_code([row]) == 0


def test_a_contract_warning_fails_under_strict() -> None:
    row = _check_from_result(event(warnings=["DEFAULT_CHANGED: source is now 'core'"]), strict=True)
    assert (row.status, row.severity, row.rule) == (Status.FAILED, Severity.WARN, "DEFAULT_CHANGED")
    assert run_exit_code([row]) == 1


def test_warnings_do_not_soften_a_failure() -> None:
    row = _check_from_result(event(outcome="failed", message="boom", warnings=["ENUM_VALUE_ADDED: x"]), strict=True)
    assert (row.status, row.severity, row.message, row.rule) == (Status.FAILED, Severity.ERR, "boom", None)


def test_messages_are_redacted_and_bounded() -> None:
    row = _check_from_result(
        event(outcome="error", message="could not fetch https://ci:t0ken@host/simple/x/ " + "x" * 5000),
        strict=False,
    )
    assert "t0ken" not in row.message
    assert row.message.startswith("could not fetch https://***@host/simple/x/")
    assert len(row.message) == 2000
    warn = _check_from_result(event(warnings=["DEFAULT_CHANGED: git+https://t0ken@host/r.git"]), strict=False)
    assert warn.message == "DEFAULT_CHANGED: git+https://***@host/r.git"


def test_unknown_layer_and_missing_fields_fall_back() -> None:
    row = _check_from_result(
        {
            "event": "result",
            "nodeid": "tests/contracts/test_mine.py::test_x",
            "outcome": "passed",
            "layer": "bogus",
        },
        strict=False,
    )
    assert (row.id, row.subject, row.layer, row.message, row.duration_s) == (
        "tests/contracts/test_mine.py::test_x",
        "?",
        Layer.USER,
        "",
        0.0,
    )
    for layer in Layer:
        assert _check_from_result(event(layer=layer.value), strict=False).layer is layer


# ---------------------------------------------------------------------------------- runner: _read_events


def test_read_events_skips_a_truncated_last_line(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    lines = [
        json.dumps({"event": "env", "versions": {"pydantic": "2.9.2"}}),
        json.dumps({"event": "start", "nodeid": "a::b"}),
        "",
        json.dumps(["not", "an", "event"]),
        json.dumps({"no": "event key"}),
        json.dumps(event()),
    ]
    truncated = json.dumps({"event": "result", "nodeid": "a::c", "message": "é" * 10})[:-17]
    out.write_bytes(("\n".join(lines) + "\n" + truncated).encode() + b"\xc3")  # cut inside a character too
    events = _read_events(out)
    assert [e["event"] for e in events] == ["env", "start", "result"]
    assert events[2] == event()


def test_read_events_of_a_missing_file(tmp_path: Path) -> None:
    assert _read_events(tmp_path / "never-written.jsonl") == []
