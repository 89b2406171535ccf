"""`contract-check merge`: joining shard reports from a CI matrix."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_check.errors import UsageError
from contract_check.models import (
    SCHEMA_VERSION,
    Artifact,
    Check,
    Layer,
    Report,
    Run,
    Status,
    StoreInfo,
    Tool,
    run_exit_code,
    run_status,
    summarise,
    worst,
)
from contract_check.report.merge import MergeError, merge_reports

DECLARED = ["is-a-core-event", "roundtrip"]  # the checks the shards' suite declares


def shard(
    *refs: str,
    failing: tuple[str, ...] = (),
    errors: tuple[str, ...] = (),
    store: str = "0.6.73",
    strict: bool = False,
) -> Report:
    runs = []
    for ref in refs:
        if ref in errors:
            runs.append(Run(core_ref=ref, status=Status.ERROR, exit_code=3, error=f"{ref} is not on the index"))
            continue
        status = Status.FAILED if ref in failing else Status.PASSED
        checks = [
            Check(id="is-a-core-event", subject="FeedbackEvent", layer=Layer.ASSERTION, status=Status.PASSED),
            Check(id="roundtrip", subject="FeedbackEvent", layer=Layer.ASSERTION, status=status, message="x"),
        ]
        code = run_exit_code(checks)
        runs.append(
            Run(
                core_ref=ref,
                core_version=ref,
                status=run_status(code),
                exit_code=code,
                checks=checks,
                declared_checks=DECLARED,
            )
        )
    return Report(
        tool=Tool(version="0.1.0", strict=strict),
        store=StoreInfo(spec=".", name="market-data-store", version=store),
        runs=runs,
        summary=summarise(runs),
    )


def write(tmp_path: Path, name: str, rep: Report) -> Path:
    path = tmp_path / name
    path.write_text(rep.model_dump_json(indent=2), encoding="utf-8")
    return path


def test_merge_three_shards_keeps_every_run_and_the_worst_exit_code(tmp_path: Path) -> None:
    paths = [
        write(tmp_path, "report-1.4.59.json", shard("1.4.59")),
        write(tmp_path, "report-1.4.60.json", shard("1.4.60", failing=("1.4.60",))),
        write(tmp_path, "report-9.9.9.json", shard("9.9.9", errors=("9.9.9",))),
    ]
    merged = merge_reports(paths)
    assert [r.core_ref for r in merged.runs] == ["1.4.59", "1.4.60", "9.9.9"]
    assert merged.store.name == "market-data-store" and merged.store.version == "0.6.73"
    assert merged.summary.passed == 3
    assert merged.summary.failed == 1
    assert merged.summary.errors == 1  # the run that could not check
    assert merged.summary.exit_code == 3  # environment error outranks a broken contract
    assert merged.schema_version == SCHEMA_VERSION
    # the merged report is itself a valid report: it round-trips
    assert Report.model_validate_json(merged.model_dump_json()) == merged


def test_merge_broken_beats_compatible_and_shards_may_hold_several_refs(tmp_path: Path) -> None:
    merged = merge_reports(
        [
            write(tmp_path, "a.json", shard("1.4.59", "1.4.60")),
            write(tmp_path, "b.json", shard("1.4.61", failing=("1.4.61",))),
            write(tmp_path, "c.json", shard("latest")),
        ]
    )
    assert len(merged.runs) == 4
    assert merged.summary.exit_code == 1
    assert (merged.summary.passed, merged.summary.failed) == (7, 1)


def test_merge_keeps_a_shard_exit_code_that_has_no_run(tmp_path: Path) -> None:
    usage = shard().model_copy(update={"summary": shard().summary.model_copy(update={"exit_code": 2})})
    merged = merge_reports([write(tmp_path, "a.json", shard("1.4.61")), write(tmp_path, "b.json", usage)])
    assert merged.summary.exit_code == 2


def test_merge_of_shards_without_runs_is_not_compatible(tmp_path: Path) -> None:
    assert merge_reports([write(tmp_path, "a.json", shard())]).summary.exit_code == 3


def test_merge_strict_if_any_shard_was_strict(tmp_path: Path) -> None:
    merged = merge_reports([write(tmp_path, "a.json", shard("1")), write(tmp_path, "b.json", shard("2", strict=True))])
    assert merged.tool.strict is True


def test_no_inputs() -> None:
    with pytest.raises(MergeError, match="no shard reports"):
        merge_reports([])


def test_merge_error_is_a_value_error_and_a_usage_error() -> None:
    assert issubclass(MergeError, ValueError) and issubclass(MergeError, UsageError)
    assert MergeError("x").exit_code == 2


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "report-missing.json"
    with pytest.raises(MergeError, match=r"report-missing\.json: cannot read the report: No such file"):
        merge_reports([missing])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"schema_version": 1, "runs": [', r"not valid JSON \(Expecting value at line 1 column 32\)"),
        ("", r"not valid JSON"),
        ("[1, 2]", r"not a contract-check report \(a JSON list, not an object\)"),
        (
            '{"schema_version": 1, "runs": []}',
            r"not a valid contract-check report: .*first at tool: Field required",
        ),
    ],
)
def test_invalid_json_or_shape(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    good = write(tmp_path, "good.json", shard("1.4.61"))
    with pytest.raises(MergeError, match=rf"bad\.json: {expected}"):
        merge_reports([good, bad])


def test_other_schema_version_names_both(tmp_path: Path) -> None:
    data = json.loads(shard("1.4.61").model_dump_json())
    data["schema_version"] = 3
    future = tmp_path / "future.json"
    future.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MergeError, match=r"future\.json: report schema_version 3, .* reads schema_version 1-2") as info:
        merge_reports([future])
    assert info.value.tip is not None


def test_duplicate_core_ref_names_ref_and_both_files(tmp_path: Path) -> None:
    a = write(tmp_path, "shard-a.json", shard("1.4.59", "1.4.60"))
    b = write(tmp_path, "shard-b.json", shard("1.4.61"))
    c = write(tmp_path, "shard-c.json", shard("1.4.60"))
    with pytest.raises(MergeError) as info:
        merge_reports([a, b, c])
    message = str(info.value)
    assert "'1.4.60'" in message
    assert str(a) in message and str(c) in message and str(b) not in message


def test_different_stores_name_both(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", shard("1.4.59"))
    b = write(tmp_path, "b.json", shard("1.4.60", store="0.6.72"))
    with pytest.raises(MergeError, match="different Stores") as info:
        merge_reports([a, b])
    message = str(info.value)
    assert "market-data-store 0.6.73" in message and "market-data-store 0.6.72" in message
    assert str(a) in message and str(b) in message


# ------------------------------------------------------------------- Store facts: cached and fresh runs


def _with_store_facts(rep: Report, *, header: str | None, runs: str | None, cached: bool = False) -> Report:
    """A shard whose header says Store version *header* and whose runs carry *runs* (a cached run carries the
    facts of the run it repeats; an older report's runs carry none)."""
    facts = {"store_version": runs, "declared_core": ">=1.4.61,<2.0.0" if runs else None, "cached": cached}
    return rep.model_copy(
        update={
            "store": rep.store.model_copy(update={"version": header}),
            "runs": [run.model_copy(update=facts) for run in rep.runs],
        }
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"header": "0.6.73", "runs": "0.6.73"}, {"header": "0.6.73", "runs": "0.6.73", "cached": True}),
        ({"header": "0.6.73", "runs": "0.6.73"}, {"header": None, "runs": "0.6.73", "cached": True}),
        ({"header": None, "runs": None, "cached": True}, {"header": "0.6.73", "runs": "0.6.73"}),  # older cache hit
        ({"header": None, "runs": None, "cached": True}, {"header": None, "runs": None, "cached": True}),
    ],
)
def test_merge_joins_cached_and_fresh_shards_of_one_store(tmp_path: Path, first: dict, second: dict) -> None:
    a = write(tmp_path, "a.json", _with_store_facts(shard("1.4.59"), **first))
    b = write(tmp_path, "b.json", _with_store_facts(shard("1.4.60"), **second))
    merged = merge_reports([a, b])
    assert [r.core_ref for r in merged.runs] == ["1.4.59", "1.4.60"]
    assert [r.cached for r in merged.runs] == [first.get("cached", False), second.get("cached", False)]
    known = {v for facts in (first, second) for v in (facts["header"], facts["runs"]) if v}
    assert merged.store.version == (known.pop() if known else None)  # filled in from any shard that knew it
    assert merged.store.name == "market-data-store"


