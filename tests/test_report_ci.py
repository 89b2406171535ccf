"""CI-facing renderers: JUnit XML (validated against the Jenkins/GitLab XSD), Markdown, GitHub Actions."""

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema

from contract_check.models import (
    Check,
    Layer,
    Report,
    Run,
    Severity,
    Status,
    StoreInfo,
    Tool,
    run_exit_code,
    run_status,
    summarise,
)
from contract_check.report.github import (
    annotations,
    endgroup,
    escape_data,
    escape_property,
    group,
    install_log_group,
    print_install_logs,
    publish,
)
from contract_check.report.junit import render_junit, xml_safe
from contract_check.report.markdown import cell, render_markdown
from contract_check.run.refcheck import trim_log

XSD = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit.xsd")
NOW = datetime(2026, 5, 1, 12, 30, 45, tzinfo=UTC)


# --- building reports -------------------------------------------------------------------------------


def check(
    id: str = "feedback-roundtrip",
    status: Status = Status.PASSED,
    *,
    subject: str = "FeedbackEvent",
    layer: Layer = Layer.ASSERTION,
    severity: Severity | None = None,
    rule: str | None = None,
    message: str = "",
    duration_s: float = 0.012,
) -> Check:
    return Check(
        id=id,
        subject=subject,
        layer=layer,
        status=status,
        severity=severity,
        rule=rule,
        message=message,
        duration_s=duration_s,
    )


def run(core_ref: str = "1.4.61", checks: list[Check] | None = None, *, error: str | None = None, **kw: object) -> Run:
    checks = checks or []
    code = kw.pop("exit_code", None)
    if code is None:
        code = 3 if error else run_exit_code(checks)
    assert isinstance(code, int)
    fields: dict[str, object] = {
        "core_version": core_ref.removeprefix("v") if error is None else None,
        "requirement": f"market-data-core=={core_ref}",
        "duration_s": 4.5,
    }
    fields.update(kw)
    return Run.model_validate(
        {
            "core_ref": core_ref,
            "status": run_status(code),
            "exit_code": code,
            "checks": checks,
            "error": error,
            **fields,
        }
    )


def report(*runs: Run, strict: bool = False) -> Report:
    return Report(
        tool=Tool(version="0.1.0", strict=strict),
        store=StoreInfo(
            spec=".",
            name="market-data-store",
            version="0.6.73",
            declared_core="market-data-core>=1.4.61,<2.0.0",
            origin="current directory",
        ),
        runs=list(runs),
        summary=summarise(list(runs)),
    )


PASSING = [
    check("is-a-core-event"),
    check("roundtrip-keeps-fields"),
    check(
        "schema:FeedbackEvent",
        layer=Layer.SCHEMA,
        severity=Severity.INFO,
        rule="OPTIONAL_FIELD_ADDED",
        message="optional field `reason` added",
    ),
]
FAILING = [
    check("is-a-core-event"),
    check(
        "schema:FeedbackEvent",
        Status.FAILED,
        layer=Layer.SCHEMA,
        severity=Severity.ERR,
        rule="FIELD_REMOVED",
        message="field `ts` removed\nwas: number (required)",
    ),
    check(
        "schema:BackpressureLevel",
        layer=Layer.SCHEMA,
        subject="BackpressureLevel",
        severity=Severity.WARN,
        rule="ENUM_VALUE_ADDED",
        message="value 'critical' added",
    ),
]


def parse(xml: str) -> ET.Element:
    XSD.validate(xml)  # raises with the offending path if the document does not validate
    return ET.fromstring(xml.encode("utf-8"))


# --- JUnit ------------------------------------------------------------------------------------------


def test_junit_passing_report_validates_and_counts() -> None:
    root = parse(render_junit(report(run("1.4.61", PASSING)), now=NOW))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "0", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "core 1.4.61"
    assert suite.get("timestamp") == "2026-05-01T12:30:45"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "3",
        "0",
        "0",
        "0",
    )
    assert suite.get("time") == "4.500"
    cases = suite.findall("testcase")
    assert (cases[0].get("classname"), cases[0].get("name"), cases[0].get("time")) == (
        "FeedbackEvent",
        "is-a-core-event",
        "0.012",
    )
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["core_ref"] == "1.4.61"
    assert props["store_name"] == "market-data-store"
    assert props["strict"] == "false"
    # an INFO finding on a passing row still shows its rule
    info = cases[2].find("system-out")
    assert info is not None and "OPTIONAL_FIELD_ADDED" in (info.text or "")


