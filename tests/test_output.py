"""The terminal report at 80, 120 and 200 columns, the width rule, and help: what a user reads.

Reports are built from rows shaped like a real run (the fixture Core that tightened ``queue_size``), rendered
with the same console setup the CLI uses, and read back as plain text.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from contract_check import cli, report
from contract_check.models import Check, Layer, Report, Run, Severity, Source, Status, StoreInfo, Tool, summarise
from contract_check.report.table import render_table

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
