"""Every step of the reusable workflow, the composite action and the matrix workflow, run as a runner would.

From a fresh ``git clone`` of the committed HEAD (what a runner downloads), each job runs in bash through
``gha.Job``: install steps included, JavaScript actions replaced by stand-ins. The workspace is what a runner
makes of a Store repository: a real clone of a field-shaped one (``storerepo``: setuptools, ``src/`` layout,
with a submodule, a gitlink and symlinked directories committed), and the tool checked out where the workflow
puts it (a clone at the commit under test, a nested repository in the Store's tree). Nothing comes from a
public index: pip and uv are pointed at a wheelhouse packed from this test environment (``wheelhouse.py``; it
holds no contract-check, so an install of the tool by name fails), uv is offline for the installs, and the
check itself reads the fixture Cores from a loopback index (``loopback_index.py``). The tests assert the tool
was installed from the clone, the check's verdict, the step outputs, the workflow outputs, the step summary,
the uploaded artifacts, and that the Store's checkout is as the checkout left it. The blocks of the README are
run as they are, their pin of this project replaced by the clone and its HEAD.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import wheelhouse
from conftest import cli_env
from fixturepkgs import CORE_DIST, FixtureWorld, build_core_wheel
from gha import Job, World, load, triggers
from loopback_index import LoopbackIndex
from storerepo import Checkout, add_foreign_trees, make_store_repo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "contract-check.yml"
README = ROOT / "README.md"
#: how the README and docs/ci.md pin this project: OWNER/contract-check[/path]@<40-hex commit>
PIN = re.compile(r"\b(OWNER/contract-check[\w./-]*)@([0-9a-f]{40})\b")
MATRIX = ROOT / ".github" / "workflows" / "matrix.yml"
TOKEN = f"tok-{uuid.uuid4().hex}"  # made up at run time: found in a file only if a step wrote it there
GIT_TOKEN = f"gittok-{uuid.uuid4().hex}"
CHECKOUT = next(
    u for s in load(WORKFLOW)["jobs"]["check"]["steps"] if (u := str(s.get("uses", ""))).startswith("actions/checkout@")
)


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
    roots = [*(md.distribution("pydantic-contract-check").requires or []), "pytest", "hatchling", "setuptools"]
    out = tmp_path_factory.mktemp("wheelhouse")
    wheelhouse.build(out, roots, exclude="pydantic-contract-check")
    return out


@pytest.fixture
def index(fixture_world: FixtureWorld) -> Iterator[LoopbackIndex]:
    with LoopbackIndex(fixture_world.find_links) as served:
        yield served


def make_world(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, index_url: str, store_repo: Path | None = None
) -> World:
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
    return World(tmp_path, tool_clone[0], tool_clone[1], python, env, store_repo=store_repo)


def store_origin(where: Path, table: str = "") -> Path:
    """The caller's repository, which a checkout clones: the field-shaped Store naming the fixture Core in its
    [tool.contract-check], with a submodule, a gitlink and symlinked directories committed."""
    add_foreign_trees(make_store_repo(where, config=f'core-package = "{CORE_DIST}"\n{table}'))
    return where


def checkout_untouched(workspace: Path) -> None:
    """The Store's checkout holds what the checkouts put there and nothing else: its files unchanged, the
    tool's checkout the one untracked entry, the submodule and the gitlink left empty."""
    status = Checkout(workspace).status()
    assert status == "?? .contract-check-tool/\n" or status == "", status
    assert (workspace / "vendor" / "schemas").is_dir() and (workspace / "tools" / "pinned").is_dir()


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
    world: World,
    workspace: Path,
    inputs: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    path: Path = WORKFLOW,
) -> tuple[Job, dict[str, str]]:
    workflow = load(path)
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
    world = make_world(tmp_path, tool_clone, wheels, index.url, store_origin(tmp_path / "origin"))
    workspace = tmp_path / "workspace"
    job, outputs = run_reusable(world, workspace, {"core-ref": ref, "find-links": str(wheels)})
    log = job.log
    checkout_untouched(workspace)

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
    assert report["store"]["version"] == "0.2.0"  # the checkout (storerepo), built from its own files
    assert outputs["suggested-specifier"] == ""  # wired; the tool does not write it yet