def test_junit_failing_report_carries_rule_severity_and_detail() -> None:
    root = parse(render_junit(report(run("v1.4.60", FAILING, core_version="1.4.60")), now=NOW))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "core v1.4.60 (1.4.60)"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    failure = suite.find("testcase[@name='schema:FeedbackEvent']/failure")
    assert failure is not None
    assert failure.get("type") == "FIELD_REMOVED"
    assert failure.get("message") == "FIELD_REMOVED [ERR] field `ts` removed"
    assert "was: number (required)" in (failure.text or "")
    assert "severity: ERR" in (failure.text or "")
    warn = suite.find("testcase[@name='schema:BackpressureLevel']")
    assert warn is not None and warn.find("failure") is None
    assert "ENUM_VALUE_ADDED" in (warn.findtext("system-out") or "")


def test_junit_erroring_and_skipped_checks() -> None:
    checks = [
        check("payload:feedback-0", Status.ERROR, layer=Layer.PAYLOAD, message="Traceback ...\nKeyError: 'ts'"),
        check("user:store-contracts", Status.SKIPPED, layer=Layer.USER, message="no user contracts given"),
        check("is-a-core-event"),
    ]
    root = parse(render_junit(report(run("1.4.61", checks)), now=NOW))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "3",
        "0",
        "1",
        "1",
    )
    error = suite.find("testcase[@name='payload:feedback-0']/error")
    assert error is not None
    assert error.get("message") == "Traceback ..."
    assert error.get("type") == "payload"
    assert "KeyError: 'ts'" in (error.text or "")
    skipped = suite.find("testcase[@name='user:store-contracts']/skipped")
    assert skipped is not None and skipped.get("message") == "no user contracts given"