def test_merge_fills_the_store_from_a_later_shard(tmp_path: Path) -> None:
    unknown = shard("1.4.59").model_copy(update={"store": StoreInfo(spec=".", name=None, version=None)})
    a = write(tmp_path, "a.json", unknown)  # e.g. a shard whose Store did not build: nothing known
    b = write(tmp_path, "b.json", _with_store_facts(shard("1.4.60"), header="0.6.73", runs="0.6.73"))
    merged = merge_reports([a, b])
    assert (merged.store.name, merged.store.version, merged.store.declared_core) == (
        "market-data-store",
        "0.6.73",
        ">=1.4.61,<2.0.0",
    )


def test_merge_refuses_runs_that_report_different_store_versions(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", _with_store_facts(shard("1.4.59"), header=None, runs="0.6.73", cached=True))
    b = write(tmp_path, "b.json", _with_store_facts(shard("1.4.60"), header=None, runs="0.6.72"))
    with pytest.raises(MergeError, match="different Stores") as info:
        merge_reports([a, b])
    message = str(info.value)
    assert "0.6.73" in message and "0.6.72" in message and str(a) in message and str(b) in message


def test_merge_refuses_differently_named_stores_and_compares_spellings_canonically(tmp_path: Path) -> None:
    other = shard("1.4.60").model_copy(update={"store": StoreInfo(spec=".", name="other-store", version="0.6.73")})
    a, b = write(tmp_path, "a.json", shard("1.4.59")), write(tmp_path, "b.json", other)
    with pytest.raises(MergeError, match="different Stores"):
        merge_reports([a, b])
    spelled = shard("1.4.61").model_copy(
        update={"store": StoreInfo(spec=".", name="Market_Data.Store", version="0.6.73")}
    )
    c = write(tmp_path, "c.json", spelled)
    assert len(merge_reports([a, c]).runs) == 2


# ------------------------------------------------------------ every verdict is recomputed, nothing trusted


def _row(check_id: str, status: Status, layer: Layer = Layer.ASSERTION, rule: str | None = None) -> Check:
    return Check(id=check_id, subject="FeedbackEvent", layer=layer, status=status, rule=rule, message="m")


def _run(ref: str, checks: list[Check], code: int, **extra: object) -> Run:
    fields: dict[str, object] = {"declared_checks": DECLARED, "requirement": f"market-data-core=={ref}", **extra}
    return Run(core_ref=ref, status=run_status(code), exit_code=code, checks=checks, **fields)  # type: ignore[arg-type]


def _report(*runs: Run, code: int | None = None) -> Report:
    summary = summarise(list(runs))
    if code is not None:
        summary = summary.model_copy(update={"exit_code": code})
    return Report(tool=Tool(version="0.1.0"), store=StoreInfo(spec=".", name="market-data-store"), runs=list(runs),
                  summary=summary)  # fmt: skip


def test_a_shard_that_calls_failed_checks_compatible_merges_broken(tmp_path: Path) -> None:
    failed = [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.PASSED)]
    failed += [_row(f"schema.FeedbackEvent.f{i}.FIELD_REMOVED", Status.FAILED, Layer.SCHEMA) for i in range(7)]
    lying = _report(_run("1.4.61", failed, 0), code=0)  # 7 failed checks, exit_code 0, status passed
    merged = merge_reports([write(tmp_path, "a.json", lying)])
    assert merged.summary.exit_code == 1 and (merged.summary.passed, merged.summary.failed) == (2, 7)
    (run,) = merged.runs
    assert (run.exit_code, run.status) == (1, Status.FAILED)
    assert any("a.json: run '1.4.61' said exit 0" in note and "recomputed" in note for note in merged.summary.notes)