def test_reusable_workflow_runs_the_stores_configured_check(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, index: LoopbackIndex
) -> None:
    """No core-ref input: the Store's [tool.contract-check] core-ref decides (a bare `contract-check`)."""
    origin = store_origin(tmp_path / "origin", 'core-ref = ["1.0.0", "1.1.0"]\n')
    world = make_world(tmp_path, tool_clone, wheels, index.url, origin)
    workspace = tmp_path / "workspace"
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
    given = {
        "core-ref": "1.50.7",  # tightened queue_size: BROKEN
        "store": str(fixture_world.store_wheel),
        "contracts": "tests/contracts/health",  # the checkout's own contracts (the others need its [dev] extra)
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
        world = make_world(tmp_path, tool_clone, wheels, "", store_origin(tmp_path / "origin"))
        world.env.pop("UV_DEFAULT_INDEX")
        given["index-url"] = index.url
        # the action as a caller's job uses it: the Store checked out, the action pinned by the commit under test
        job = Job(world, "contracts", tmp_path / "workspace", {})
        checkout = {"uses": CHECKOUT, "with": {"persist-credentials": False}}
        job.run([checkout, {"id": "contracts", "uses": f"OWNER/contract-check@{world.tool_sha}", "with": given}])
        outputs = job.steps[-1].outputs
        users = set(index.users)

    log = job.log
    assert installed_from(job) == world.fetch_action(world.tool_sha).resolve().as_uri(), log
    assert (outputs["verdict"], outputs["exit-code"]) == ("broken", "1"), (outputs, log)
    assert job.summary == ""  # summary: off; outputs and the artifact are still there
    assert users == {"__token__"}, (users, index.requests[:5])  # the token reached the tool and uv
    report = json.loads((world.artifacts[outputs["report"]] / "contract-report.json").read_text())
    checks = {c["id"]: c["status"] for r in report["runs"] for c in r["checks"]}
    assert "tests/contracts/health/test_roundtrip.py::test_roundtrip[healthy]" in checks, sorted(checks)
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
    world = make_world(tmp_path, tool_clone, wheels, index.url, store_origin(tmp_path / "origin"))
    workflow = load(MATRIX)
    call = triggers(workflow)["workflow_call"]
    inputs = with_defaults(call["inputs"], {"core-range": ">=1.0,<1.2", "find-links": str(wheels)})
    jobs = workflow["jobs"]

    def run(job_id: str, n: int, **contexts: Any) -> Job:
        workspace = tmp_path / f"ws-{job_id}-{n}"
        job = Job(world, f"{job_id}", workspace, {"inputs": inputs, **contexts}).run(jobs[job_id]["steps"])
        checkout_untouched(workspace)
        return job

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
    again = Job(world, "merge", tmp_path / "ws-merge-2", {"inputs": inputs, "needs": needs}).run(jobs["merge"]["steps"])
    outputs = again.outputs(jobs["merge"]["outputs"])
    assert (outputs["verdict"], outputs["exit-code"]) == ("error", "3"), again.log
    assert "::error title=contract-check::no report for Core 1.0.0" in again.log


# --- the README's blocks, as a Store copies them: in a fresh clone of a field-shaped Store repository ---------


def readme_block(marker: str, tool_sha: str) -> Any:
    """The YAML block of the README's CI section that holds *marker*, its pin of this project replaced by the
    commit under test (the one substitution a test makes: that commit is not published anywhere)."""
    section = README.read_text(encoding="utf-8").split("## Use in CI", 1)[1].split("\n## ", 1)[0]
    (block,) = [b for b in re.findall(r"```ya?ml\n(.*?)```", section, re.S) if marker in b]
    assert PIN.search(block), block  # pinned by a full commit SHA
    return yaml.safe_load(PIN.sub(lambda m: f"{m.group(1)}@{tool_sha}", block))


@pytest.fixture
def field_index(tmp_path: Path, wheels: Path) -> Iterator[LoopbackIndex]:
    """One index with what a Store's CI finds on its own: every dependency, and Core releases (the newest 1.4.61,
    the version the README names) inside the field Store's declared range."""
    folder = tmp_path / "index"
    shutil.copytree(wheels, folder)
    for version in ("1.1.0", "1.4.61"):
        build_core_wheel(folder, version)
    with LoopbackIndex(folder) as served:
        yield served


def test_the_readme_job_runs_in_a_fresh_clone_of_a_field_store(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, field_index: LoopbackIndex
) -> None:
    """18.1 / 18.3: the README's one CI block, as it is: the Store checked out with a submodule and a gitlink in
    it, the tool checked out inside it (a nested repository); a report and exit 0."""
    world = make_world(tmp_path, tool_clone, wheels, field_index.url, store_origin(tmp_path / "origin"))
    ((_, caller),) = readme_block("jobs:", world.tool_sha)["jobs"].items()
    called, _, ref = str(caller["uses"]).partition("@")
    assert called == "OWNER/contract-check/.github/workflows/contract-check.yml" and set(caller) == {"uses", "with"}
    workflow = world.fetch_action(ref) / called.removeprefix("OWNER/contract-check/")
    workspace = tmp_path / "workspace"
    job, outputs = run_reusable(world, workspace, caller["with"], path=workflow)

    assert (outputs["verdict"], outputs["exit-code"]) == ("compatible", "0"), (outputs, job.log)
    report = json.loads((world.artifacts[outputs["report"]] / "contract-report.json").read_text())
    assert report["store"]["spec"] == "." and report["store"]["version"] == "0.2.0"  # the checkout, not the index
    assert [r["core_version"] for r in report["runs"]] == ["1.4.61"]  # latest
    assert installed_from(job) == (workspace / ".contract-check-tool").resolve().as_uri()
    checkout_untouched(workspace)


def test_the_readme_step_runs_in_a_fresh_clone_of_a_field_store(
    tmp_path: Path, tool_clone: tuple[Path, str], wheels: Path, field_index: LoopbackIndex
) -> None:
    """18 "confusing": the one-step block checks the Store out itself (without, the tool would check the
    published Store); here after a step of the Store's own that takes its submodules."""
    world = make_world(tmp_path, tool_clone, wheels, field_index.url, store_origin(tmp_path / "origin"))
    steps = readme_block("OWNER/contract-check@", world.tool_sha)["steps"]
    assert str(steps[0]["uses"]).startswith("actions/checkout@"), steps
    submodules = {
        "name": "submodules",
        "run": "git -c protocol.file.allow=always submodule update -q --init vendor/schemas",
    }
    workspace = tmp_path / "workspace"
    job = Job(world, "contracts", workspace, {}).run([steps[0], submodules, *steps[1:]])

    outputs = job.steps[-1].outputs
    assert job.steps[-1].uses == f"OWNER/contract-check@{world.tool_sha}", job.log
    assert (outputs["verdict"], outputs["exit-code"]) == ("compatible", "0"), (outputs, job.log)
    report = json.loads((world.artifacts[outputs["report"]] / "contract-report.json").read_text())
    assert report["store"]["spec"] == "." and report["store"]["version"] == "0.2.0"
    assert [r["core_ref"] for r in report["runs"]] == ["1.4.61"]
    assert installed_from(job) == world.fetch_action(world.tool_sha).resolve().as_uri()
    assert (workspace / "vendor" / "schemas" / "schemas_vendored.py").is_file()  # the submodule is there
    checkout_untouched(workspace)
