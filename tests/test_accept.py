"""Accepting known breaks: entry validation, the accept file, globs, and the per-check decisions."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract_check import suite
from contract_check.errors import UsageError
from contract_check.models import Check, Layer, Run, Source, Status
from contract_check.run import pytest_session
from contract_check.run.pytest_session import Outcome
from contract_check.sources.refs import ResolvedRef
from contract_check.verdict import accept
from contract_check.verdict.accept import Acceptance, decide, load_file, matches, parse_entries
from contract_check.verdict.classify import Baseline, Policy, classify

ORIGIN = accept.PYPROJECT_ORIGIN
D = dt.date


def entry(check: str, until: str = "2027-06-30", reason: str = "ticket 42") -> dict[str, object]:
    return {"check": check, "reason": reason, "until": until}


# ----------------------------------------------------------------------------------------------------------
# parse_entries
# ----------------------------------------------------------------------------------------------------------


def test_parse_entries_accepts_string_and_toml_dates_and_numbers_the_origin() -> None:
    parsed = parse_entries(
        [entry("schema.*"), {"check": "a.b", "reason": "r", "until": D(2026, 1, 2)}],
        ORIGIN,
    )
    assert parsed == [
        Acceptance("schema.*", "ticket 42", D(2027, 6, 30), f"{ORIGIN} #1"),
        Acceptance("a.b", "r", D(2026, 1, 2), f"{ORIGIN} #2"),
    ]


def test_parse_entries_empty_list_is_no_entries() -> None:
    assert parse_entries([], ORIGIN) == []


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"check": "x"}, "must be an array of tables, not a table"),
        ("x", "must be an array of tables, not a string"),
        ([entry("a"), "b"], "#2 must be a table, not a string"),
        ([{"reason": "r", "until": "2027-01-01"}], "#1: missing key 'check'"),
        ([{"check": "c", "until": "2027-01-01"}], "#1: missing key 'reason'"),
        ([{"check": "c", "reason": "r"}], "#1: missing key 'until'"),
        ([entry("a"), {**entry("b"), "expires": "2027-01-01"}], "#2: unknown key 'expires'"),
        ([{**entry("a"), "check": 3}], "#1: check must be a string, not an integer"),
        ([{**entry("a"), "check": ["a"]}], "#1: check must be a string, not an array"),
        ([entry("  ")], "#1: check is empty"),
        ([entry("a", reason="")], "#1: reason is empty"),
        ([{**entry("a"), "reason": True}], "#1: reason must be a string, not a boolean"),
        ([entry("a", until="2027-02-30")], "#1: until '2027-02-30' is not a valid date"),
        ([entry("a", until="30.06.2027")], "#1: until '30.06.2027' is not a date in the form YYYY-MM-DD"),
        ([entry("a", until="20270630")], "#1: until '20270630' is not a date in the form YYYY-MM-DD"),
        ([entry("a", until="2027-W26-3")], "not a date in the form YYYY-MM-DD"),
        ([entry("a", until="2027-06-30T00:00:00")], "not a date in the form YYYY-MM-DD"),
        ([{**entry("a"), "until": dt.datetime(2027, 6, 30, 12, 0)}], "#1: until must be a date, not a date and time"),
        ([{**entry("a"), "until": dt.time(12, 0)}], "#1: until must be a date, not a time"),
        ([{**entry("a"), "until": 20270630}], "#1: until must be a date, not an integer"),
    ],
)
def test_parse_entries_rejects_malformed_entries_naming_entry_and_key(entries: object, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_entries(entries, ORIGIN)
    assert message in caught.value.message
    assert caught.value.message.startswith(ORIGIN)
    assert caught.value.tip


# ----------------------------------------------------------------------------------------------------------
# load_file
# ----------------------------------------------------------------------------------------------------------

GOOD_FILE = """\
# accepted in the review of 2026-05-01
[[accept]]
check = "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED"
reason = "empty queues are never sent (ticket 42)"
until = 2027-06-30