def test_junit_several_refs_one_suite_each() -> None:
    rep = report(run("1.4.59", PASSING), run("1.4.60", FAILING), run("latest", PASSING, core_version="1.4.61"))
    root = parse(render_junit(rep, now=NOW))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["core 1.4.59", "core 1.4.60", "core latest (1.4.61)"]
    assert [s.get("id") for s in suites] == ["0", "1", "2"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("9", "1", "0")


def test_junit_run_that_could_not_check_is_one_errored_case() -> None:
    err = "Core 9.9.9 is not on the index\nnearest: 1.4.60, 1.4.61\ntry git:v9.9.9"
    root = parse(render_junit(report(run("1.4.61", PASSING), run("9.9.9", error=err)), now=NOW))
    suite = root.findall("testsuite")[1]
    assert suite.get("name") == "core 9.9.9"
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("1", "1", "0")
    (case,) = suite.findall("testcase")
    error = case.find("error")
    assert error is not None
    assert error.get("message") == "could not check: Core 9.9.9 is not on the index"
    assert error.get("type") == "environment"
    assert error.text == err
    assert root.get("errors") == "1"


def test_junit_nothing_ran_is_not_green() -> None:
    checks = [check("user:store-contracts", Status.SKIPPED)]
    root = parse(render_junit(report(run("1.4.61", checks)), now=NOW))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    assert "no contract ran" in (suite.findtext("testcase/error") or "")


def test_junit_escapes_markup_and_forbidden_characters() -> None:
    nasty = 'a < b & "c" ]]> \x1b[31mred\x1b[0m \x00 \ud800 \ufffe tab\tend'
    checks = [check("weird<&>id", Status.FAILED, subject="Feed\x07back", rule="FIELD_TYPE_CHANGED", message=nasty)]
    xml = render_junit(report(run("git:feature/x", checks)), now=NOW)
    root = parse(xml)
    case = root.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == "weird<&>id"
    assert case.get("classname") == "Feed\\x07back"
    failure = case.find("failure")
    assert failure is not None
    text = failure.text or ""
    assert 'a < b & "c" ]]>' in text
    assert "\\x1b[31mred" in text and "\\x00" in text and "\\ud800" in text and "\\ufffe" in text
    assert "tab\tend" in text
    assert xml_safe("ok\n\r\t") == "ok\n\r\t"


# --- Markdown ---------------------------------------------------------------------------------------


def _markdown_tree(md: str) -> list[str]:
    """The document parsed by a CommonMark/GFM parser: the token types, so a broken table or list shows."""
    from markdown_it import MarkdownIt

    return [token.type for token in MarkdownIt("commonmark").enable("table").parse(md)]


def test_markdown_compatible_single_run() -> None:
    md = render_markdown(report(run("1.4.61", PASSING)))
    lines = md.splitlines()
    assert lines[0] == "### contract-check: COMPATIBLE"
    assert "**Store:** `market-data-store 0.6.73`" in md
    assert "declares `market-data-core>=1.4.61,<2.0.0`" in md
    # the passes are collapsed, as a table inside <details>
    assert "<details><summary>3 checks passed</summary>" in md
    assert "| is-a-core-event | FeedbackEvent | assertion |" in md
    assert "- **FAIL**" not in md  # INFO rows are not findings
    assert "**Counts:** 3 passed, 0 failed, 0 errors, 0 warnings · **exit code 0**" in md
    assert "table_open" in _markdown_tree(md) and "html_block" in _markdown_tree(md)


def test_markdown_broken_lists_causes_first_with_rule_and_severity() -> None:
    md = render_markdown(report(run("1.4.60", FAILING)))
    assert md.startswith("### contract-check: BROKEN\n")
    first_cause, passes = md.index("- **FAIL**"), md.index("<details>")
    assert first_cause < passes  # failures and warnings before the passes
    assert "- **FAIL** `FIELD_REMOVED [ERR]` field \\`ts\\` removed was: number (required)" in md or (
        "- **FAIL** `FIELD_REMOVED [ERR]` field `ts` removed was: number (required)" in md
    )
    assert "  - check: `schema:FeedbackEvent`" in md
    assert "- **WARN** `ENUM_VALUE_ADDED [WARN]`" in md
    assert "1 failed, 0 errors, 1 warning" in md and "**exit code 1**" in md
    assert "bullet_list_open" in _markdown_tree(md)


def test_markdown_groups_one_cause_that_broke_several_checks() -> None:
    same = "ValidationError: 1 validation error for FeedbackEvent\nqueue_size\n  Input should be greater than 0"
    checks = [
        check("feedback.drained-queue", Status.FAILED, message=same),
        check("backpressure.serialises-as-string", Status.FAILED, subject="BackpressureLevel", message=same),
        check("payload.golden.FeedbackEvent", Status.FAILED, layer=Layer.PAYLOAD, message="golden payload 0: " + same),
    ]
    md = render_markdown(report(run("1.4.60", checks)))
    assert md.count("- **FAIL**") == 1  # one cause, not three copies of one ValidationError
    assert (
        "3 checks: `feedback.drained-queue`, `backpressure.serialises-as-string`, `payload.golden.FeedbackEvent`" in md
    )


def test_markdown_cells_escape_pipes_newlines_and_html() -> None:
    assert cell("a|b\nc\r\nd <script>") == "a\\|b<br>c<br>d &lt;script&gt;"
    ok = check("x|y", rule="TYPE_WIDENED", severity=Severity.INFO, layer=Layer.SCHEMA, message="int | str\nnow: str")
    md = render_markdown(report(run("1.4.61", [ok, check("z")])))
    row = next(line for line in md.splitlines() if line.startswith("| x\\|y"))
    assert "int \\| str<br>now: str" in row
    assert row.count(" | ") == 3  # four cells, none split by the text
    assert "<script>" not in render_markdown(report(run("1.4.61", [check("a", Status.FAILED, message="<script>")])))


def test_markdown_several_runs_one_grid_and_details_collapsed() -> None:
    rep = report(
        run("1.4.59", PASSING),
        run("1.4.60", FAILING),
        run("9.9.9", error="not on the index\nnearest: 1.4.61"),
    )
    md = render_markdown(rep)
    assert md.startswith("### contract-check: COULD NOT CHECK\n")
    grid = [line for line in md.splitlines() if line.startswith("| `")]
    assert (
        len(grid) == 3 and "**COMPATIBLE**" in grid[0] and "**BROKEN**" in grid[1] and "**COULD NOT CHECK**" in grid[2]
    )
    assert "<details><summary>core 1.4.60: BROKEN</summary>" in md
    assert "<details><summary>core 9.9.9: COULD NOT CHECK</summary>" in md
    assert "nearest: 1.4.61" in md
    assert "**exit code 3**" in md


def test_markdown_stays_under_the_step_summary_limit_for_any_number_of_refs() -> None:
    many = [run(f"1.{i}.0", FAILING) for i in range(3000)]
    md = render_markdown(report(*many))
    assert len(md.encode()) <= 1_000_000
    assert "details are not shown: the step summary is limited to 1 MiB" in md or "cut to fit" in md
    assert md.rstrip().endswith("**exit code 1**") or "cut to fit" in md


# --- GitHub Actions ---------------------------------------------------------------------------------


def test_escaping_follows_the_actions_toolkit() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext%3A a%2Cb"
    assert group("core 1.4.61: 50%") == "::group::core 1.4.61: 50%25"
    assert endgroup() == "::endgroup::"


def test_annotations_escape_title_and_message() -> None:
    bad = check(
        "schema:Feed,back",
        Status.FAILED,
        rule="CONSTRAINT_TIGHTENED",
        severity=Severity.ERR,
        message="capacity: gt 0 -> gt 1 (100% of drained queues)\r\nsecond line",
    )
    (line,) = annotations(report(run("1.4.61", [bad])))
    head, _, message = line.partition("::")[2].partition("::")
    assert head == (
        "error title=contract-check core 1.4.61%3A FeedbackEvent schema%3AFeed%2Cback CONSTRAINT_TIGHTENED [ERR]"
    )
    assert message == "CONSTRAINT_TIGHTENED: capacity: gt 0 -> gt 1 (100%25 of drained queues)%0D%0Asecond line"
    assert "\n" not in line and "\r" not in line


def test_annotations_errors_first_then_warnings_and_run_errors() -> None:
    rep = report(run("1.4.60", FAILING), run("9.9.9", error="not on the index"))
    lines = annotations(rep)
    assert [line.split(" ", 1)[0] for line in lines] == ["::error", "::error", "::warning"]
    assert "could not check::not on the index" in lines[1]
    assert "ENUM_VALUE_ADDED" in lines[2]


def test_annotations_limit_then_count() -> None:
    many = [check(f"c{i}", Status.FAILED, rule="FIELD_REMOVED", message=f"m{i}") for i in range(14)]
    lines = annotations(report(run("1.4.61", many)), limit=10)
    assert len(lines) == 11
    assert all(line.startswith("::error ") for line in lines[:10])
    assert "m9" in lines[9]
    assert lines[10] == "::warning::4 more contract-check findings not shown; see the step summary"
    assert annotations(report(run("1.4.61", many[:3])), limit=3)[-1].startswith("::error ")
    assert annotations(report(run("1.4.61", PASSING))) == []


def test_publish_writes_summary_outputs_and_annotations(tmp_path: Path) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("earlier step\n", encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    out = io.StringIO()
    rep = report(run("1.4.60", FAILING))
    publish(rep, env, tmp_path / "contract-report.json", stream=out)

    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### contract-check: BROKEN\n")
    assert "FIELD_REMOVED" in text
    assert output.read_text(encoding="utf-8") == (
        f"verdict=broken\nexit-code=1\nreport={tmp_path / 'contract-report.json'}\n"
    )
    printed = out.getvalue().splitlines()
    assert printed[0].startswith("::error title=") and printed[1].startswith("::warning title=")

    publish(report(run("1.4.61", PASSING)), env, None, stream=out)  # appends, never truncates
    assert output.read_text(encoding="utf-8").endswith("verdict=compatible\nexit-code=0\n")
    assert summary.read_text(encoding="utf-8").count("### contract-check:") == 2


def test_publish_multiline_output_value_uses_delimiter(tmp_path: Path) -> None:
    output = tmp_path / "output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}
    publish(report(run("9.9.9", error="boom")), env, Path("odd\nname.json"), stream=io.StringIO())
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["verdict=error", "exit-code=3"]
    assert lines[2].startswith("report<<ghadelimiter_")
    assert lines[3:5] == ["odd", "name.json"]
    assert lines[5] == lines[2].split("<<", 1)[1]


@pytest.mark.parametrize("value", [None, "false", "1"])
def test_publish_outside_github_actions_does_nothing(tmp_path: Path, value: str | None) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(tmp_path / "out")}
    if value is not None:
        env["GITHUB_ACTIONS"] = value
    out = io.StringIO()
    publish(report(run("1.4.60", FAILING)), env, None, stream=out)
    assert not summary.exists() and not (tmp_path / "out").exists()
    assert out.getvalue() == ""


# --- uv's install output, folded in the log -----------------------------------------------------------

UV_LOG = "Resolved 3 packages in 12ms\nInstalled 3 packages in 4ms\n + cc-fixture-core==1.0.0\n"


def test_install_log_group_folds_the_log_with_commands_switched_off() -> None:
    log = UV_LOG + "::endgroup::\n::error::planted by a build backend\n::add-mask::x\n"
    lines = install_log_group("git:feature/50%", log).splitlines()
    assert lines[0] == "::group::uv install for git:feature/50%25"
    token = lines[1].removeprefix("::stop-commands::")
    assert lines[1].startswith("::stop-commands::") and len(token) > 30
    assert lines[2:-2] == log.strip().splitlines()  # verbatim: the planted commands are inert text here
    assert lines[-2:] == [f"::{token}::", "::endgroup::"]
    assert token not in log and install_log_group("1.0.0", log).splitlines()[1] != lines[1]  # fresh per group


def test_install_log_group_redacts_credentials() -> None:
    text = install_log_group(
        "name @ git+https://user:s3cr3t@host/core.git@v1",
        "   Updating git+https://oauth2:s3cr3t@host/core.git (v1)\n",
    )
    assert "s3cr3t" not in text
    assert "::group::uv install for name @ git+https://***@host/core.git@v1" in text
    assert "Updating git+https://***@host/core.git (v1)" in text


def test_print_install_logs_in_report_order_only_for_runs_with_a_log() -> None:
    rep = report(run("1.4.59", PASSING), run("9.9.9", error="not on the index"), run("1.4.61", PASSING))
    logs = {"1.4.61": "log of 1.4.61\n", "1.4.59": "log of 1.4.59\n", "elsewhere": "not a run of this report"}
    out = io.StringIO()
    print_install_logs(rep, logs, {"GITHUB_ACTIONS": "true"}, stream=out)
    printed = out.getvalue().splitlines()
    assert [line for line in printed if line.startswith("::group::")] == [
        "::group::uv install for 1.4.59",
        "::group::uv install for 1.4.61",
    ]
    assert printed.count("::endgroup::") == 2
    assert printed.index("log of 1.4.59") < printed.index("log of 1.4.61")
    assert "not a run of this report" not in out.getvalue()


@pytest.mark.parametrize("value", [None, "false", "1"])
def test_print_install_logs_outside_github_actions_prints_nothing(value: str | None) -> None:
    env = {} if value is None else {"GITHUB_ACTIONS": value}
    out = io.StringIO()
    print_install_logs(report(run("1.4.61", PASSING)), {"1.4.61": UV_LOG}, env, stream=out)
    assert out.getvalue() == ""


def test_trim_log_keeps_the_end_redacted() -> None:
    text = "\n".join(f"line {i} https://u:s3cr3t@host/simple" for i in range(250)) + "\n"
    lines = trim_log(text).splitlines()
    assert len(lines) == 201 and lines[0] == "[50 earlier lines not shown]"
    assert lines[1].startswith("line 50 ") and lines[-1] == "line 249 https://***@host/simple"
    assert trim_log(UV_LOG) == UV_LOG.strip()
