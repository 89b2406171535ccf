"""Matrix mode: range expansion, parallel runs equal to sequential ones, worst exit code, result cache."""

from __future__ import annotations

import dataclasses

import pytest
from packaging.version import Version

from contract_check import config
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.run import matrix
from contract_check.run.settings import ref_selection
from contract_check.sources import index
from contract_check.sources.index import Release
from fixturepkgs import CORE_DIST, write_store_project


def _flags(world):
    return ["--core-package", CORE_DIST, "--find-links", world.find_links, "--store", world.store_wheel]


def _verdicts(report):
    """What a run concluded, independent of timing and of whether it came from the cache."""
    return {
        r["core_ref"]: (
            r["exit_code"],
            r["core_version"],
            sorted((c["id"], c["status"], c["rule"]) for c in r["checks"]),
        )
        for r in report["runs"]
    }


# ------------------------------------------------------------------------------------------ range expansion


FOUND = [
    Release(Version("1.3.9")),
    Release(Version("1.4.0")),
    Release(Version("1.4.1"), yanked=True),
    Release(Version("1.4.2rc1")),
    Release(Version("1.4.2")),
    Release(Version("2.0.0")),
]


def _options(**kw):
    return config.Options(store="market-data-store==0.6.73", core_package="market-data-core", **kw)


def _expand(options, declared=None):
    """Pure expansion: the index listing is given."""
    return matrix.expand_refs(ref_selection(options), declared=declared, releases=lambda: FOUND)


def test_range_skips_prereleases_and_yanked(caplog):
    refs = _expand(_options(core_range=">=1.4,<2"))
    assert refs == ["1.4.0", "1.4.2"]
    assert "skipping yanked releases: 1.4.1" in caplog.text


def test_range_with_pre_includes_prereleases():
    refs = _expand(_options(core_range=">=1.4,<2", pre=True))
    assert refs == ["1.4.0", "1.4.2rc1", "1.4.2"]


def test_explicit_refs_come_first_and_duplicates_drop():
    options = _options(core_refs=("1.4.2", "git:main"), core_range=">=1.4.2")
    assert _expand(options) == ["1.4.2", "git:main", "2.0.0"]


def test_refs_that_install_the_same_release_are_checked_once(caplog):
    """Seen: '--since-pin --core-ref latest' checked 1.4.61 twice (once as 'latest', once from the range)."""
    caplog.set_level("INFO", logger="contract_check")
    assert _expand(_options(core_refs=("latest",), since_pin=True), declared=">=1.4.2,<2") == ["latest", "1.4.2"]
    assert "2.0.0 installs the same release as latest (2.0.0): checked once" in caplog.text
    assert _expand(_options(core_refs=("v1.4.2", "1.4.2", "git:main", "V1.4.2.0"))) == ["v1.4.2", "git:main"]
    assert _expand(_options(core_refs=("1.4.2", "latest"), core_range=">=1.4.2")) == ["1.4.2", "latest"]


def test_without_a_listing_latest_is_only_itself():
    def offline() -> list[Release]:
        raise EnvironmentProblem("could not reach the package index", kind="network")

    options = _options(core_refs=("latest", "2.0.0", "v2.0.0"))
    assert matrix.expand_refs(ref_selection(options), declared=None, releases=offline) == ["latest", "2.0.0"]


def test_since_pin_uses_the_declared_lower_bound():
    options = _options(since_pin=True)
    # from the pinned lower bound up to the newest release, even past the declared upper bound
    assert _expand(options, declared=">=1.4.2,<2.0.0") == ["1.4.2", "2.0.0"]


def test_bad_range_and_empty_range():
    with pytest.raises(UsageError, match="not a version specifier"):
        _expand(_options(core_range="1.4+"))
    with pytest.raises(EnvironmentProblem, match="no release of market-data-core matches"):
        _expand(_options(core_range=">=9"))
    with pytest.raises(UsageError, match="no Core ref given"):
        _expand(_options())