[[accept]]
check = "contracts/test_roundtrip.py::test_event[*]"
reason = "known"
until = "2026-12-31"
"""


def test_load_file_reads_accept_tables(tmp_path: Path) -> None:
    path = tmp_path / "accept.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    assert load_file(path) == [
        Acceptance(
            "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED",
            "empty queues are never sent (ticket 42)",
            D(2027, 6, 30),
            f"{path} [[accept]] #1",
        ),
        Acceptance("contracts/test_roundtrip.py::test_event[*]", "known", D(2026, 12, 31), f"{path} [[accept]] #2"),
    ]


def test_load_file_without_entries_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "accept.toml"
    path.write_text("# nothing accepted yet\n", encoding="utf-8")
    assert load_file(path) == []


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('[[accept]]\ncheck = "a"\nreason = "b\nuntil = 2027-01-01\n', 3, 12),  # a newline inside a string
        ("[[accept]]\ncheck = 'a'\nreason = 'b'\nuntil = 2027-02-30\n", 4, 9),  # TOML rejects the date
        ('[[accept]]\ncheck = "a" "b"\n', 2, 13),
        ('[[accept]]\ncheck = """a', 2, 13),  # "at end of document": the end's position is given
    ],
)
def test_load_file_toml_syntax_error_names_line_and_column(tmp_path: Path, text: str, line: int, column: int) -> None:
    path = tmp_path / "accept.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_file(path)
    assert caught.value.message.startswith(f"{path}: line {line}, column {column}: not valid TOML: ")
    assert "(at " not in caught.value.message  # the position is said once, in front