def test_a_run_without_checks_is_never_compatible(tmp_path: Path) -> None:
    empty = _report(_run("1.4.61", [], 0), code=0)
    merged = merge_reports([write(tmp_path, "a.json", empty)])
    assert merged.summary.exit_code == 3 and merged.runs[0].exit_code == 3
    assert (merged.runs[0].error or "").startswith("could not check: no contract ran")


def test_a_run_missing_a_declared_check_could_not_check(tmp_path: Path) -> None:
    partial = _report(_run("1.4.61", [_row("is-a-core-event", Status.PASSED)], 0))
    merged = merge_reports([write(tmp_path, "a.json", partial)])
    assert merged.summary.exit_code == 3
    assert merged.runs[0].error_kind == "incomplete" and "no result: roundtrip" in (merged.runs[0].error or "")


@pytest.mark.parametrize("code", [42, 255, -1, 2])
def test_an_exit_code_no_run_has_is_refused(tmp_path: Path, code: int) -> None:
    odd = _report(_run("1.4.61", [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.PASSED)], code))
    with pytest.raises(MergeError, match=rf"a\.json: run '1\.4\.61' cannot be recomputed: exit code {code}"):
        merge_reports([write(tmp_path, "a.json", odd)])


def test_a_shard_summary_with_an_exit_code_no_command_has_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match=r"b\.json: exit code 42"):
        merge_reports([write(tmp_path, "a.json", shard("1.4.61")), write(tmp_path, "b.json", _report(code=42))])


