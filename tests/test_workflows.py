"""Every step of the reusable workflow, the composite action and the matrix workflow, run as a runner would.

From a fresh ``git clone`` of the committed HEAD (what a runner downloads), each job runs in bash through
``gha.Job``: install steps included, JavaScript actions replaced by stand-ins (the tool's own checkout is a
real clone at the commit under test). Nothing comes from a public index: pip and uv are pointed at a
wheelhouse packed from this test environment (``wheelhouse.py``; it holds no contract-check, so an install of
the tool by name fails), uv is offline for the installs, and the check itself reads the fixture Cores from a
loopback index (``loopback_index.py``). The tests assert the tool was installed from the clone, the check's
verdict, the step outputs, the workflow outputs, the step summary and the uploaded artifacts.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import wheelhouse
from conftest import cli_env
from fixturepkgs import CORE_DIST, FixtureWorld, write_store_project
from gha import Job, World, load, triggers
from loopback_index import LoopbackIndex

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "contract-check.yml"
MATRIX = ROOT / ".github" / "workflows" / "matrix.yml"
TOKEN = f"tok-{uuid.uuid4().hex}"  # made up at run time: found in a file only if a step wrote it there
GIT_TOKEN = f"gittok-{uuid.uuid4().hex}"


# --- the machine ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tool_clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The committed HEAD of this repository, cloned: uncommitted edits would not reach a runner either."""
    dest = tmp_path_factory.mktemp("tool") / "contract-check"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(dest)], check=True)
    sha = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return dest, sha.stdout.strip()


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tool's dependencies, pytest and hatchling (the build backend), packed from this environment."""
    roots = [*(md.distribution("pydantic-contract-check").requires or []), "pytest", "hatchling"]
    out = tmp_path_factory.mktemp("wheelhouse")
    wheelhouse.build(out, roots, exclude="pydantic-contract-check")
    return out


@pytest.fixture
def index(fixture_world: FixtureWorld) -> Iterator[LoopbackIndex]:
    with LoopbackIndex(fixture_world.find_links) as served:
        yield served


