"""The CI files read as data: references, the one interface, what the Store snippets name, packaging. Fast."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gha import evaluate, load, triggers

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = [ROOT / "action.yml", *sorted((ROOT / ".github" / "actions").glob("*/action.yml"))]
REUSABLE = {p.name: p for p in WORKFLOWS if "workflow_call" in triggers(load(p))}
SNIPPET_DOCS = [ROOT / "docs" / "ci.md", ROOT / "README.md"]

INPUTS = {
    "core-ref",
    "core-range",
    "store",
    "contracts",
    "with",
    "python-version",
    "index-url",
    "find-links",
    "strict",
    "summary",
    "extra-args",
}
OUTPUTS = {"verdict", "exit-code", "report", "suggested-specifier"}
SECRETS = {"index-token", "core-git-token"}
_SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
_REF = re.compile(r"^(\./[\w./-]*|\$/[\w./-]+|[\w.-]+/[\w.-]+(/[\w./-]+)?@[\w./-]+|docker://\S+)$")
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def uses_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, the reference, the rest of the line) for every `uses:` in a file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if m := re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line):
            yield number, m.group(1), m.group(2)


def all_steps(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "runs" in data:
        yield from data["runs"].get("steps") or []
    for job in (data.get("jobs") or {}).values():
        yield from job.get("steps") or []


def snippets() -> Iterator[tuple[Path, str]]:
    """Every fenced YAML block of the docs written for Store repositories."""
    for path in SNIPPET_DOCS:
        for m in re.finditer(r"```ya?ml\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            yield path, m.group(1)


# --- references -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_uses_is_well_formed_and_third_party_ones_are_pinned(path: Path) -> None:
    found = list(uses_lines(path))
    for number, ref, rest in found:
        where = f"{path.name}:{number}: {ref}"
        assert _REF.match(ref), f"{where}: not ./path, $/path, owner/repo[/path]@ref or docker://"
        if ref.startswith(("./", "$/", "docker://")):
            continue
        assert _SHA_PIN.match(ref), f"{where}: pin third-party actions by full commit SHA"
        assert re.match(r"\s*#\s*v\d+\.\d+\.\d+\b", rest), f"{where}: say which release the SHA is (# vX.Y.Z)"
    if path.name == "action.yml":  # run from the caller's job: ./ would be the caller's workspace
        assert not [r for _, r, _ in found if r.startswith(("./", "$/"))], path


@pytest.mark.parametrize("name", sorted(REUSABLE))
def test_reusable_workflows_reach_this_project_only_through_their_own_checkout(name: str) -> None:
    """In a workflow another repository calls, ./ and $/ point at the caller: only the tool's checkout may be used."""
    for number, ref, _ in uses_lines(REUSABLE[name]):
        assert not ref.startswith("$/"), f"{name}:{number}"
        if ref.startswith("./"):
            assert ref.startswith("./.contract-check-tool"), f"{name}:{number}: {ref} is the caller's file"
    text = REUSABLE[name].read_text(encoding="utf-8")
    assert "repository: ${{ job.workflow_repository }}" in text and "ref: ${{ job.workflow_sha }}" in text


def test_snippets_for_stores_reference_this_project_by_owner_repo_ref() -> None:
    blocks = list(snippets())
    assert len(blocks) >= 6
    for path, block in blocks:
        for ref in re.findall(r"uses:\s*(\S+)", block):
            assert not ref.startswith(("./", "$/")), f"{path.name}: {ref} would name the Store's own files"
            assert _REF.match(ref), f"{path.name}: {ref}"
            if "contract-check" in ref:
                assert re.match(r"^OWNER/contract-check(/\.github/workflows/[\w.-]+\.yml)?@v\d+$", ref), ref


def test_snippets_use_the_real_input_secret_and_output_names() -> None:
    action = load(ROOT / "action.yml")
    checked = 0
    for path, block in snippets():
        data = yaml.safe_load(block)
        items = data if isinstance(data, list) else [data]
        for item in items:
            for job in _jobs_and_steps(item):
                ref = str(job.get("uses", ""))
                if ref.startswith("OWNER/contract-check/.github/workflows/"):
                    call = triggers(load(REUSABLE[ref.split("/")[-1].split("@")[0]]))["workflow_call"]
                    assert set(job.get("with") or {}) <= set(call["inputs"]), (path.name, job)
                    secrets = job.get("secrets") or {}
                    assert secrets == "inherit" or set(secrets) <= set(call.get("secrets") or {}), (path.name, job)
                    checked += 1
                elif ref.startswith("OWNER/contract-check@"):
                    assert set(job.get("with") or {}) <= set(action["inputs"]), (path.name, job)
                    checked += 1
        for name in re.findall(r"\.outputs\.([\w-]+)", block):
            assert name in OUTPUTS | {"verdict"}, f"{path.name}: no output {name!r}"
    assert checked >= 5