def test_a_fake_interrupt_is_judged_by_its_checks_and_a_real_one_stays(tmp_path: Path) -> None:
    passed = [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.FAILED)]
    fake = _run("1.4.60", passed, 130, error="interrupted: the sandbox was removed", error_kind="interrupted")
    real = Run(core_ref="1.4.61", status=Status.ERROR, exit_code=130, error="not run: interrupted",
               error_kind="interrupted")  # fmt: skip
    merged = merge_reports([write(tmp_path, "a.json", _report(fake)), write(tmp_path, "b.json", _report(real))])
    assert [r.exit_code for r in merged.runs] == [1, 130]
    assert merged.runs[0].error_kind is None and merged.summary.exit_code == 130


def test_a_versions_spellings_and_requirements_are_one_core(tmp_path: Path) -> None:
    checks = [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.PASSED)]
    v = _run("v1.4.61", checks, 0, requirement="market-data-core==1.4.61")
    plain = _run("1.4.61", checks, 0, requirement="market-data-core==1.4.61")
    with pytest.raises(MergeError, match=r"'1\.4\.61' was checked twice: in .*a\.json \(as 'v1\.4\.61'"):
        merge_reports([write(tmp_path, "a.json", _report(v)), write(tmp_path, "b.json", _report(plain))])


def test_the_same_commit_under_two_refs_is_one_core(tmp_path: Path) -> None:
    checks = [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.PASSED)]
    commit = Artifact(origin="git", location="file:///core.git", digest="git:" + "a" * 40)
    tag = _run("git:v1.0.0", checks, 0, requirement="core @ git+file:///core.git@v1.0.0", artifact=commit)
    branch = _run("git:main", checks, 0, requirement="core @ git+file:///core.git@main", artifact=commit)
    with pytest.raises(MergeError, match="checked twice"):
        merge_reports([write(tmp_path, "a.json", _report(tag)), write(tmp_path, "b.json", _report(branch))])


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_numbers_that_are_not_finite_are_refused(tmp_path: Path, number: str) -> None:
    text = shard("1.4.61").model_dump_json().replace('"duration_s":0.0', f'"duration_s":{number}', 1)
    assert number in text
    (tmp_path / "a.json").write_text(text, encoding="utf-8")
    with pytest.raises(MergeError, match=r"a\.json: not a valid contract-check report: .*finite number"):
        merge_reports([tmp_path / "a.json"])


def test_a_compatible_run_that_does_not_record_its_declared_checks_is_refused(tmp_path: Path) -> None:
    checks = [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.PASSED)]
    older = _report(_run("1.4.61", checks, 0, declared_checks=None))
    with pytest.raises(MergeError, match="does not record which checks its suite declares"):
        merge_reports([write(tmp_path, "a.json", older)])
    broken = _report(_run("1.4.60", [_row("roundtrip", Status.FAILED)], 1, declared_checks=None))
    assert merge_reports([write(tmp_path, "b.json", broken)]).summary.exit_code == 1  # broken needs no list


