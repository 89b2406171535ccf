"""The upgrade answer, end to end on the fixture packages: ``--against``, acceptances, the range answer,
``bump``, and an interrupted matrix. Real uv venvs (``slow``), except where marked otherwise."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from conftest import cli_env, leftovers
from fixturepkgs import CORE_DIST, VARIANTS, build_store_wheel, write_store_project

pytestmark = pytest.mark.slow

ERR_VARIANTS = [n for n, v in VARIANTS.items() if v.expect_exit == 1 and v.name != "import_broken"]


def flags(world, *, store: Path | None = None) -> list[str | Path]:
    return ["--core-package", CORE_DIST, "--find-links", world.find_links, "--store", store or world.store_wheel]


def runs_by_ref(result) -> dict[str, dict]:
    assert result.report is not None, result.output
    return {r["core_ref"]: r for r in result.report["runs"]}


# ------------------------------------------------------------------------------------------------ --against


def test_against_a_live_core_finds_each_err_rule(run_cli, fixture_world) -> None:
    v = fixture_world.variant_versions
    refs = ",".join(v[name] for name in ERR_VARIANTS)
    result = run_cli("--core-ref", refs, "--against", v["baseline"], "--jobs", "2", *flags(fixture_world), timeout=600)
    assert result.code == 1, result.output
    runs = runs_by_ref(result)
    for name in ERR_VARIANTS:
        run = runs[v[name]]
        assert run["baseline"] == f"against {v['baseline']} ({v['baseline']})"
        failing_rules = {c["rule"] for c in run["checks"] if c["status"] == "failed" and c["rule"]}
        assert run["exit_code"] == 1 and VARIANTS[name].expect in failing_rules, (name, failing_rules)


def _answer(result) -> tuple:
    """What a check concluded, independent of timing and of whether it came from the cache."""
    assert result.report is not None, result.output
    runs = [
        (r["core_ref"], r["exit_code"], r["core_version"], r["baseline"],
         sorted((c["id"], c["status"], c["rule"]) for c in r["checks"]))
        for r in result.report["runs"]
    ]  # fmt: skip
    return result.code, runs, result.report["summary"]["exit_code"]


def test_the_index_stores_range_survives_a_reused_shared_environment(run_cli, fixture_world, tmp_path) -> None:
    """Seen on the second run with a Store from the index: '--against pin: the Store declares no lower bound
    (nothing)'. Its range was read only while the shared environment was being built, so a reused one knew
    nothing; now it is read from the environment's own metadata, whichever run built it. Three runs in a row,
    each on a cache restored the way a CI cache step restores it (saved after the run, the runner's copy gone,
    copied back before the next), give the same answers."""
    base = fixture_world.variant_versions["baseline"]
    links = tmp_path / "links"
    build_store_wheel(links, version="0.3.0", core_range=f">={base},<2")
    cache, saved = tmp_path / "cache", tmp_path / "ci-cache"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    common = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--find-links", links]
    common += ["--store", "cc-fixture-store==0.3.0", "--offline"]
    answers = []
    for attempt in ("builds the environment", "restored", "restored again"):
        if saved.exists():  # the cache step restores what the last job saved
            shutil.copytree(saved, cache, symlinks=True)
        since = run_cli("--since-pin", "--core-range", f"<={base}", *common, env=env)
        assert since.code == 0, (attempt, since.output)
        assert [r["core_ref"] for r in since.report["runs"]] == [base], attempt
        against = run_cli("--core-ref", base, "--against", "pin", *common, env=env)
        assert against.code == 0, (attempt, against.output)
        assert against.report["runs"][0]["baseline"] == f"against {base} ({base})", attempt
        answers.append((_answer(since), _answer(against)))
        shutil.rmtree(saved, ignore_errors=True)  # the job ends: its cache is saved, the runner's disk goes
        shutil.copytree(cache, saved, symlinks=True)
        shutil.rmtree(cache)
    assert answers[0] == answers[1] == answers[2]


def test_against_itself_finds_no_schema_change(run_cli, fixture_world) -> None:
    ref = fixture_world.variant_versions["optional_field_added"]
    result = run_cli("--core-ref", ref, "--against", ref, *flags(fixture_world))
    (run,) = result.report["runs"]
    schema = [c for c in run["checks"] if c["layer"] == "schema" and c["id"] != "schema.snapshot"]
    assert schema and all(c["status"] == "passed" and c["rule"] is None for c in schema), schema


def test_against_a_ref_that_does_not_resolve_or_that_fails_itself(run_cli, fixture_world) -> None:
    missing = run_cli("--core-ref", "1.0.0", "--against", "7.7.7", *flags(fixture_world))
    assert missing.code == 3 and "7.7.7 is not on the index" in missing.output, missing.output
    broken = run_cli(
        "--core-ref", "1.0.0", "--against", fixture_world.variant_versions["import_broken"], *flags(fixture_world)
    )
    assert broken.code == 3, broken.output
    assert "the baseline pair" in broken.output and "fails its own contracts" in broken.output


# -------------------------------------------------------------------------------------------------- accept


def _store_with(tmp_path: Path, accept_toml: str, core_range: str = ">=1.0,<2") -> Path:
    project = write_store_project(tmp_path / "store", core_range=core_range)
    with (project / "pyproject.toml").open("a") as fh:
        fh.write("\n" + textwrap.dedent(accept_toml))
    return project


TIGHTENED = """
[[tool.contract-check.accept]]
check = "schema.*.queue_size.CONSTRAINT_TIGHTENED"
reason = "empty queues are never sent (ticket 42)"
until = "{until}"