def make_world(tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, index_url: str) -> World:
    env = cli_env(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    for name in ("VIRTUAL_ENV", "CONTRACT_CHECK_CACHE_DIR", "UV_CACHE_DIR", "XDG_CACHE_HOME", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    # no contract-check on PATH: a step that runs it by name instead of from its own venv fails
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and not (Path(p) / "contract-check").exists()]
    env.update(
        PATH=os.pathsep.join(path),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
        UV_OFFLINE="1",  # installs of the tool and its dependencies: the wheelhouse only
        UV_FIND_LINKS=str(wheels),
        UV_DEFAULT_INDEX=index_url,  # where contract-check looks for Core (it passes it to uv itself)
    )
    python = getattr(sys, "_base_executable", sys.executable)
    return World(tmp_path, tool_clone[0], tool_clone[1], python, env)


def store_checkout(where: Path, table: str = "") -> Path:
    """The caller's checkout: the fixture Store project, naming the fixture Core in [tool.contract-check]."""
    checkout = write_store_project(where)
    with (checkout / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[tool.contract-check]\ncore-package = "{CORE_DIST}"\n{table}')
    return checkout


def with_defaults(declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(declared)
    assert not unknown, f"inputs the file does not declare: {sorted(unknown)}"
    return {name: given.get(name, spec.get("default", "")) for name, spec in declared.items()}


def installed_from(job: Job) -> str:
    """Where the action's venv got contract-check from (PEP 610 direct_url.json)."""
    found = list((job.runner_temp / "contract-check-venv").glob("lib/python*/site-packages/*contract_check*.dist-info"))
    assert len(found) == 1, found
    return str(json.loads((found[0] / "direct_url.json").read_text())["url"])


def step(job: Job, name: str) -> Any:
    matches = [s for s in job.steps if s.name == name and s.uses is None]  # the run: step, not a uses: of that name
    assert len(matches) == 1, (name, [s.name for s in job.steps])
    return matches[0]


# --- the reusable workflow (through the composite action) -----------------------------------------


def run_reusable(
    world: World, workspace: Path, inputs: Mapping[str, Any], secrets: Mapping[str, str] | None = None
) -> tuple[Job, dict[str, str]]:
    workflow = load(WORKFLOW)
    call = triggers(workflow)["workflow_call"]
    ((job_id, spec),) = workflow["jobs"].items()
    job = Job(
        world, job_id, workspace, {"inputs": with_defaults(call["inputs"], inputs), "secrets": dict(secrets or {})}
    )
    job.run(spec["steps"])
    jobs = {job_id: {"outputs": job.outputs(spec["outputs"])}}
    outputs = {name: job.value(out["value"], {"jobs": jobs}) for name, out in call["outputs"].items()}
    return job, outputs


CASES = [
    pytest.param("1.0.0", 0, "compatible", id="compatible"),
    pytest.param("1.3.0", 1, "broken", id="import-broken"),
    pytest.param("not a ref", 2, "error", id="usage-error"),
]


@pytest.mark.parametrize(("ref", "code", "verdict"), CASES)
def test_reusable_workflow(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, index: LoopbackIndex, ref: str, code: int, verdict: str
) -> None:
    world = make_world(tmp_path, tool_clone, wheels, index.url)
    workspace = store_checkout(tmp_path / "workspace")
    job, outputs = run_reusable(world, workspace, {"core-ref": ref, "find-links": str(wheels)})
    log = job.log

    # installed from the clone of this repository at the workflow's own commit, not from an index
    assert installed_from(job) == (workspace / ".contract-check-tool").resolve().as_uri(), log
    assert "contract-check 0.1.0" in step(job, "Install contract-check").stdout
    assert world.caches and world.caches[0]["key"].startswith("contract-check-1-Linux-X64-py3.")

    assert outputs["verdict"] == verdict and outputs["exit-code"] == str(code), (outputs, log)
    assert job.failed is (code != 0)
    check = step(job, "Check the Store against Core")
    if code == 2:
        assert outputs["report"] == "" and not world.artifacts and job.summary == ""
        assert "invalid --core-ref 'not a ref'" in check.stderr
        return
    heading = {0: "COMPATIBLE", 1: "BROKEN"}[code]
    assert job.summary.startswith(f"### contract-check: {heading}\n"), job.summary
    assert f"**Core:** `{ref}`" in job.summary and ("IMPORT_FAILED" in job.summary) is (code == 1)
    assert f"::group::uv install for {ref}" in check.stderr  # uv's output, folded in the log
    # the report artifact: its name is the `report` output
    assert outputs["report"].startswith("contract-report-check-"), outputs
    files = {p.name for p in world.artifacts[outputs["report"]].iterdir()}
    assert files == {"contract-report.json", "contract-report.xml", "contract-report.md"}
    report = json.loads((world.artifacts[outputs["report"]] / "contract-report.json").read_text())
    assert report["summary"]["exit_code"] == code and report["runs"][0]["core_ref"] == ref
    assert report["store"]["spec"] == "." and report["store"]["name"] == "cc-fixture-store"
    assert outputs["suggested-specifier"] == ""  # wired; the tool does not write it yet


def test_reusable_workflow_runs_the_stores_configured_check(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, index: LoopbackIndex
) -> None:
    """No core-ref input: the Store's [tool.contract-check] core-ref decides (a bare `contract-check`)."""
    world = make_world(tmp_path, tool_clone, wheels, index.url)
    workspace = store_checkout(tmp_path / "workspace", 'core-ref = ["1.0.0", "1.1.0"]\n')
    job, outputs = run_reusable(world, workspace, {"find-links": str(wheels), "summary": "off"})
    assert (outputs["verdict"], outputs["exit-code"]) == ("compatible", "0"), job.log
    assert job.summary == ""  # summary: off
    report = json.loads((world.artifacts[outputs["report"]] / "contract-report.json").read_text())
    assert [r["core_ref"] for r in report["runs"]] == ["1.0.0", "1.1.0"]
    assert outputs["report"].startswith("contract-report-check-configured-")


def test_installing_the_tool_by_name_fails_here(tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path) -> None:
    """The negative control: on this test's runner, an install step that names the tool instead of a path fails."""
    world = make_world(tmp_path, tool_clone, wheels, "http://127.0.0.1:9/simple")
    job = Job(world, "control", tmp_path, {})
    venv = 'python3 -m venv --without-pip "$RUNNER_TEMP/v"\n'
    venv += 'python3 -m pip --python "$RUNNER_TEMP/v/bin/python" install uv\n'
    assert job.run_script("venv", venv, {}, None, None).code == 0
    install = '"$RUNNER_TEMP/v/bin/uv" pip install --python "$RUNNER_TEMP/v/bin/python" {}\n'
    for name in ("pydantic-contract-check", "contract-check"):
        result = job.run_script("by name", install.format(name), {}, None, None)
        assert result.code != 0 and f"{name} was not found in the cache" in result.stderr, result.stderr
    done = job.run_script("by path", install.format(f'"{tool_clone[0]}"'), {}, None, None)
    assert done.code == 0, done.stderr


# --- the composite action on its own, with every input and both tokens ----------------------------


def test_composite_action_with_tokens(
    tmp_path: Path,
    tool_clone: tuple[Path, str],
    wheels: Path,
    fixture_world: FixtureWorld,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contracts = tmp_path / "workspace" / "tests" / "contracts"
    contracts.mkdir(parents=True)
    (contracts / "test_store_own.py").write_text("def test_store_own_contract():\n    assert True\n")
    given = {
        "core-ref": "1.50.7",  # tightened queue_size: BROKEN
        "store": str(fixture_world.store_wheel),
        "contracts": "tests/contracts",
        "python-version": "3.11",
        "find-links": str(wheels),
        "strict": "true",
        "summary": "off",
        "extra-args": f"--core-package {CORE_DIST} --timeout 240",
        "index-token": TOKEN,
        "core-git-token": GIT_TOKEN,
    }
    given["with"] = "iniconfig"  # a test dependency the Store's contracts could need
    with LoopbackIndex(fixture_world.find_links, token=TOKEN) as index:
        world = make_world(tmp_path, tool_clone, wheels, "")
        world.env.pop("UV_DEFAULT_INDEX")
        given["index-url"] = index.url
        # the action as a caller's job uses it: checked out at a ref, run from the workspace
        job = Job(world, "contracts", tmp_path / "workspace", {})
        action = tmp_path / "workspace" / "_actions" / "contract-check"
        subprocess.run(["git", "clone", "-q", str(tool_clone[0]), str(action)], check=True)
        job.run([{"id": "contracts", "uses": "./_actions/contract-check", "with": given}])
        outputs = job.steps[-1].outputs
        users = set(index.users)

    log = job.log
    assert installed_from(job) == action.resolve().as_uri(), log
    assert (outputs["verdict"], outputs["exit-code"]) == ("broken", "1"), (outputs, log)
    assert job.summary == ""  # summary: off; outputs and the artifact are still there
    assert users == {"__token__"}, (users, index.requests[:5])  # the token reached the tool and uv
    report = json.loads((world.artifacts[outputs["report"]] / "contract-report.json").read_text())
    checks = {c["id"]: c["status"] for r in report["runs"] for c in r["checks"]}
    assert any(i.endswith("test_store_own_contract") for i in checks), sorted(checks)  # `contracts` input
    assert report["tool"]["strict"] is True and report["store"]["name"] == "cc-fixture-store"

    # masked, and never anywhere but in the ::add-mask:: lines the runner consumes
    masks = [line for s in job.steps for line in s.stdout.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{TOKEN}" in masks and f"::add-mask::{GIT_TOKEN}" in masks and len(masks) == 3
    secrets = [TOKEN, GIT_TOKEN, masks[-1].removeprefix("::add-mask::")]
    shown = "\n".join(line for line in log.splitlines() if not line.startswith("::add-mask::"))
    assert not [s for s in secrets if s in shown]
    written = [
        str(path)
        for path in world.root.rglob("*")
        if path.is_file() and not path.is_symlink() and any(s.encode() in path.read_bytes() for s in secrets)
    ]
    assert written == []


# --- the matrix workflow: plan, one job per ref (one answered from the cache), merge ---------------


def test_matrix_workflow_plan_shards_merge(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, index: LoopbackIndex
) -> None:
    world = make_world(tmp_path, tool_clone, wheels, index.url)
    workflow = load(MATRIX)
    call = triggers(workflow)["workflow_call"]
    inputs = with_defaults(call["inputs"], {"core-range": ">=1.0,<1.2", "find-links": str(wheels)})
    jobs = workflow["jobs"]

    def run(job_id: str, n: int, **contexts: Any) -> Job:
        workspace = store_checkout(tmp_path / f"ws-{job_id}-{n}")
        return Job(world, f"{job_id}", workspace, {"inputs": inputs, **contexts}).run(jobs[job_id]["steps"])

    plan = run("plan", 0)
    needs_plan = {"result": "success", "outputs": plan.outputs(jobs["plan"]["outputs"])}
    assert json.loads(needs_plan["outputs"]["refs"]) == ["1.0.0", "1.1.0"], plan.log  # 1.2.0rc1: no --pre
    matrix = plan.value(jobs["shard"]["strategy"]["matrix"]["core-ref"], {"needs": {"plan": needs_plan}})
    shards = [run("shard", i, matrix={"core-ref": ref}, needs={"plan": needs_plan}) for i, ref in enumerate(matrix)]
    # a re-run of one shard on a fresh runner: the result comes back from the cache actions/cache restored
    rerun = run("shard", 9, matrix={"core-ref": "1.1.0"}, needs={"plan": needs_plan})
    keys = [c["key"] for c in world.caches if "contract-check-1-" in c["key"]]
    assert len(keys) == 3 and keys[0] != keys[1] == keys[2], keys  # one cache entry per Store state and ref
    assert world.cache_hits == [None, keys[0], keys[1]]  # the 2nd shard starts from the 1st's entry
    for shard in [*shards, rerun]:
        assert not shard.failed and shard.summary == "", shard.log  # shards leave the summary to merge
    assert sorted(world.artifacts) == sorted(a for a in world.artifacts if a.startswith("contract-report-shard-"))

    needs = {"plan": needs_plan, "shard": {"result": "success"}}
    assert plan.value(jobs["merge"]["if"], {"needs": needs}) is True
    merge = Job(world, "merge", tmp_path / "ws-merge", {"inputs": inputs, "needs": needs})
    (tmp_path / "ws-merge").mkdir()
    merge.run(jobs["merge"]["steps"])
    outputs = merge.outputs(jobs["merge"]["outputs"])
    assert (outputs["verdict"], outputs["exit-code"], outputs["report"]) == (
        "compatible",
        "0",
        "contract-report-merged",
    ), merge.log
    assert merge.summary.startswith("### contract-check: COMPATIBLE"), merge.summary
    merged = json.loads((world.artifacts["contract-report-merged"] / "contract-report.json").read_text())
    runs = {r["core_ref"]: r for r in merged["runs"]}
    assert sorted(runs) == ["1.0.0", "1.1.0"] and merged["summary"]["exit_code"] == 0
    assert runs["1.1.0"]["cached"] is True and runs["1.0.0"]["cached"] is False  # the re-run came from the cache
    assert "<testsuites" in (world.artifacts["contract-report-merged"] / "contract-report.xml").read_text()

    # a shard that left no report: the merge can never read as compatible
    lost = next(name for name in world.artifacts if "1.0.0" in name)
    del world.artifacts[lost]
    (tmp_path / "ws-merge-2").mkdir()
    again = Job(world, "merge", tmp_path / "ws-merge-2", {"inputs": inputs, "needs": needs}).run(jobs["merge"]["steps"])
    outputs = again.outputs(jobs["merge"]["outputs"])
    assert (outputs["verdict"], outputs["exit-code"]) == ("error", "3"), again.log
    assert "::error title=contract-check::no report for Core 1.0.0" in again.log