def test_shards_of_different_suites_are_refused(tmp_path: Path) -> None:
    checks = [_row("is-a-core-event", Status.PASSED), _row("roundtrip", Status.PASSED)]
    other = _report(_run("1.4.60", checks, 0, declared_checks=["is-a-core-event"]))
    with pytest.raises(MergeError, match="different suites"):
        merge_reports([write(tmp_path, "a.json", shard("1.4.61")), write(tmp_path, "b.json", other)])


def test_an_accepted_import_failure_is_a_failure_again(tmp_path: Path) -> None:
    accepted = [_row(i, Status.ACCEPTED, rule="IMPORT_FAILED") for i in DECLARED]
    merged = merge_reports([write(tmp_path, "a.json", _report(_run("1.4.61", accepted, 0)))])
    assert merged.summary.exit_code == 1 and merged.summary.accepted == 0 and merged.summary.failed == 2
    assert all("import failure is never accepted" in (c.note or "") for c in merged.runs[0].checks)


# ------------------------------------------------ random shards: the merged verdict is the recomputed one

_STATUSES = st.sampled_from([Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED, Status.ACCEPTED])
_CLAIMS = st.sampled_from([0, 1, 3, 4, 130])


def _expected(run: Run) -> int:
    """What a fresh run with these checks would say, written out independently of the tool's code."""
    if not run.checks:
        return run.exit_code if run.exit_code in (3, 4, 130) and run.error else 3
    if run.exit_code == 3 and run.error:
        return 3  # a run's own "could not check" stands
    builtin = {c.id: c.status for c in run.checks if c.layer is not Layer.USER}
    ran = {Status.PASSED, Status.FAILED, Status.ERROR, Status.ACCEPTED}
    if any(c.status in (Status.FAILED, Status.ERROR) for c in run.checks):
        return 1
    if builtin and not any(s is Status.PASSED for s in builtin.values()):
        return 1 if any(s is Status.ACCEPTED for s in builtin.values()) else 3
    if any(builtin.get(i) not in ran for i in DECLARED):
        return 3
    return 0


@st.composite
def _runs(draw: st.DrawFn, ref: str) -> Run:
    if draw(st.integers(0, 5)) == 0:  # a run that could not check at all
        return Run(core_ref=ref, status=Status.ERROR, exit_code=3, error="not on the index", requirement=ref)
    ids = draw(st.lists(st.sampled_from([*DECLARED, "extra"]), unique=True, max_size=3))
    checks = [_row(i, draw(_STATUSES)) for i in ids]
    checks += [_row(f"user::{n}", draw(_STATUSES), Layer.USER) for n in range(draw(st.integers(0, 1)))]
    return _run(ref, checks, run_exit_code(checks))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_random_shards_merge_to_the_recomputed_verdict_whatever_they_claim(
    data: st.DataObject, sizes: list[int]
) -> None:
    """Tampered exit codes and statuses of runs with results change nothing. A run without results (it could
    not check at all) keeps what it says of itself, which is never a verdict on Core."""
    shards, refs = [], iter(f"1.{n}.0" for n in range(100))
    for size in sizes:
        shards.append([data.draw(_runs(next(refs))) for _ in range(size)])
    expected = worst([_expected(run) for runs in shards for run in runs])
    tampered = [
        [r.model_copy(update={"exit_code": c, "status": data.draw(_STATUSES)}) if r.checks and data.draw(st.booleans())
         else r for r, c in zip(runs, [data.draw(_CLAIMS) for _ in runs], strict=True)]
        for runs in shards
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for truth in (shards, tampered):
            paths = [write(Path(tmp), f"{i}.json", _report(*runs)) for i, runs in enumerate(truth)]
            merged = merge_reports(paths)
            assert merged.summary.exit_code == expected, [(r.core_ref, r.exit_code, r.checks) for r in merged.runs]
            assert [r.exit_code for r in merged.runs] == [_expected(r) for runs in shards for r in runs]