def _jobs_and_steps(item: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(item, dict):
        return
    if "uses" in item:
        yield item
    for key in ("jobs",):
        for job in (item.get(key) or {}).values():
            yield from _jobs_and_steps(job)
    for step in item.get("steps") or []:
        yield from _jobs_and_steps(step)
    for value in item.values():  # a block that starts at a job id (`contracts: {uses: ...}`)
        if isinstance(value, dict) and "uses" in value:
            yield value


# --- one interface -----------------------------------------------------------------------------------


def test_action_and_workflows_share_one_interface() -> None:
    action = load(ROOT / "action.yml")
    assert set(action["inputs"]) == INPUTS | SECRETS  # an action has no secrets: the tokens are inputs
    assert set(action["outputs"]) == OUTPUTS
    for name in ("contract-check.yml", "matrix.yml"):
        call = triggers(load(REUSABLE[name]))["workflow_call"]
        assert set(call["inputs"]) == INPUTS, name
        assert set(call["outputs"]) == OUTPUTS, name
        assert set(call["secrets"]) == SECRETS, name
        assert not any(s.get("required") for s in call["secrets"].values())


def _expressions(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from (m.group(1) for m in _EXPR.finditer(value))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _expressions(v)
    elif isinstance(value, list):
        for v in value:
            yield from _expressions(v)


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_input_and_secret_named_is_declared(path: Path) -> None:
    data = load(path)
    if path.name == "action.yml" or path.parent.parent.name == "actions":
        inputs, secrets = set(data.get("inputs") or {}), None
    else:
        on = triggers(data)
        inputs = {k for t in ("workflow_call", "workflow_dispatch") for k in ((on.get(t) or {}).get("inputs") or {})}
        declared = (on.get("workflow_call") or {}).get("secrets")
        secrets = set(declared) | {"GITHUB_TOKEN"} if declared is not None else None
    text = " ".join(_expressions(data))
    for name in re.findall(r"\binputs\.([\w-]+)", text):
        assert name in inputs, f"{path.name}: ${{{{ inputs.{name} }}}} is not a declared input"
    if secrets is not None:
        for name in re.findall(r"\bsecrets\.([\w-]+)", text):
            assert name in secrets, f"{path.name}: ${{{{ secrets.{name} }}}} is not a declared secret"
    for step in all_steps(data):  # secrets reach scripts through env:, never pasted into the script
        assert "secrets." not in str(step.get("run", "")) and "inputs." not in str(step.get("run", "")), step


_INSTALL = re.compile(r"\b(?:pip|uv pip|uv tool|pipx)\s+install\b(.*)")


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_step_installs_the_tool_by_name(path: Path) -> None:
    """The tool comes from a path (the action's or this repository's checkout), never from an index by name."""
    for step in all_steps(load(path)):
        for line in str(step.get("run", "")).splitlines():
            if not (m := _INSTALL.search(line)):
                continue
            words = [w for w in m.group(1).split() if not w.startswith("-") and not w.startswith('"$venv')]
            named = [w for w in words if re.fullmatch(r"[\w.\[\],=<>!~-]+", w)]  # requirement-like, not a path
            assert set(named) <= {"uv"}, f"{path.name}: {line.strip()!r} installs {named} by name"
            assert not re.search(r"(?<![\w/$.-])(pydantic-)?contract[-_]check\b", m.group(1)), line


# --- the dispatch entry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"inputs": {"core_ref": "v1.1.1"}, "github": {"event": {}}}, "v1.1.1"),
        ({"inputs": {}, "github": {"event": {"client_payload": {"version": "1.1.1", "origin": "core"}}}}, "1.1.1"),
        ({"inputs": {}, "github": {"event": {"client_payload": {"core_ref": "git:main"}}}}, "git:main"),
        ({"inputs": {}, "github": {"event": {"client_payload": {}}}}, "latest"),
    ],
)
def test_dispatch_entry_takes_what_core_sends(event: dict[str, Any], expected: str) -> None:
    data = load(ROOT / ".github" / "workflows" / "dispatch_contracts.yml")
    on = triggers(data)
    assert set(on["workflow_dispatch"]["inputs"]) == {"core_ref"}  # Core's scripts call it so
    assert set(on["repository_dispatch"]["types"]) == {"core_release", "core-release"}
    ((_, job),) = data["jobs"].items()
    assert job["uses"] == "./.github/workflows/contract-check.yml"
    expression = _EXPR.fullmatch(job["with"]["core-ref"].strip())
    assert expression is not None
    assert evaluate(expression.group(1), event, {}) == expected


# --- pre-commit and packaging ----------------------------------------------------------------------------


def test_pre_commit_hook() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "contract-check" and hook["entry"] == "contract-check"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    assert hook["files"] == r"^pyproject\.toml$" and set(hook["stages"]) == {"pre-push", "manual"}
    assert re.match(hook["files"], "pyproject.toml") and not re.match(hook["files"], "sub/pyproject.toml")


def test_packaging() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] == "pydantic-contract-check"
    assert project["scripts"] == {"contract-check": "contract_check.cli:main"}
    assert "version" not in project and project["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/contract_check/__init__.py"
    assert {"Operating System :: POSIX", "Operating System :: POSIX :: Linux", "Operating System :: MacOS"} <= set(
        project["classifiers"]
    )
    assert {f"Programming Language :: Python :: 3.{n}" for n in (11, 12, 13)} <= set(project["classifiers"])
    assert "optional-dependencies" not in project  # dev tools are dependency groups, never published
    groups = pyproject["dependency-groups"]
    assert {"ruff", "mypy", "zizmor"} <= {re.split(r"[<>=\[]", r)[0] for r in groups["lint"]}
    assert {"pytest", "pytest-xdist", "hypothesis"} <= {re.split(r"[<>=\[]", r)[0] for r in groups["test"]}
    assert all("OWNER/contract-check" in url for url in project["urls"].values())
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    version = re.search(r'^__version__ = "(.+)"$', (ROOT / "src/contract_check/__init__.py").read_text(), re.M)
    assert version and version.group(1) in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
