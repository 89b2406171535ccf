"""The ``run:`` steps of the reusable workflow and of the composite action, executed in bash as a runner would.

Each file is parsed with PyYAML; the steps that only install things (setup-python, pip install, a venv) are
skipped, and what they would have produced is stood in for by the project's own installed CLI (on PATH, or
as the action's private venv). The remaining ``run:`` steps get a GitHub-like environment: their ``env:``
with ``${{ inputs.* }}`` / ``${{ github.* }}`` / ``${{ env.* }}`` ... replaced by test values, fresh
``$GITHUB_OUTPUT`` / ``$GITHUB_STEP_SUMMARY`` files, ``$RUNNER_TEMP``, and GitHub's shell for the step
(``bash -e {0}`` by default, ``bash --noprofile --norc -eo pipefail {0}`` for ``shell: bash``). They run
against the fixture packages; the tests assert the exit code, the step summary, the step outputs (and the
workflow's / action's outputs built from them) and the report files the steps promise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import cli_env
from fixturepkgs import CORE_DIST, FixtureWorld, write_store_project

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "contract-check.yml"
ACTION = ROOT / "action.yml"
BIN = Path(sys.executable).parent  # not resolved: the venv's bin, where its contract-check script lives

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_INSTALLS = re.compile(r"\bpip install\b|\s-m venv\s|\buv (?:pip install|tool install|sync)\b")
_RUNS_TOOL = re.compile(r"(?<![\w-])contract-check(?![\w/-])")  # the command; not contract-check-venv, not a dir
_VENV = re.compile(r'-m venv "\$RUNNER_TEMP/([\w.-]+)"')


# --- reading the files ------------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def workflow_inputs(workflow: dict[str, Any]) -> dict[str, Any]:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    return dict(triggers["workflow_call"]["inputs"])


def with_defaults(declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(declared)
    assert not unknown, f"inputs the file does not declare: {sorted(unknown)}"
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            values[name] = given[name]
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            assert not spec.get("required"), f"required input {name!r} not given"
            values[name] = ""
    return values


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """Replace every ``${{ a.b.c }}`` (a plain property path) with its value from *contexts*."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        found: Any = contexts
        parts = expression.split(".")
        for i, part in enumerate(parts):
            if i > 0 and parts[i - 1] == "outputs" and isinstance(found, Mapping) and part not in found:
                return ""  # a step output that was never set is empty
            if not isinstance(found, Mapping) or part not in found:
                pytest.fail(f"the test does not know the expression ${{{{ {expression} }}}}: add a value for it")
            found = found[part]
        if isinstance(found, bool):
            return "true" if found else "false"
        return "" if found is None else str(found)

    return _EXPRESSION.sub(value, text)


@dataclass
class Split:
    skipped: list[dict[str, Any]]  # install-only steps and `uses:` steps
    run: list[dict[str, Any]]  # what the test executes, in order


def split_steps(steps: list[dict[str, Any]]) -> Split:
    """Install-only ``run:`` steps are skipped; a step that both installs and runs the tool is an error."""
    split = Split([], [])
    for step in steps:
        script = step.get("run")
        if script is None:
            split.skipped.append(step)
            continue
        lines = script.splitlines()
        installs = [line for line in lines if _INSTALLS.search(line)]
        checks = [line for line in lines if _RUNS_TOOL.search(line) and not _INSTALLS.search(line)]
        assert not (installs and checks), (
            f"step {step.get('name')!r} installs and runs contract-check: split it into two steps"
        )
        (split.skipped if installs else split.run).append(step)
    assert any(_RUNS_TOOL.search(step["run"]) for step in split.run), "no step runs contract-check"
    return split


def promised_files(steps: list[dict[str, Any]]) -> list[str]:
    """The paths an upload-artifact step collects (what the check step promises to leave behind)."""
    paths: list[str] = []
    for step in steps:
        if str(step.get("uses", "")).startswith("actions/upload-artifact@"):
            paths += [p.strip() for p in str(step["with"]["path"]).splitlines() if p.strip()]
    return paths


# --- running steps ----------------------------------------------------------------------------------


def parse_outputs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT``: ``name=value`` lines and ``name<<DELIMITER`` blocks; the last value wins."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block: list[str] = []
            for body in lines:
                if body == delimiter:
                    break
                block.append(body)
            else:
                pytest.fail(f"unterminated {name}<<{delimiter} block in $GITHUB_OUTPUT")
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        elif line.strip():
            pytest.fail(f"malformed $GITHUB_OUTPUT line {line!r}")
    return outputs


