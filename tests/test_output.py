"""The terminal report at 80, 120 and 200 columns, the width rule, and help: what a user reads.

Reports are built from rows shaped like a real run (the fixture Core that tightened ``queue_size``), rendered
with the same console setup the CLI uses, and read back as plain text.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import cli_env
from contract_check import report
from contract_check.cli import app
from contract_check.models import (
    Check,
    Layer,
    Origin,
    Report,
    Run,
    Severity,
    Source,
    Status,
    StoreInfo,
    Tool,
    summarise,
)
from contract_check.report import causes
from contract_check.report.table import render_table
from contract_check.run import events

ROOT = Path(__file__).resolve().parents[1]

WIDTHS = [80, 120, 200]
VALIDATION = (
    "ValidationError: 1 validation error for FeedbackEvent\nqueue_size\n"
    "  Input should be greater than 0 [type=greater_than, input_value=0, input_type=int]"
)


def row(id: str, status: Status = Status.PASSED, **kw: object) -> Check:
    fields = {"subject": "FeedbackEvent", "layer": Layer.ASSERTION, "status": status, **kw}
    if status in (Status.FAILED, Status.ERROR):
        fields.setdefault("severity", Severity.ERR)
    return Check(id=id, **fields)  # type: ignore[arg-type]


PASSES = [row(f"feedback.check-{i}", message=f"Guards property number {i} of the event.") for i in range(20)]
BROKEN = [
    *PASSES,
    row("feedback.drained-queue", Status.FAILED, message=VALIDATION),
    row("backpressure.serialises-as-string", Status.FAILED, subject="BackpressureLevel", message=VALIDATION),
    row("payload.golden.FeedbackEvent", Status.FAILED, layer=Layer.PAYLOAD, message="golden payload 0: " + VALIDATION),
    row(
        "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED",
        Status.FAILED,
        layer=Layer.SCHEMA,
        rule="CONSTRAINT_TIGHTENED",
        message="FeedbackEvent.queue_size: constraint tightened: >= 0 -> > 0",
    ),
    row(
        "schema.StoreFeedbackEvent.queue_size.CONSTRAINT_TIGHTENED",
        Status.FAILED,
        subject="StoreFeedbackEvent",
        layer=Layer.SCHEMA,
        rule="CONSTRAINT_TIGHTENED",
        message="StoreFeedbackEvent.queue_size: constraint tightened: >= 0 -> > 0",
    ),
    row(
        "schema.BackpressureLevel.ENUM_VALUE_ADDED",
        subject="BackpressureLevel",
        layer=Layer.SCHEMA,
        severity=Severity.WARN,
        rule="ENUM_VALUE_ADDED",
        message="BackpressureLevel: enum value added: 'critical'",
    ),
]
STORE = StoreInfo(
    spec="market-data-store==0.6.73",
    name="market-data-store",
    version="0.6.73",
    declared_core="<2.0.0,>=1.4.61",
    origin="newest on the index; no Store project in the current directory",
)


def make_run(ref: str, checks: list[Check], **kw: object) -> Run:
    exit_code = 1 if any(c.is_failure for c in checks) else 0
    fields = {
        "core_ref": ref,
        "requirement": f"market-data-core=={ref}",
        "core_version": ref,
        "source": Source.INDEX,
        "in_declared_range": False,
        "status": Status.FAILED if exit_code else Status.PASSED,
        "exit_code": exit_code,
        "duration_s": 3.2,
        "checks": checks,
        "baseline": "golden built-in (Core 1.4.61 / Store 0.6.73)",
        **kw,
    }
    return Run(**fields)  # type: ignore[arg-type]


def make_report(*runs: Run) -> Report:
    return Report(tool=Tool(version="0"), store=STORE, runs=list(runs), summary=summarise(list(runs)))


def rendered(rep: Report, width: int, **kw: object) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False, soft_wrap=False)
    render_table(rep, console, **kw)  # type: ignore[arg-type]
    return buffer.getvalue()


CASES = {
    "compatible": make_report(make_run("1.4.61", PASSES, in_declared_range=True)),
    "broken": make_report(make_run("1.50.7", BROKEN)),
    "matrix": make_report(
        make_run("1.4.61", PASSES, in_declared_range=True),
        make_run("1.50.7", BROKEN, cached=True),
        Run(core_ref="9.9.9", status=Status.ERROR, exit_code=3, error="market-data-core 9.9.9 is not on the index"),
    ),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", list(CASES))
def test_every_line_fits_the_width(case: str, width: int) -> None:
    text = rendered(CASES[case], width)
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, too_long


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", ["broken", "matrix"])
def test_ids_rules_and_values_are_never_cut(case: str, width: int) -> None:
    lines = rendered(CASES[case], width).splitlines()
    whole = [
        "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED",
        "schema.StoreFeedbackEvent.queue_size.CONSTRAINT_TIGHTENED",
        "payload.golden.FeedbackEvent",
        "backpressure.serialises-as-string",
        "CONSTRAINT_TIGHTENED [ERR]",
        ">= 0 -> > 0",
        "BROKEN",
    ]
    for needle in whole:
        assert any(needle in line for line in lines), (needle, lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_matrix_verdicts_are_whole_words(width: int) -> None:
    lines = rendered(CASES["matrix"], width).splitlines()
    table = [line for line in lines if line.lstrip().startswith(("1.4.61", "1.50.7", "9.9.9"))]
    assert any("COMPATIBLE" in line for line in table) and any("BROKEN" in line for line in table), table
    assert any("COULD NOT CHECK" in line for line in table), table
    assert any("cached" in line for line in table)


def test_failures_come_first_grouped_by_cause_and_the_verdict_last() -> None:
    text = rendered(CASES["broken"], 120)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-1].startswith("BROKEN")
    assert text.count("ValidationError: 1 validation error") == 1  # one cause, three checks
    assert "3 checks: feedback.drained-queue, backpressure.serialises-as-string, payload.golden.FeedbackEvent" in text
    assert text.count("CONSTRAINT_TIGHTENED [ERR]") == 1  # Core's and the Store's model: one cause
    assert text.index("FAIL") < text.index("WARN") < text.index("20 checks passed")
    assert "feedback.check-3" not in text  # passes are counted, not listed ...
    assert "feedback.check-3" in rendered(CASES["broken"], 120, show_all=True)  # ... unless --all


def test_the_verdict_line_breaks_between_its_parts_never_inside_one() -> None:
    """Seen at 80 columns with two refs: "... (2 Core refs)  in" and "7.2s" on the next line."""
    two = make_report(make_run("1.2.0", PASSES), make_run("1.4.61", PASSES))
    text = rendered(two, 80, elapsed=7.2)
    tail = text.rstrip("\n").splitlines()[-2:]
    assert all(len(line) <= 80 for line in tail), tail
    assert tail[-1].strip() == "in 7.2s" or tail[-1].endswith("in 7.2s"), tail
    assert "exit 0" in "\n".join(tail) and not tail[-1].strip().startswith(("s", "7.2"))
    wide = rendered(two, 200, elapsed=7.2).rstrip("\n").splitlines()[-1]
    assert wide.endswith("exit 0  (2 Core refs)  in 7.2s"), wide


SKIPPED = [
    *PASSES,
    row("tests/test_db.py::test_roundtrip", Status.SKIPPED, subject="test_db", layer=Layer.USER,
        message="Skipped: set MDS_TEST_DSN to run DB tests"),
    row("tests/test_db.py::test_roundtrip_async", Status.SKIPPED, subject="test_db", layer=Layer.USER,
        message="Skipped: set MDS_TEST_DSN to run DB tests"),
]  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_skipped_user_contracts_are_said_with_their_reason_and_counted(width: int) -> None:
    """Seen with a real Store's own tests as --contracts: both skipped (no database), and the report said only
    "COMPATIBLE  37 passed": nothing told the user that their contracts had not run."""
    rep = make_report(make_run("1.4.61", SKIPPED, in_declared_range=True))
    assert rep.summary.skipped == 2 and rep.summary.exit_code == 0
    text = rendered(rep, width)
    assert "SKIP" in text and "set MDS_TEST_DSN to run DB tests" in text
    assert "tests/test_db.py::test_roundtrip" in text and "tests/test_db.py::test_roundtrip_async" in text
    assert "2 skipped" in text.splitlines()[-1] or "2 skipped" in text.splitlines()[-2]
    assert "2 skipped" in report.markdown.render_markdown(rep)
    assert "skipped" not in rendered(CASES["compatible"], width)  # said only when something was skipped


def test_a_payload_failure_with_two_problems_keeps_the_second_ones_header() -> None:
    """pydantic ends each error with a docs pointer; the second problem of a payload check followed it on the
    same line and was dropped with it, so the message repeated the error without saying it was a second one,
    and the payload checks became a cause of their own instead of joining the assertion failures."""
    pointer = "\n    For further information visit https://errors.pydantic.dev/2.14/v/greater_than"
    error = "ValidationError: 1 validation error for FeedbackEvent\nqueue_size\n  Input should be greater than 0"
    raw = f"AssertionError: golden payload 0: {error}{pointer}; golden payload 3: {error}{pointer}"
    check = events.check_from_result(
        {"nodeid": "x::test_golden_FeedbackEvent", "id": "payload.golden.FeedbackEvent", "outcome": "failed",
         "message": raw, "layer": "payload", "subject": "FeedbackEvent"},
        strict=False,
    )  # fmt: skip
    assert "For further information" not in check.message
    assert check.message.count("golden payload") == 2 and "; golden payload 3: ValidationError" in check.message
    assertion = row("feedback.drained-queue", Status.FAILED, message=error)
    (cause,) = causes.group([check, assertion])
    assert cause.message.count("Input should be greater than 0") == 1 and len(cause.checks) == 2


def test_width_comes_from_columns_else_the_terminal_else_120() -> None:
    assert report.width({"COLUMNS": "80"}, is_terminal=False) == 80
    assert report.width({"COLUMNS": "nonsense"}, is_terminal=False) == 120
    assert report.width({}, is_terminal=False) == 120


# ------------------------------------------------------------------------------------------------------ help


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = app.run(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["check", "-h"]])
def test_help_shows_the_check_options_and_the_exit_codes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _help(argv, capsys)
    assert code == 0, text
    assert "--core-ref REF" in text and "--store SPEC" in text and "--timeout SECONDS" in text and "--jobs N" in text
    assert "Exit codes:" in text and "130  interrupted" in text
    assert "<list" not in text and "<str>" not in text and "[default: 0]" not in text


def test_global_flags_before_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _help(["-v", "list"], capsys)
    assert code == 0 and "schema.snapshot" in text, text
    code, text = _help(["-q", "--version"], capsys)
    assert code == 0 and text.startswith("contract-check "), text
    code, text = _help(["-h", "merge"], capsys)
    assert code == 0 and "REPORT.json" in text and "{" not in text.splitlines()[0], text


def test_shell_completion_script(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _help(["--show-completion", "bash"], capsys)
    assert code == 0 and "complete" in text and "contract-check" in text.replace("contract_check", "contract-check")


@pytest.mark.slow
def test_the_readme_examples_are_current() -> None:
    """The README's example outputs come from scripts/readme_examples.py; this reruns it and compares
    (durations, dates and temporary paths normalised)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "readme_examples.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------------------ a real run, as a user reads it


