"""The terminal report at 80, 120 and 200 columns, the width rule, and help: what a user reads.

Reports are built from rows shaped like a real run (the fixture Core that tightened ``queue_size``), rendered
with the same console setup the CLI uses, and read back as plain text.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import cli_env
from contract_check import cli, events, report
from contract_check.models import Check, Layer, Report, Run, Severity, Source, Status, StoreInfo, Tool, summarise
from contract_check.report import causes
from contract_check.report.table import render_table

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
    code = cli.run(argv)
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