@dataclass
class StepRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def bash(step: dict[str, Any], default_shell: str | None) -> list[str]:
    shell = step.get("shell", default_shell)
    if shell is None:  # GitHub's default on Linux
        return ["bash", "-e"]
    assert shell == "bash", f"step {step.get('name')!r}: the test only runs bash steps, not {shell!r}"
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


class Runner:
    """A job's worth of GitHub-like state: a workspace, RUNNER_TEMP, one set of step files per step."""

    def __init__(self, tmp_path: Path, workspace: Path) -> None:
        self.tmp = tmp_path
        self.workspace = workspace
        self.runner_temp = tmp_path / "runner-temp"
        self.runner_temp.mkdir()
        (tmp_path / "tmp").mkdir()
        self.count = 0
        assert (BIN / "contract-check").is_file(), f"contract-check is not installed next to {sys.executable}"

    def base_env(self) -> dict[str, str]:
        env = cli_env(self.tmp / "tmp")  # no GITHUB_*/PYTEST_* of the outer run; an isolated TMPDIR
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', os.defpath)}",
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.workspace),
            RUNNER_OS="Linux",
            RUNNER_TEMP=str(self.runner_temp),
            # a fresh runner: no result from another test is reused, so each run installs (and logs it)
            CONTRACT_CHECK_CACHE_DIR=str(self.tmp / "cache"),
        )
        return env

    def run(self, step: dict[str, Any], contexts: Mapping[str, Any], default_shell: str | None = None) -> StepRun:
        self.count += 1
        files = self.tmp / f"step-{self.count}"
        files.mkdir()
        env = self.base_env()
        github_files = {
            "GITHUB_OUTPUT": files / "output",
            "GITHUB_STEP_SUMMARY": files / "summary.md",
            "GITHUB_ENV": files / "env",
            "GITHUB_PATH": files / "path",
        }
        for name, path in github_files.items():
            path.touch()  # the runner creates them empty
            env[name] = str(path)
        contexts = {**contexts, "env": env}
        env.update({name: substitute(str(value), contexts) for name, value in (step.get("env") or {}).items()})
        script = files / "script.sh"
        script.write_text(substitute(step["run"], contexts), encoding="utf-8")
        cwd = self.workspace / step.get("working-directory", ".")
        done = subprocess.run(
            [*bash(step, default_shell), str(script)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return StepRun(
            done.returncode,
            done.stdout,
            done.stderr,
            parse_outputs(github_files["GITHUB_OUTPUT"].read_text(encoding="utf-8")),
            github_files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8"),
        )


def run_steps(
    runner: Runner, steps: list[dict[str, Any]], contexts: dict[str, Any], default_shell: str | None = None
) -> StepRun:
    """Run the steps in order (the job stops at the first that fails); return the last one run."""
    contexts.setdefault("steps", {})
    last: StepRun | None = None
    for step in steps:
        last = runner.run(step, contexts, default_shell)
        if "id" in step:
            contexts["steps"][step["id"]] = {"outputs": last.outputs}
        if last.code != 0:
            break
    assert last is not None
    return last


def assert_published(result: StepRun, ref: str, code: int, verdict: str) -> None:
    assert result.code == code, result.output
    assert result.outputs["verdict"] == verdict, result.outputs
    assert result.outputs["exit-code"] == str(code), result.outputs
    if code in (0, 1):
        heading = {0: "compatible", 1: "BROKEN"}[code]
        assert result.summary.startswith(f"### contract-check: {heading}\n"), result.summary
        assert f"**Core:** `{ref}`" in result.summary and f"**exit code {code}**" in result.summary
        assert ("IMPORT_FAILED" in result.summary) is (code == 1)
        assert f"::group::uv install for {ref}" in result.stderr  # uv's output, folded in the log
        assert "::endgroup::" in result.stderr
    else:
        assert result.summary == ""  # a usage error: no report to publish


CASES = [
    pytest.param("1.0.0", 0, "compatible", id="compatible"),
    pytest.param("1.3.0", 1, "broken", id="import-broken"),
    pytest.param("not a ref", 2, "error", id="usage-error"),
]


# --- the reusable workflow --------------------------------------------------------------------------


@pytest.fixture
def store_checkout(tmp_path: Path, fixture_world: FixtureWorld) -> Path:
    """The caller's checkout: the Store project, with the fixture index settings in [tool.contract-check]
    (the reusable workflow has no input for --core-package/--find-links)."""
    checkout = write_store_project(tmp_path / "checkout")
    with (checkout / "pyproject.toml").open("a", encoding="utf-8") as fh:
        links = json.dumps(str(fixture_world.find_links))  # a TOML basic string
        fh.write(f'\n[tool.contract-check]\ncore-package = "{CORE_DIST}"\nfind-links = [{links}]\n')
    return checkout


@pytest.mark.parametrize(("ref", "code", "verdict"), CASES)
def test_reusable_workflow(tmp_path: Path, store_checkout: Path, ref: str, code: int, verdict: str) -> None:
    workflow = load(WORKFLOW)
    ((job_id, job),) = workflow["jobs"].items()
    split = split_steps(job["steps"])
    assert [s.get("name") for s in split.skipped if "run" in s] == ["Install contract-check"]
    inputs = with_defaults(workflow_inputs(workflow), {"core_ref": ref})
    runner = Runner(tmp_path, store_checkout)
    contexts: dict[str, Any] = {"inputs": inputs, "github": {"workspace": str(store_checkout)}}
    default_shell = ((job.get("defaults") or workflow.get("defaults") or {}).get("run") or {}).get("shell")
    result = run_steps(runner, split.run, contexts, default_shell)

    assert_published(result, ref, code, verdict)
    assert result.outputs["artifact"] == "contract-report-" + re.sub(r"[^A-Za-z0-9._-]", "_", ref)
    # the workflow's output, through the job's outputs, is the step's verdict
    jobs = {job_id: {"outputs": {k: substitute(v, contexts) for k, v in job["outputs"].items()}}}
    declared = workflow.get("on", workflow.get(True))["workflow_call"]["outputs"]
    assert substitute(declared["verdict"]["value"], {"jobs": jobs}) == verdict

    promised = promised_files(job["steps"])
    assert promised == ["contract-report.json", "contract-report.xml"]
    if code in (0, 1):
        missing = [p for p in promised if not (store_checkout / p).is_file()]
        assert not missing, (missing, result.output)
        report = json.loads((store_checkout / "contract-report.json").read_text(encoding="utf-8"))
        assert report["summary"]["exit_code"] == code
        assert report["store"]["spec"] == "." and report["store"]["name"] == "cc-fixture-store"
        assert "<testsuites" in (store_checkout / "contract-report.xml").read_text(encoding="utf-8")


# --- the composite action ---------------------------------------------------------------------------


def install_action_venv(runner: Runner, skipped: list[dict[str, Any]]) -> None:
    """Stand in for the skipped install step: its private venv under RUNNER_TEMP is this test's venv."""
    names = [m.group(1) for step in skipped for m in _VENV.finditer(step.get("run", ""))]
    assert len(names) == 1, names
    (runner.runner_temp / names[0]).symlink_to(BIN.parent, target_is_directory=True)


@pytest.mark.parametrize(("ref", "code", "verdict"), CASES)
def test_composite_action(tmp_path: Path, fixture_world: FixtureWorld, ref: str, code: int, verdict: str) -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    split = split_steps(steps)
    assert [s.get("name") for s in split.skipped if "run" in s] == ["Install contract-check"]
    inputs = with_defaults(
        action["inputs"],
        {
            "core-ref": ref,
            "store": str(fixture_world.store_wheel),
            "extra-args": f"--core-package {CORE_DIST} --find-links {fixture_world.find_links}",
        },
    )
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    runner = Runner(tmp_path, workspace)
    install_action_venv(runner, split.skipped)
    contexts: dict[str, Any] = {
        "inputs": inputs,
        "github": {"action_path": str(ROOT), "workspace": str(workspace)},
        "runner": {"temp": str(runner.runner_temp)},
        "steps": {"python": {"outputs": {"python-path": sys.executable}}},
    }
    result = run_steps(runner, split.run, contexts)

    assert_published(result, ref, code, verdict)
    report = runner.runner_temp / "contract-check" / "contract-report.json"
    # the action's outputs are the check step's
    declared = {name: substitute(spec["value"], contexts) for name, spec in action["outputs"].items()}
    assert declared["verdict"] == verdict and declared["exit-code"] == str(code)
    if code in (0, 1):
        assert declared["report"] == str(report) and report.is_file(), result.output
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["summary"]["exit_code"] == code and data["runs"][0]["core_ref"] == ref
    else:
        assert declared["report"] == "" and not report.exists()