@pytest.fixture(scope="module")
def example_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's example Store (a Core whose 1.1.0 tightens queue_size) and a private cache."""
    sys.path.insert(0, str(ROOT / "examples"))
    from build import build  # type: ignore[import-not-found]

    return build(tmp_path_factory.mktemp("example") / "out")


def _as_user(example: Path, tmp_path: Path, *args: str, columns: str | None = "80") -> subprocess.CompletedProcess[str]:
    env = cli_env(tmp_path, CONTRACT_CHECK_CACHE_DIR=str(example.parent / "cache"))
    env.pop("COLUMNS")
    if columns:
        env["COLUMNS"] = columns
    argv = [sys.executable, "-m", "contract_check", *args]
    return subprocess.run(argv, cwd=example / "store", env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_real_broken_run_at_80_columns_says_each_cause_once(example_store: Path, tmp_path: Path) -> None:
    """Seen: the same ValidationError three times (assertions, then the payload checks twice over)."""
    done = _as_user(example_store, tmp_path, "--core-ref", "1.1.0")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert done.stdout.count("ValidationError: 1 validation error for FeedbackEvent") == 1, done.stdout
    assert "5 checks:" in done.stdout and "payload.golden.FeedbackEvent" in done.stdout
    assert any("CONSTRAINT_TIGHTENED [ERR]" in line for line in lines)
    assert any(line.strip() == ">= 0 -> > 0" for line in lines)
    assert lines[-1].startswith("BROKEN") and re.search(r"in \d+\.\ds$", lines[-1])


@pytest.mark.slow
def test_a_real_matrix_at_80_columns_and_in_a_pipe(example_store: Path, tmp_path: Path) -> None:
    """Seen: a matrix squeezed at 80 columns, the verdict line cut between "in" and its time, and a pipe
    without COLUMNS rendered at a fixed width."""
    done = _as_user(example_store, tmp_path, "--core-range", ">=1.0", "--all")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    for verdict in ("COMPATIBLE", "BROKEN"):
        assert any(verdict in line.split() for line in lines), done.stdout
    assert re.search(r"(^|  )in \d+\.\ds$", lines[-1]), lines[-2:]
    assert "Suggested   >=1.0.0,!=1.1.0,<=1.3.0" in done.stdout  # up to the newest release checked
    assert "1 payloads" not in done.stdout
    piped = _as_user(example_store, tmp_path, "--core-range", ">=1.0", columns=None)
    assert max(len(line) for line in piped.stdout.splitlines()) <= 120, piped.stdout


# ------------------------------------------------------------------- what a contract writes cannot steer output

# a cleared screen and a green verdict, an 8-bit CSI, a bidi override and isolate, a line separator, a bell, a
# lone CR (moves back over the line), a lone surrogate (cannot even be UTF-8)
PAYLOAD = "\x1b[2J\x1b[32mCOMPATIBLE  37 passed\x1b[0m \x9b31m \u202eevil\u202c \u2066x\u2069 \u2028 \x07 \rCR \ud800"
STEERING = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def injected() -> Report:
    """A report whose every text field carries PAYLOAD: what a Core, a Store or a contract could write."""
    failing = row(
        f"tests/test_x.py::test_{PAYLOAD}",
        Status.FAILED,
        subject=f"Feed{PAYLOAD}",
        layer=Layer.USER,
        message=f"AssertionError: {PAYLOAD}\nsecond line {PAYLOAD}",
        note=f"accepted? {PAYLOAD}",
        origin=Origin(phase="call", path=f"tests/test_{PAYLOAD}.py", line=3, code=f"build({PAYLOAD!s})"),
    )
    errored = row("feedback.drained-queue", Status.ERROR, message=PAYLOAD,
                  origin=Origin(phase="setup", fixture=f"fx{PAYLOAD}", path="conftest.py", line=1))  # fmt: skip
    runs = [
        make_run(f"1.4.61{PAYLOAD}", [*PASSES, failing, errored], core_version=f"1.4.61{PAYLOAD}",
                 requirement=f"market-data-core @ file:///{PAYLOAD}", baseline=f"golden {PAYLOAD}"),
        Run(core_ref=f"9.9.9{PAYLOAD}", status=Status.ERROR, exit_code=3, error=f"could not check: {PAYLOAD}"),
    ]  # fmt: skip
    store = StoreInfo(spec=f"./{PAYLOAD}", name=f"store{PAYLOAD}", version=f"0.1{PAYLOAD}", origin=PAYLOAD,
                      declared_core=f">=1{PAYLOAD}")  # fmt: skip
    summary = summarise(runs, notes=[f"an acceptance matched nothing: {PAYLOAD}"])
    return Report(tool=Tool(version="0"), store=store, runs=runs, summary=summary)


def _one_ref(rep: Report) -> Report:
    return rep.model_copy(update={"runs": rep.runs[:1], "summary": summarise(rep.runs[:1])})


def test_control_characters_reach_no_renderer() -> None:
    """Seen: a failure message ``\\x1b[2J\\x1b[32mCOMPATIBLE`` cleared the screen and printed a green verdict
    in the terminal, and reached the step summary. Every renderer shows such characters as escapes."""
    from contract_check.report import github, junit, markdown, render_json

    rep = injected()
    outputs = {
        "terminal, one ref": rendered(_one_ref(rep), 80, show_all=True),
        "terminal, two refs": rendered(rep, 120),
        "markdown, one ref": markdown.render_markdown(_one_ref(rep)),
        "markdown, two refs": markdown.render_markdown(rep),
        "junit": junit.render_junit(rep),
        "annotations": "\n".join(github.annotations(rep)),
        "install log": github.install_log_group(rep.runs[0].core_ref, f"Resolved 3 packages\n{PAYLOAD}\n"),
    }
    for name, text in outputs.items():
        found = sorted({f"U+{ord(c):04X}" for c in STEERING.findall(text)} | ({"CR"} if "\r" in text else set()))
        assert not found, (name, found)
    assert "\\x1b[2J\\x1b[32mCOMPATIBLE" in outputs["terminal, one ref"]  # shown, as an escape: never dropped
    assert "\\u202eevil" in outputs["markdown, one ref"] and "\\x9b31m" in outputs["junit"]
    # JSON keeps every character (JSON-escaped): the same data, and nothing raw that a terminal acts on
    text = render_json(rep)
    assert not STEERING.search(text) and "\r" not in text
    assert Report.model_validate(json.loads(text)) == rep


def test_control_characters_in_error_lines_and_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from contract_check import suite
    from contract_check.cli import terminal
    from contract_check.suite import catalogue

    terminal.error(f"cannot read {PAYLOAD}", tip=f"fix {PAYLOAD}")
    (tmp_path / "suite.toml").write_text('[suite]\nname = "evil"\ncore-package = "c"\n', encoding="utf-8")
    source = f"import pytest\n@pytest.mark.contract(id={PAYLOAD[:40]!r}, subject='S')\ndef test_x(): pass\n"
    (tmp_path / "test_evil.py").write_text(source, encoding="utf-8")
    catalogue.render(suite.load(tmp_path), Console(file=sys.stdout, width=80, color_system=None))
    out = capsys.readouterr()
    for text in (out.err, out.out):
        assert not STEERING.search(text) and "\r" not in text, text
    assert "\\x1b[2J" in out.err and "\\x1b[2J" in out.out


def test_a_merged_shard_is_shown_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard = tmp_path / "shard.json"
    shard.write_text(report.render_json(_one_ref(injected())), encoding="utf-8")
    code = app.run(["merge", str(shard), "--markdown", str(tmp_path / "merged.md")])
    out = capsys.readouterr()
    assert code == 1, out
    for text in (out.out, out.err, (tmp_path / "merged.md").read_text(encoding="utf-8")):
        assert not STEERING.search(text) and "\r" not in text
    assert "\\x1b[2J" in out.out


# --------------------------------------------------------------------------------- the table for one ref


@pytest.mark.parametrize("width", [80, 120])
def test_one_ref_gets_a_pass_fail_table_per_subject_and_layer(width: int) -> None:
    """Seen: a single-ref run printed a header, the causes and "37 checks passed": no table. Now a row per
    subject (in the run's order; the Store's own contracts as one more row), a column per layer."""
    checks = [
        *BROKEN,
        row("tests/test_db.py::test_roundtrip", subject="test_db", layer=Layer.USER),
        row("tests/test_db.py::test_other", Status.FAILED, subject="test_db", layer=Layer.USER, message="boom"),
    ]
    lines = rendered(make_report(make_run("1.50.7", checks)), width).splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    head = next(i for i, line in enumerate(lines) if line.split() == ["Subject", "Assertions", "Schema", "Payloads"])
    table = {line.split()[0]: line.split()[1:] for line in lines[head + 2 : head + 6]}
    assert list(table) == ["FeedbackEvent", "BackpressureLevel", "StoreFeedbackEvent", "Store"], lines
    assert table["FeedbackEvent"] == ["20", "pass", "1", "FAIL", "1", "FAIL", "1", "FAIL"]
    assert table["BackpressureLevel"] == ["1", "FAIL", "1", "warn", "-"]
    assert table["StoreFeedbackEvent"] == ["-", "1", "FAIL", "-"]
    assert table["Store"] == ["contracts", "1", "pass", "1", "FAIL", "-", "-"]
    assert head < next(i for i, line in enumerate(lines) if line.startswith("FAIL"))  # above the causes


def test_the_table_is_coloured_unless_no_color(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    rep = make_report(make_run("1.50.7", BROKEN))
    for variable, coloured in (("FORCE_COLOR", True), ("NO_COLOR", False)):
        monkeypatch.delenv("FORCE_COLOR", raising=False)
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv(variable, "1")
        report.emit(rep, report.Outputs(summary=False), environ={"COLUMNS": "80"})
        out = capsys.readouterr().out
        table = [line for line in out.splitlines() if "FeedbackEvent" in line and "pass" in line]
        assert table and all(("\x1b[" in line) is coloured for line in table), (variable, table)


def test_quiet_prints_only_the_verdict_line() -> None:
    text = rendered(CASES["broken"], 80, quiet=True, elapsed=1.5)
    assert text == "BROKEN  21 passed, 5 failed, 0 errors, 1 warning  exit 1  in 1.5s\n"


def test_every_error_the_counts_name_is_shown() -> None:
    """Seen: "2 errors" with one ERROR row: the run's own error (could not check) was counted, and printed as
    plain text below the causes. It is an ERROR row now; a cause mixing failures and errors says so."""
    errored = row("tests/test_x.py::test_dep", Status.ERROR, subject="test_x", layer=Layer.USER, message="E: gone")
    rep = make_report(make_run("1.4.61", [*PASSES, errored], exit_code=3, error="could not check: a test dependency"))
    text = rendered(rep, 80)
    assert "2 errors" in text.splitlines()[-1]
    assert [line.split()[0] for line in text.splitlines() if line.startswith("ERROR")] == ["ERROR", "ERROR"]
    mixed = [row("a", Status.FAILED, message="same"), row("b", Status.ERROR, message="same")]
    (cause,) = causes.group(mixed)
    assert cause.kind == "FAIL" and cause.noun == "2 checks (1 error)"
    (only,) = causes.group([row("a", Status.ERROR, message="x"), row("b", Status.ERROR, message="x")])
    assert only.kind == "ERROR" and only.noun == "2 checks"


def _strict_warn(id: str, subject: str = "BackpressureLevel") -> Check:
    return row(id, Status.FAILED, subject=subject, layer=Layer.SCHEMA, severity=Severity.WARN,
               rule="ENUM_VALUE_ADDED", message=f"{subject}: enum value added: 'critical'")  # fmt: skip


def test_strict_counts_a_warning_the_same_in_every_renderer() -> None:
    """Seen: under --strict the terminal grid counted a WARN finding as a failure and as a warning, the Markdown
    grid (the step summary) as a failure only. One definition (``tally``): it failed, so it is a failure."""
    strict = [*PASSES, _strict_warn("schema.BackpressureLevel.ENUM_VALUE_ADDED")]
    rep = make_report(make_run("1.3.0", strict), make_run("1.2.0", PASSES))
    rep = rep.model_copy(update={"tool": Tool(version="0", strict=True)})
    terminal_row = next(line for line in rendered(rep, 120).splitlines() if line.lstrip().startswith("1.3.0"))
    md_row = next(line for line in report.markdown.render_markdown(rep).splitlines() if line.startswith("| `1.3.0`"))
    terminal_counts = terminal_row.split()[3:6]
    md_counts = [c.strip() for c in md_row.split("|")[4:7]]
    assert terminal_counts == md_counts == ["20", "1", "0"], (terminal_row, md_row)
    assert "1 warning (fail under --strict)" in rendered(rep, 120).splitlines()[-1]
    assert "1 warning (fail under --strict)" in report.markdown.render_markdown(rep)


def test_an_interrupt_says_once_what_did_not_run() -> None:
    """Seen after Ctrl-C: a dozen "INTERRUPTED / not run: interrupted" paragraphs under a grid that already
    said INTERRUPTED on each row."""
    from contract_check.report import github

    unrun = [Run(core_ref=f"1.{i}.0", status=Status.ERROR, exit_code=130, error="not run: interrupted",
                 error_kind="interrupted") for i in range(12)]  # fmt: skip
    rep = make_report(make_run("1.50.7", BROKEN), *unrun)
    for width in (80, 200):
        text = rendered(rep, width)
        assert "not run: interrupted" not in text and text.count("interrupted: 12 refs were not run:") == 1
    md = report.markdown.render_markdown(rep)
    assert "not run: interrupted" not in md and md.count("Interrupted: 12 refs were not run") == 1
    assert md.count("<details><summary>core") == 1  # the ref that ran keeps its details
    notes = [line for line in github.annotations(rep) if "not run" in line]
    assert len(notes) == 1 and "12 refs were not run" in notes[0]


# ------------------------------------------------------------------ where an error came from (setup or call)


def _result(id: str, origin: dict[str, object], message: str = VALIDATION, outcome: str = "failed") -> Check:
    event = {"nodeid": f"x::{id}", "id": id, "outcome": outcome, "message": message, "layer": "assertion",
             "subject": "BackpressureLevel", "origin": origin}  # fmt: skip
    return events.check_from_result(event, strict=False)


def test_an_error_raised_by_the_contracts_test_data_says_where() -> None:
    """Seen: a queue_size ValidationError listed as breaking backpressure.serialises-as-string (its test data
    is a drained event): a maintainer read "the enum broke". The cause now names the statement that raised."""
    statement = 'event = CoreEvent(coordinator_id="c", queue_size=0, capacity=1, level=level, ts=0.0)'
    enum = _result("backpressure.serialises-as-string", {"phase": "call", "path": "test_backpressure.py",
                                                          "line": 31, "code": statement})  # fmt: skip
    own = _result("feedback.drained-queue", {"phase": "call"})  # its own assertion: nothing to add
    assert enum.origin == Origin(phase="call", path="test_backpressure.py", line=31, code=statement)
    (cause,) = causes.group([own, enum])
    assert cause.origins() == [("by test_backpressure.py:31", statement, ["backpressure.serialises-as-string"])]
    rep = make_report(make_run("1.50.7", [*PASSES, own, enum]))
    text = rendered(rep, 80)
    assert "backpressure.serialises-as-string: raised by test_backpressure.py:31" in text
    assert 'event = CoreEvent(coordinator_id="c", queue_size=0,' in text
    md = report.markdown.render_markdown(rep)
    assert "`backpressure.serialises-as-string`: raised by test_backpressure.py:31: `event = CoreEvent(" in md


def test_setup_errors_are_causes_of_their_own_import_failures_stay_one() -> None:
    drained = {"phase": "setup", "fixture": "drained", "path": "conftest.py", "line": 17}
    in_setup = [_result(f"c{i}", drained, outcome="error") for i in range(2)]
    in_body = _result("c3", {"phase": "call"})
    found = causes.group([*in_setup, in_body])
    assert [(c.kind, c.ids) for c in found] == [("ERROR", ["c0", "c1"]), ("FAIL", ["c3"])]
    assert found[0].origins() == [("while setting up fixture drained (conftest.py:17)", "", ["c0", "c1"])]
    text = rendered(make_report(make_run("1.50.7", [*PASSES, *in_setup, in_body])), 80)
    assert "raised while setting up fixture drained (conftest.py:17)" in text
    gone = "IMPORT_FAILED: import market_data_core.telemetry failed: ModuleNotFoundError: No module named 'x'"
    imports = [
        _result("a", {"phase": "setup", "fixture": "CoreEvent"}, gone, "error"),
        _result("b", {"phase": "setup", "fixture": "Level"}, gone, "error"),
        _result("schema.snapshot", {"phase": "call"}, "AssertionError: " + gone),
    ]
    (one,) = causes.group(imports)  # its root is the module, whichever fixture imported it ...
    assert one.origins() == []  # ... so who was loading it is not listed
    missing = "MODEL_MISSING: market_data_core.telemetry no longer exports HealthComponent"
    models = [
        _result("payload.golden.HealthComponent", {"phase": "call", "path": "layers.py", "line": 9, "code": "x()"},
                missing),
        _result("health.round-trip", {"phase": "setup", "fixture": "HealthComponent"}, missing, "error"),
    ]  # fmt: skip
    (model,) = causes.group(models)
    assert model.kind == "FAIL" and model.noun == "2 checks (1 error)" and model.origins() == []


def test_a_malformed_origin_is_refused(tmp_path: Path) -> None:
    from contract_check.errors import EnvironmentProblem

    out = tmp_path / "events.jsonl"
    good = {"event": "result", "nodeid": "x", "outcome": "failed", "message": "m", "duration": 0.1, "warnings": []}
    out.write_text(json.dumps({**good, "origin": {"phase": "call", "line": 3}}) + "\n", encoding="utf-8")
    assert events.read_events(out)[0]["origin"]["line"] == 3
    out.write_text(json.dumps({**good, "origin": {"phase": "lunch"}}) + "\n", encoding="utf-8")
    with pytest.raises(EnvironmentProblem, match="malformed"):
        events.read_events(out)


# ----------------------------------------------------------------------------------------------- list


def test_list_names_every_id_a_run_reports_and_never_splits_one(capsys: pytest.CaptureFixture[str]) -> None:
    """Seen: `list` ("every check and rule") omitted schema.<Subject> and the candidate-payload ids, and at 80
    columns cut ids mid-word, which broke copy-paste into [[accept]]."""
    from contract_check.suite import catalogue

    ids = [entry.id for entry in catalogue.checks()]
    assert "schema.StoreFeedbackEvent" in ids and "schema.BackpressureLevel" in ids
    assert "payload.candidate-validates-golden-schema.StoreFeedbackEvent" in ids
    assert "health.component-states[degraded]" in ids and len(ids) == len(set(ids))
    for width in (50, 80):
        catalogue.render(None, Console(file=sys.stdout, width=width, color_system=None))
        lines = capsys.readouterr().out.splitlines()
        firsts = {line.split()[0] for line in lines if line and not line.startswith(" ")}
        for check_id in [*ids, *(e.id for e in catalogue.rules())]:
            assert check_id in firsts, (width, check_id)


def _user_store(example: Path, tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of the example Store (next to it, so that its find-links still resolve) with contracts of its own."""
    import shutil

    store = example / f"store-{tmp_path.name}"
    shutil.copytree(example / "store", store)
    for name, text in files.items():
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        (store / name).write_text(text, encoding="utf-8")
    return store


def _run_in(store: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**cli_env(tmp_path, CONTRACT_CHECK_CACHE_DIR=str(store.parent / "cache")), "COLUMNS": "80", **env}
    argv = [sys.executable, "-m", "contract_check", *args]
    return subprocess.run(argv, cwd=store, env=environ, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_real_run_shows_its_table_and_where_the_errors_came_from(example_store: Path, tmp_path: Path) -> None:
    """The README's broken example at 80 columns: the table (a row per subject), and the ValidationError that
    broke the enum's check named by the statement of its test data that raised it."""
    done = _as_user(example_store, tmp_path, "--core-ref", "1.1.0", "--json", str(tmp_path / "r.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(" ") and len(line.split()) > 2}
    assert rows["FeedbackEvent"] == ["8", "pass", "2", "FAIL", "1", "FAIL", "1", "pass", "1", "FAIL"], lines
    assert rows["BackpressureLevel"] == ["1", "pass", "1", "FAIL", "1", "pass", "-"], lines
    assert "backpressure.serialises-as-string: raised by test_backpressure.py:31" in done.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    origin = next(c["origin"] for c in rep["runs"][0]["checks"] if c["id"] == "backpressure.serialises-as-string")
    assert origin["phase"] == "call" and "queue_size=0" in origin["code"] and origin["path"] == "test_backpressure.py"
    quiet = _as_user(example_store, tmp_path, "--core-ref", "1.1.0", "-q")
    assert quiet.stdout.count("\n") == 1 and quiet.stdout.startswith("BROKEN  30 passed, 7 failed"), quiet.stdout
    coloured = _as_user(example_store, tmp_path, "--core-ref", "1.1.0")  # NO_COLOR (cli_env): no colour ...
    assert "\x1b[" not in coloured.stdout
    env = {**cli_env(tmp_path, CONTRACT_CHECK_CACHE_DIR=str(example_store.parent / "cache")), "COLUMNS": "80"}
    env.pop("NO_COLOR")
    env["FORCE_COLOR"] = "1"  # ... and with FORCE_COLOR, in a pipe too
    argv = [sys.executable, "-m", "contract_check", "--core-ref", "1.1.0"]
    forced = subprocess.run(argv, cwd=example_store / "store", env=env, capture_output=True, text=True, timeout=300)
    table = [line for line in forced.stdout.splitlines() if "FeedbackEvent" in line and "pass" in line]
    assert table and all("\x1b[" in line for line in table), forced.stdout


CONFTEST = """import pytest

@pytest.fixture
def drained():
    raise ValueError("the drained-queue fixture could not be built")
"""
USER_TESTS = f"""
def test_uses_fixture(drained):
    pass

def test_ansi():
    assert False, {PAYLOAD!r}
"""


@pytest.mark.slow
def test_a_real_run_with_a_hostile_message_and_a_fixture_error(example_store: Path, tmp_path: Path) -> None:
    """Through the real tool: a user contract whose failure message clears the screen and prints a green
    verdict, and one whose fixture fails in setup. Nothing reaches stdout, stderr, the report files, the
    step summary or the annotations raw; the setup error is named by its fixture."""
    store = _user_store(example_store, tmp_path, {"tests/contracts/conftest.py": CONFTEST,
                                                   "tests/contracts/test_mine.py": USER_TESTS})  # fmt: skip
    files = {name: tmp_path / name for name in ("r.json", "r.xml", "r.md", "summary.md", "output")}
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(files["summary.md"]),
              "GITHUB_OUTPUT": str(files["output"])}  # fmt: skip
    done = _run_in(store, tmp_path, "--core-ref", "1.2.0", "--contracts", "tests/contracts",
                   "--json", str(files["r.json"]), "--junit-xml", str(files["r.xml"]),
                   "--markdown", str(files["r.md"]), **github)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    texts = {"stdout": done.stdout, "stderr": done.stderr, **{n: p.read_text("utf-8") for n, p in files.items()}}
    for name, text in texts.items():
        assert not STEERING.search(text), (name, sorted({f"U+{ord(c):04X}" for c in STEERING.findall(text)}))
    assert "\\x1b[2J\\x1b[32mCOMPATIBLE" in done.stdout
    rep = json.loads(texts["r.json"])
    ansi = next(c for c in rep["runs"][0]["checks"] if c["id"].endswith("test_ansi"))
    assert "\x1b[2J" in ansi["message"]  # the JSON report keeps the text exactly (JSON-escaped)
    assert "raised while setting up fixture drained (tests/contracts/conftest.py:4)" in done.stdout
    setup = next(c for c in rep["runs"][0]["checks"] if c["id"].endswith("test_uses_fixture"))
    assert setup["status"] == "error" and setup["origin"]["phase"] == "setup"
    assert setup["origin"]["fixture"] == "drained"


@pytest.mark.slow
def test_list_names_exactly_the_ids_a_real_run_reports(run_cli, fixture_world) -> None:  # type: ignore[no-untyped-def]
    from fixturepkgs import CORE_DIST

    flags = [
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        fixture_world.store_wheel,
    ]
    ran = run_cli("--core-ref", fixture_world.variant_versions["baseline"], *flags)
    assert ran.code == 0, ran.output
    reported = {c["id"] for r in ran.report["runs"] for c in r["checks"]}
    env = cli_env(ran.tmpdir)
    env["COLUMNS"] = "80"
    listed = subprocess.run([sys.executable, "-m", "contract_check", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    section = listed.stdout.split("\n\n")[0].splitlines()[1:]  # the checks, before the rules
    ids = {line.split()[0] for line in section if not line.startswith(" ")}
    assert ids == reported, ids ^ reported
    assert all(len(line) <= 80 or not line.startswith(" ") for line in listed.stdout.splitlines())