def test_a_range_that_could_not_be_read_is_not_called_missing():
    with pytest.raises(UsageError, match="not known: it is read from the shared environment") as info:
        matrix.required_lower_bound(None, "market-data-core", flag="--since-pin", tip="use --core-range instead")
    assert "declares no lower bound" not in info.value.message
    with pytest.raises(UsageError, match="declares no lower bound on market-data-core \\(<2\\)"):
        matrix.required_lower_bound("<2", "market-data-core", flag="--since-pin", tip="t")
    assert str(matrix.required_lower_bound(">=1.4.2,<2", "market-data-core", flag="--since-pin", tip="t")) == "1.4.2"


def test_an_empty_range_offline_points_at_find_links():
    offline = _options(core_range=">=9", offline=True)
    with pytest.raises(EnvironmentProblem, match="no release of market-data-core matches") as info:
        _expand(offline)
    assert info.value.tip is not None and "--offline reads only --find-links" in info.value.tip


# ------------------------------------------------------------------------------------- real runs (slow)


@pytest.mark.slow
def test_range_on_find_links(run_cli, fixture_world):
    result = run_cli("--core-range", ">=1.0,<1.3", *_flags(fixture_world))
    assert result.code == 0, result.output
    assert [r["core_ref"] for r in result.report["runs"]] == ["1.0.0", "1.1.0"]
    with_pre = run_cli("--core-range", ">=1.0,<1.3", "--pre", *_flags(fixture_world))
    assert [r["core_ref"] for r in with_pre.report["runs"]] == ["1.0.0", "1.1.0", "1.2.0rc1"]
    assert "Core ref" in with_pre.stdout and "1.2.0rc1" in with_pre.stdout  # the matrix table


@pytest.mark.slow
def test_parallel_equals_sequential(run_cli, fixture_world):
    v = fixture_world.variant_versions
    # baseline first, then a same-size edit ("hard" -> "HARD"): a clone of the shared environment must never
    # hand the second run the first run's Core or its bytecode
    refs = ",".join(["1.0.0", v["enum_value_changed"], v["queue_size_positive"], v["enum_value_added"], "1.3.0"])
    sequential = run_cli("--core-ref", refs, "--jobs", "1", "--no-cache", *_flags(fixture_world))
    parallel = run_cli("--core-ref", refs, "--jobs", "2", "--no-cache", *_flags(fixture_world))
    assert sequential.code == parallel.code == 1, parallel.output
    assert _verdicts(sequential.report) == _verdicts(parallel.report)
    codes = {r["core_ref"]: r["exit_code"] for r in parallel.report["runs"]}
    assert codes == {
        "1.0.0": 0,
        v["enum_value_changed"]: 1,
        v["queue_size_positive"]: 1,
        v["enum_value_added"]: 0,
        "1.3.0": 1,
    }
    changed = [c for r in parallel.report["runs"] if r["core_ref"] == v["enum_value_changed"] for c in r["checks"]]
    assert any(c["rule"] == "ENUM_VALUE_CHANGED" for c in changed)
    assert [r["core_ref"] for r in parallel.report["runs"]] == refs.split(",")  # order is the order asked


@pytest.mark.slow
def test_mixed_matrix_worst_exit_code(run_cli, fixture_world):
    result = run_cli("--core-ref", "1.0.0,1.3.0,1.7.7", "--jobs", "2", *_flags(fixture_world))
    assert [r["exit_code"] for r in result.report["runs"]] == [0, 1, 3]
    assert result.code == 3 == result.report["summary"]["exit_code"]
    assert "1.7.7 is not on the index" in result.stdout


@pytest.mark.slow
def test_result_cache_hits_misses_and_no_cache(run_cli, fixture_world, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(tmp_path / "cache"))
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "test_mine.py").write_text("def test_mine():\n    assert True\n")
    args = ["--core-ref", "1.0.0,1.1.0", "--contracts", extra, *_flags(fixture_world)]
    first = run_cli(*args)
    assert first.code == 0 and [r["cached"] for r in first.report["runs"]] == [False, False], first.output
    second = run_cli(*args)
    assert [r["cached"] for r in second.report["runs"]] == [True, True]
    assert _verdicts(first.report) == _verdicts(second.report)
    assert "cached" in second.stdout
    # any input that decides a verdict changes the key: here, the user's contracts
    (extra / "test_mine.py").write_text("def test_mine():\n    assert False, 'changed'\n")
    third = run_cli(*args)
    assert third.code == 1 and [r["cached"] for r in third.report["runs"]] == [False, False]
    bypass = run_cli(*args, "--no-cache")
    assert [r["cached"] for r in bypass.report["runs"]] == [False, False] and bypass.code == 1