[[tool.contract-check.accept]]
check = "*-*"
reason = "the rest of the same cause: queue_size=0 is rejected"
until = "{until}"

[[tool.contract-check.accept]]
check = "payload.golden.*"
reason = "the golden payloads hold queue_size=0"
until = "{until}"
"""


def test_accepted_failures_are_compatible_and_said_so_everywhere(run_cli, fixture_world, tmp_path) -> None:
    project = _store_with(tmp_path, TIGHTENED.format(until="2999-12-31"))
    md = tmp_path / "report.md"
    junit = tmp_path / "report.xml"
    ref = fixture_world.variant_versions["queue_size_positive"]
    result = run_cli(
        "--core-ref", ref, "--core-package", CORE_DIST, "--find-links", fixture_world.find_links,
        "--markdown", md, "--junit-xml", junit, cwd=project,
    )  # fmt: skip
    assert result.code == 0, result.output
    (run,) = result.report["runs"]
    accepted = [c for c in run["checks"] if c["status"] == "accepted"]
    assert len(accepted) >= 5 and result.report["summary"]["accepted"] == len(accepted)
    tightened = next(c for c in accepted if c["rule"] == "CONSTRAINT_TIGHTENED")
    assert "accepted by pyproject.toml [[tool.contract-check.accept]] #1" in tightened["note"]
    assert "ticket 42" in tightened["note"]
    assert "ACCEPTED" in result.stdout and "ticket 42" in result.stdout
    assert "**ACCEPTED**" in md.read_text() and "ticket 42" in junit.read_text()


def test_an_expired_acceptance_no_longer_applies(run_cli, fixture_world, tmp_path) -> None:
    project = _store_with(tmp_path, TIGHTENED.format(until="2020-01-01"))
    ref = fixture_world.variant_versions["queue_size_positive"]
    result = run_cli(
        "--core-ref", ref, "--core-package", CORE_DIST, "--find-links", fixture_world.find_links, cwd=project
    )
    assert result.code == 1, result.output
    (run,) = result.report["runs"]
    assert any("acceptance expired on 2020-01-01" in (c["note"] or "") for c in run["checks"])


def test_an_unused_acceptance_is_a_note_never_a_failure(run_cli, fixture_world, tmp_path) -> None:
    project = _store_with(tmp_path, TIGHTENED.format(until="2999-12-31"))
    args = ["--core-ref", fixture_world.variant_versions["baseline"], "--core-package", CORE_DIST]
    result = run_cli(*args, "--find-links", fixture_world.find_links, "--strict", cwd=project)
    assert result.code == 0, result.output
    notes = result.report["summary"]["notes"]
    assert len(notes) == 3 and all("matched no failing check" in n for n in notes)
    assert "note: pyproject.toml [[tool.contract-check.accept]] #1" in result.stdout


def test_malformed_acceptances_are_usage_errors(run_cli, fixture_world, tmp_path) -> None:
    project = _store_with(tmp_path, '[[tool.contract-check.accept]]\ncheck = "x"\nuntil = "2999-01-01"\n')
    args = ["--core-ref", "1.0.0", "--core-package", CORE_DIST, "--find-links", fixture_world.find_links]
    missing = run_cli(*args, cwd=project)
    assert missing.code == 2 and "#1" in missing.stderr and "reason" in missing.stderr, missing.output
    bad_toml = tmp_path / "accept.toml"
    bad_toml.write_text('[[accept]]\ncheck = "x"\nreason = \n')
    syntax = run_cli(*flags(fixture_world), "--core-ref", "1.0.0", "--accept", bad_toml)
    assert syntax.code == 2 and "line 3, column" in syntax.stderr, syntax.output


# ------------------------------------------------------------------------------------------- range answer


def test_the_range_answer_admits_exactly_the_compatible_versions(run_cli, fixture_world, tmp_path) -> None:
    v = fixture_world.variant_versions
    checked = [v["baseline"], v["queue_size_positive"], v["optional_field_added"], v["enum_value_removed"]]
    outputs = tmp_path / "github-output"
    env = cli_env(tmp_path / "tmp", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(outputs))
    result = run_cli("--core-ref", ",".join(checked), "--jobs", "2", *flags(fixture_world), env=env)
    summary = result.report["summary"]
    assert summary["compatible"] == sorted(
        [v["baseline"], v["optional_field_added"]], key=lambda s: [int(x) for x in s.split(".")]
    )
    spec = summary["suggested_specifier"]

    admitted = [ref for ref in checked if SpecifierSet(spec).contains(ref, prereleases=True)]
    assert sorted(admitted) == sorted(summary["compatible"]), spec
    listed = list(fixture_world.core_versions)  # every Core version the find-links directory offers
    assert sorted(v for v in listed if SpecifierSet(spec).contains(v, prereleases=True)) == sorted(admitted), spec
    assert any("that were not checked" in note for note in summary["notes"]), summary["notes"]  # 1.50.1 ...
    assert f"suggested-specifier={spec}" in outputs.read_text()
    assert f"Suggested   {spec}" in result.stdout


# ---------------------------------------------------------------------------------------------------- bump


def _bump_store(tmp_path: Path) -> Path:
    project = write_store_project(tmp_path / "store", core_range=">=1.0,<2")
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace(f'"{CORE_DIST}>=1.0,<2",', f'"{CORE_DIST}>=1.0,<2",  # the pin')
    )
    (project / "requirements.txt").write_bytes("\ufeffpydantic>=2.7\ncc-fixture-core>=1.0,<2\n".encode("utf-16-le"))
    return project


def test_bump_moves_only_the_lower_bound_and_keeps_the_encoding(run_cli, fixture_world, tmp_path) -> None:
    project = _bump_store(tmp_path)
    before = (project / "pyproject.toml").read_bytes()
    ref = fixture_world.variant_versions["baseline"]
    args = ["bump", "--core-ref", ref, "--core-package", CORE_DIST, "--find-links", fixture_world.find_links]
    args.append("--allow-unpublished")  # the fixture Core is in --find-links only
    dry = run_cli(*args, "--dry-run", cwd=project, json_report=False)
    assert dry.code == 0, dry.output
    assert f'-    "{CORE_DIST}>=1.0,<2",  # the pin' in dry.stdout and "dry run: nothing written" in dry.stdout
    assert (project / "pyproject.toml").read_bytes() == before
    done = run_cli(*args, cwd=project, json_report=False)
    assert done.code == 0, done.output
    assert (project / "pyproject.toml").read_bytes() == before.replace(b">=1.0,<2", f">={ref},<2".encode())
    assert (project / "requirements.txt").read_bytes() == (
        f"\ufeffpydantic>=2.7\ncc-fixture-core>={ref},<2\n".encode("utf-16-le")
    )


def test_bump_refuses_a_broken_core_and_a_ref_above_the_upper_bound(run_cli, fixture_world, tmp_path) -> None:
    project = _bump_store(tmp_path)
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    common = ["--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--allow-unpublished"]
    broken = run_cli("bump", "--core-ref", fixture_world.variant_versions["queue_size_positive"], *common, cwd=project)
    assert broken.code == 1 and "not bumped" in broken.stdout, broken.output
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace("<2", "<1.50"))
    before["pyproject.toml"] = (project / "pyproject.toml").read_bytes()
    above = run_cli("bump", "--core-ref", fixture_world.variant_versions["baseline"], *common, cwd=project)
    assert above.code == 2 and "upper bound" in above.stderr, above.output
    assert {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()} == before
    not_local = run_cli("bump", "--core-ref", "1.0.0", *common, "--store", fixture_world.store_wheel)
    assert not_local.code == 2 and "not a local project" in not_local.stderr


# --------------------------------------------------------------------------------------- interrupted matrix


def test_an_interrupted_matrix_reports_what_finished(fixture_world, tmp_path: Path) -> None:
    marker = tmp_path / "second-started"
    mine = tmp_path / "mine"
    mine.mkdir()
    second = fixture_world.variant_versions["optional_field_added"]
    (mine / "test_slow.py").write_text(
        textwrap.dedent(f"""
        import time
        from importlib import metadata

        def test_waits_on_the_second_ref():
            if metadata.version("{CORE_DIST}") == "{second}":
                open({str(marker)!r}, "w").close()
                time.sleep(120)
        """)
    )
    report = tmp_path / "report.json"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    refs = ",".join([fixture_world.variant_versions["baseline"], second, "1.0.0"])
    argv = [sys.executable, "-m", "contract_check", "--core-ref", refs, "--jobs", "1", "--contracts", str(mine)]
    argv += [*map(str, flags(fixture_world)), "--no-cache", "--json", str(report)]
    started = time.monotonic()
    child = subprocess.Popen(argv, env=cli_env(tmpdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), child.communicate()
    child.send_signal(signal.SIGINT)
    waited = time.monotonic() - started
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    # the verdict line's time is the command's, from its start (seen: the finished runs' time only)
    said = float(out.rsplit(" in ", 1)[1].split("s")[0])
    assert said >= waited - 0.1, (said, waited, out)
    data = json.loads(report.read_text())
    statuses = [(r["core_ref"], r["exit_code"]) for r in data["runs"]]
    assert statuses[0] == (fixture_world.variant_versions["baseline"], 0)
    assert [code for _, code in statuses[1:]] == [130, 130]
    assert "not run: interrupted" in data["runs"][2]["error"]
    assert "COMPATIBLE" in out and "INTERRUPTED" in out  # what finished is printed, the rest marked
    assert leftovers(tmpdir) == []