def test_load_file_rejects_other_top_level_keys(tmp_path: Path) -> None:
    path = tmp_path / "accept.toml"
    path.write_text('[[accept]]\ncheck = "a"\nreason = "b"\nuntil = 2027-01-01\n[tool]\nx = 1\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown top-level key 'tool'"):
        load_file(path)


def test_load_file_rejects_accept_that_is_not_an_array_of_tables(tmp_path: Path) -> None:
    path = tmp_path / "accept.toml"
    path.write_text('[accept]\ncheck = "a"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=re.escape(f"{path} [[accept]] must be an array of tables")):
        load_file(path)


def test_load_file_names_the_malformed_entry(tmp_path: Path) -> None:
    path = tmp_path / "ci-accept.toml"
    path.write_text(GOOD_FILE + '\n[[accept]]\ncheck = "x"\nreason = "y"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=re.escape(f"{path} [[accept]] #3: missing key 'until'")):
        load_file(path)


def test_load_file_missing_directory_and_fifo_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_file(tmp_path / "nope.toml")
    with pytest.raises(UsageError, match="is a directory"):
        load_file(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(UsageError, match="not a regular file"):
        load_file(fifo)  # must not block waiting for a writer
    assert time.monotonic() - started < 5


def test_load_file_device_is_not_a_regular_file() -> None:
    with pytest.raises(UsageError, match="not a regular file"):
        load_file(Path("/dev/null"))


def test_load_file_too_large_or_not_utf8(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * accept.MAX_FILE_BYTES + b"\n")
    with pytest.raises(UsageError, match="larger than 1 MiB"):
        load_file(big)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[accept]]\ncheck = "\xe9"\n')
    with pytest.raises(UsageError, match="is not UTF-8 text"):
        load_file(latin)


# ----------------------------------------------------------------------------------------------------------
# matches
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "check_id", "expected"),
    [
        ("schema.Event.queue_size.CONSTRAINT_TIGHTENED", "schema.Event.queue_size.CONSTRAINT_TIGHTENED", True),
        ("schema.*.queue_size.CONSTRAINT_TIGHTENED", "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED", True),
        ("schema.*.CONSTRAINT_TIGHTENED", "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED", True),  # * spans "."
        ("schema.*", "schema.", True),  # * may be empty
        ("schema.*", "schema", False),
        ("*", "", True),
        ("", "", True),
        ("", "a", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?c", "abbc", False),
        ("t.py::test_x[1-2]", "t.py::test_x[1-2]", True),  # brackets are literal
        ("t.py::test_x[1-2]", "t.py::test_x1", False),
        ("t.py::test_x[*]", "t.py::test_x[a/b.c]", True),
        ("t.py::test_x[?]", "t.py::test_x[a]", True),
        ("t.py::test_x[!a]", "t.py::test_x[b]", False),  # no negated classes either
        ("contracts/*", "contracts/sub/test_a.py::t", True),  # * spans "/"
        ("Schema.*", "schema.a", False),  # case-sensitive
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("a*a", "a", False),  # prefix and suffix may not overlap
        ("*ab*ab*", "xabyab", True),
        ("*ab*ab*", "xaby", False),
        ("**", "anything", True),
        ("a\\b", "a\\b", True),  # backslash is literal, not an escape
        ("a.b", "aXb", False),  # dot is literal
        ("x+", "xx", False),
    ],
)
def test_matches(pattern: str, check_id: str, expected: bool) -> None:
    assert matches(pattern, check_id) is expected


def _reference(pattern: str, check_id: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, check_id, flags=re.DOTALL) is not None


@given(st.text(alphabet="ab*?[].", max_size=12), st.text(alphabet="ab[].", max_size=14))
def test_matches_agrees_with_a_regex_reference(pattern: str, check_id: str) -> None:
    assert matches(pattern, check_id) is _reference(pattern, check_id)


def test_matches_is_not_exponential_on_many_stars() -> None:
    check_id = "a" * 20_000
    started = time.monotonic()
    assert not matches("*a" * 200 + "*b", check_id)
    assert not matches("a*" * 200 + "?b", check_id)
    assert matches("*a?" * 200 + "*", check_id)
    assert time.monotonic() - started < 2


# ----------------------------------------------------------------------------------------------------------
# decide
# ----------------------------------------------------------------------------------------------------------

TODAY = D(2026, 6, 30)


def acc(check: str, until: dt.date, n: int, reason: str = "r") -> Acceptance:
    return Acceptance(check, reason, until, f"accept.toml [[accept]] #{n}")


def test_decide_first_active_match_accepts() -> None:
    first = acc("schema.*", D(2026, 12, 31), 1, "whole cause")
    second = acc("schema.A.x.FIELD_REMOVED", D(2027, 1, 1), 2)
    decisions = decide(["schema.A.x.FIELD_REMOVED", "schema.B.y.FIELD_REMOVED", "assert.t"], [first, second], TODAY)
    assert decisions.accepted_by("schema.A.x.FIELD_REMOVED") is first
    assert decisions.accepted_by("schema.B.y.FIELD_REMOVED") is first
    assert decisions.accepted_by("assert.t") is None
    assert decisions.by_check["assert.t"].note() is None
    assert decisions.accepted_ids == ["schema.A.x.FIELD_REMOVED", "schema.B.y.FIELD_REMOVED"]
    assert decisions.unused == ()  # the second matched a failing id, even though the first accepted it
    assert decisions.by_check["schema.A.x.FIELD_REMOVED"].note() == (
        "accepted by accept.toml [[accept]] #1: whole cause (until 2026-12-31)"
    )


def test_decide_until_is_inclusive() -> None:
    today_is_last_day = acc("a", TODAY, 1)
    yesterday = acc("b", TODAY - dt.timedelta(days=1), 2)
    decisions = decide(["a", "b"], [today_is_last_day, yesterday], TODAY)
    assert decisions.by_check["a"].accepted
    assert not decisions.by_check["b"].accepted
    assert decisions.by_check["b"].expired == (yesterday,)
    assert decisions.by_check["b"].note() == "acceptance expired on 2026-06-29 (accept.toml [[accept]] #2)"
    assert decisions.unused == ()


def test_decide_expired_entry_is_silent_when_an_active_one_accepts() -> None:
    old = acc("a*", D(2025, 1, 1), 1)
    new = acc("a", D(2027, 1, 1), 2)
    decisions = decide(["a"], [old, new], TODAY)
    assert decisions.by_check["a"].accepted_by is new
    assert decisions.by_check["a"].expired == ()
    assert decisions.unused == ()


def test_decide_lists_every_expired_match() -> None:
    one, two = acc("a*", D(2025, 1, 1), 1), acc("*a", D(2026, 1, 1), 2)
    decision = decide(["a"], [one, two], TODAY).by_check["a"]
    assert decision.expired == (one, two)
    assert decision.note() == (
        "acceptance expired on 2025-01-01 (accept.toml [[accept]] #1); "
        "acceptance expired on 2026-01-01 (accept.toml [[accept]] #2)"
    )


def test_decide_unused_entries_get_one_note_each() -> None:
    used = acc("a", D(2027, 1, 1), 1)
    unused_active = acc("gone.*", D(2027, 1, 1), 2)
    unused_expired = acc("older", D(2025, 5, 1), 3)
    decisions = decide(["a", "a"], [used, unused_active, unused_expired], TODAY)
    assert list(decisions.by_check) == ["a"]  # duplicates collapse
    assert decisions.unused == (unused_active, unused_expired)
    assert decisions.unused_notes(TODAY) == [
        "accept.toml [[accept]] #2 (check = 'gone.*') matched no failing check: remove it if the break is gone",
        "accept.toml [[accept]] #3 (check = 'older') matched no failing check; it expired on 2025-05-01: "
        "remove it if the break is gone",
    ]


def test_decide_with_nothing_failing_leaves_every_entry_unused() -> None:
    entries = [acc("a", D(2027, 1, 1), 1)]
    decisions = decide([], entries, TODAY)
    assert decisions.by_check == {}
    assert decisions.unused == tuple(entries)


def test_utc_today_is_the_utc_date() -> None:
    before = dt.datetime.now(dt.UTC).date()
    today = accept.utc_today()
    after = dt.datetime.now(dt.UTC).date()
    assert before <= today <= after
    assert type(today) is dt.date


# ----------------------------------------------------------------------------------------------------------
# what no acceptance may cover (classify, the pure step; and through the CLI)
# ----------------------------------------------------------------------------------------------------------

CORE = "cc-fixture-core"
DECLARED = (suite.Expected("a.one", "S", "assertion", ""), suite.Expected("a.two", "S", "assertion", ""))


def _row(check_id: str, status: Status = Status.FAILED, rule: str | None = None, message: str = "boom") -> Check:
    return Check(id=check_id, subject="S", layer=Layer.ASSERTION, status=status, rule=rule, message=message)


def _classify(checks: list[Check], *entries: Acceptance, declared: tuple[suite.Expected, ...] = DECLARED) -> Run:
    outcome = Outcome(completed=True, checks=checks, versions={CORE: "1.0.0"})
    policy = Policy(core_package=CORE, declared=declared, acceptances=entries, today=TODAY)
    resolved = ResolvedRef("1.0.0", f"{CORE}==1.0.0", Source.INDEX)
    return classify(resolved, outcome, Baseline(None, "none"), policy)


def test_an_import_failure_a_missing_model_or_an_error_is_never_accepted() -> None:
    rows = [
        _row("a.one", status=Status.PASSED),
        _row("imports", rule="IMPORT_FAILED", message="IMPORT_FAILED: import x failed: ModuleNotFoundError: x"),
        _row("model", rule="MODEL_MISSING", message="MODEL_MISSING: core no longer exports FeedbackEvent"),
        _row("crash", status=Status.ERROR, message="the pytest process died (killed by SIGSEGV)"),
        _row("direct", message="ImportError: cannot import name 'FeedbackEvent' from 'market_data_core'"),
        _row("a.two", message="AssertionError: queue_size 0 rejected"),
    ]
    entries = [
        acc(check_id, D(2027, 1, 1), n)
        for n, check_id in enumerate(["imports", "model", "crash", "direct", "a.two"], 1)
    ]
    run = _classify(rows, *entries)
    status = {c.id: c.status for c in run.checks}
    assert status == {"a.one": Status.PASSED, "imports": Status.FAILED, "model": Status.FAILED,
                      "crash": Status.ERROR, "direct": Status.FAILED, "a.two": Status.ACCEPTED}  # fmt: skip
    notes = {c.id: c.note or "" for c in run.checks}
    assert "an import failure is never accepted (accept.toml [[accept]] #1)" in notes["imports"]
    assert "a missing model is never accepted" in notes["model"] and "an error is never accepted" in notes["crash"]
    assert "an import failure is never accepted" in notes["direct"]
    assert run.exit_code == 1


def test_a_run_with_no_passing_builtin_check_is_never_compatible() -> None:
    run = _classify([_row("a.one"), _row("a.two")], acc("a.one", D(2027, 1, 1), 1), acc("a.two", D(2027, 1, 1), 2))
    assert run.exit_code == 1 and run.status is Status.FAILED
    assert all(c.status is Status.FAILED and "no built-in check passed" in (c.note or "") for c in run.checks)
    one_passes = _classify([_row("a.one", Status.PASSED), _row("a.two")], acc("a.two", D(2027, 1, 1), 1))
    assert one_passes.exit_code == 0 and one_passes.checks[1].status is Status.ACCEPTED  # a known break stays one


@pytest.mark.parametrize("pattern", ["*", "*.*", "a.*", "?.*", "*o*"])
def test_a_pattern_that_matches_every_declared_check_is_a_usage_error(pattern: str) -> None:
    with pytest.raises(UsageError, match=rf"#1: check = '{re.escape(pattern)}' matches every check the suite declares"):
        Policy(core_package=CORE, declared=DECLARED, acceptances=(acc(pattern, D(2027, 1, 1), 1),), today=TODAY)


def test_narrower_patterns_and_the_builtin_suite() -> None:
    Policy(core_package=CORE, declared=DECLARED, acceptances=(acc("a.t*", D(2027, 1, 1), 1),), today=TODAY)
    builtin = suite.builtin()
    declared = tuple(builtin.declared_checks(pytest_session.golden_payload_subjects(builtin.golden)))
    with pytest.raises(UsageError, match="matches every check the suite declares"):
        Policy(core_package=CORE, declared=declared, acceptances=(acc("*", D(2027, 1, 1), 1),), today=TODAY)
    Policy(core_package=CORE, declared=declared, acceptances=(acc("schema.*", D(2027, 1, 1), 1),), today=TODAY)


def _accept_file(tmp_path: Path, *patterns: str) -> Path:
    path = tmp_path / "accept.toml"
    path.write_text("".join(f'[[accept]]\ncheck = "{p}"\nreason = "known"\nuntil = 2999-01-01\n' for p in patterns))
    return path


def test_accepting_everything_on_a_core_that_does_not_import_is_refused(run_cli, fixture_world, tmp_path) -> None:
    """The field report: check = "*" made a Core that does not import "0 passed ... 28 accepted, exit 0"."""
    ref = fixture_world.variant_versions["import_broken"]
    args = ["--core-ref", ref, "--core-package", CORE, "--find-links", fixture_world.find_links,
            "--store", fixture_world.store_wheel]  # fmt: skip
    star = run_cli(*args, "--accept", _accept_file(tmp_path, "*"))
    assert star.code == 2, star.output
    assert "check = '*' matches every check the suite declares" in star.stderr and "COMPATIBLE" not in star.stdout
    narrower = run_cli(*args, "--accept", _accept_file(tmp_path, "feedback.*", "health.*", "payload.*"))
    assert narrower.code == 1, narrower.output
    (run,) = narrower.report["runs"]
    assert narrower.report["summary"]["accepted"] == 0
    assert all(c["status"] in ("failed", "error") and c["rule"] == "IMPORT_FAILED" for c in run["checks"])
    assert "an import failure is never accepted" in narrower.stdout