@pytest.mark.slow
@pytest.mark.parametrize("many", [["--core-range", ">=1.0,<1.4"], ["--core-ref", "1.0.0,1.1.0,1.3.0"]])
def test_a_single_ref_reuses_what_a_matrix_cached(run_cli, fixture_world, tmp_path, monkeypatch, many):
    """Seen: a single-ref run did not reuse the result a multi-ref run had cached. A range run built no shared
    environment (the Store's own Core range installs nothing here) and a single ref built one with its Core:
    the environment, and with it the result key, depended on which refs an invocation had."""
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(tmp_path / "cache"))
    matrix_run = run_cli(*many, *_flags(fixture_world))
    assert [(r["core_ref"], r["cached"]) for r in matrix_run.report["runs"]] == [
        ("1.0.0", False), ("1.1.0", False), ("1.3.0", False)
    ], matrix_run.output  # fmt: skip
    for ref in ("1.1.0", "1.3.0"):  # a compatible one and a broken one
        single = run_cli("--core-ref", ref, *_flags(fixture_world))
        assert only_cached(single), (ref, single.output)
        assert _verdicts(single.report)[ref] == _verdicts(matrix_run.report)[ref]
    again = run_cli(*many, *_flags(fixture_world))  # and the other way round
    assert [r["cached"] for r in again.report["runs"]] == [True, True, True], again.output
    assert _verdicts(again.report) == _verdicts(matrix_run.report)


def only_cached(result) -> bool:
    (run,) = result.report["runs"]
    return run["cached"] is True


@pytest.mark.slow
def test_since_pin_on_a_store_project(run_cli, fixture_world, tmp_path):
    v = fixture_world.variant_versions
    newest = sorted(v.values(), key=Version)[-4:]
    project = write_store_project(tmp_path / "store", core_range=f">={newest[0]},<2")
    result = run_cli(
        "--since-pin",
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        project,
        "--jobs",
        "2",
    )
    assert [r["core_ref"] for r in result.report["runs"]] == newest, result.output
    assert all(r["in_declared_range"] for r in result.report["runs"])


def test_range_against_a_real_index_page_with_yanked_files(tmp_path):
    """The listing side for real: a PEP 503 index on disk whose 1.4.1 is yanked (data-yanked)."""
    project = tmp_path / "simple" / "market-data-core"
    project.mkdir(parents=True)
    anchors = [
        ("market_data_core-1.4.0-py3-none-any.whl", ""),
        ("market_data_core-1.4.1-py3-none-any.whl", ' data-yanked="broken wheel"'),
        ("market_data_core-1.4.2rc1-py3-none-any.whl", ""),
        ("market_data_core-1.4.2.tar.gz", ""),
        ("market_data_core-2.0.0-py3-none-any.whl", ""),
    ]
    project.joinpath("index.html").write_text(
        "<html><body>" + "".join(f'<a href="../../files/{f}"{extra}>{f}</a>' for f, extra in anchors) + "</body></html>"
    )
    options = config.Options(
        store="market-data-store==0.6.73",
        core_package="market-data-core",
        core_range=">=1.4,<2",
        index_url=(tmp_path / "simple").as_uri(),
    )
    found = index.releases("market-data-core", options.index, uv="uv")
    assert matrix.expand_refs(ref_selection(options), declared=None, releases=lambda: found) == ["1.4.0", "1.4.2"]
    with_pre = dataclasses.replace(options, pre=True)
    assert matrix.expand_refs(ref_selection(with_pre), declared=None, releases=lambda: found) == [
        "1.4.0",
        "1.4.2rc1",
        "1.4.2",
    ]
