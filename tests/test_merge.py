"""`contract-check merge`: joining shard reports from a CI matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_check.errors import UsageError
from contract_check.merge import MergeError, merge_reports
from contract_check.models import (
    SCHEMA_VERSION,
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
)


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
        runs.append(Run(core_ref=ref, core_version=ref, status=run_status(code), exit_code=code, checks=checks))
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
