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
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: the last major of each action that still ran on Node 20 (runners forced Node 24 from June 2026 and removed
#: Node 20 in September 2026): a pin must be a later major
NODE20_LAST_MAJOR = {
    "actions/checkout": 4,
    "actions/setup-python": 5,
    "actions/cache": 4,
    "actions/upload-artifact": 4,
    "actions/download-artifact": 4,
}
#: how the snippets pin this project: OWNER/contract-check[/path]@<full commit>, the release in a comment at
#: the end of the line (docs/releasing.md rewrites exactly these shapes)
_OUR_REF = re.compile(r"OWNER/contract-check(?:/[\w./-]*)?@(\S+)")
_OUR_PIN = re.compile(r"OWNER/contract-check(?:/[\w./-]*)?@([0-9a-f]{40})\b.*#\s(v\d+\.\d+\.\d+)$")
_REV_PIN = re.compile(r"^\s*rev:\s*([0-9a-f]{40})\s+#\s*frozen:\s(v\d+\.\d+\.\d+)$")

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


def fenced_lines(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """Every line of every fenced block (any language) of *paths*: what a reader copies."""
    for path in paths:
        for m in re.finditer(r"^ *```[\w-]*\n(.*?)^ *```", path.read_text(encoding="utf-8"), re.S | re.M):
            for line in m.group(1).splitlines():
                yield path, line


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
        version = re.match(r"\s*#\s*v(\d+)\.\d+\.\d+\b", rest)
        assert version, f"{where}: say which release the SHA is (# vX.Y.Z)"
        action = ref.split("@")[0]
        assert action in NODE20_LAST_MAJOR, f"{where}: a new action: add its last Node 20 major to the table"
        assert int(version.group(1)) > NODE20_LAST_MAJOR[action], f"{where}: a Node 20 release of {action}"
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


def test_every_action_is_pinned_to_one_release_everywhere() -> None:
    """The workflows, the actions and the snippets pin each third-party action to the same commit and release."""
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in [*WORKFLOWS, *ACTIONS, *SNIPPET_DOCS]:
        for _, ref, rest in uses_lines(path):
            if ref.startswith("actions/"):
                pins.setdefault(ref.split("@")[0], set()).add((ref.split("@")[1], rest.strip()))
    assert set(pins) == set(NODE20_LAST_MAJOR), sorted(pins)
    assert all(len(found) == 1 for found in pins.values()), pins


def test_snippets_for_stores_reference_this_project_by_owner_repo_ref() -> None:
    blocks = list(snippets())
    assert len(blocks) >= 6
    for path, block in blocks:
        for ref in re.findall(r"uses:\s*(\S+)", block):
            assert not ref.startswith(("./", "$/")), f"{path.name}: {ref} would name the Store's own files"
            assert _REF.match(ref), f"{path.name}: {ref}"
            if "contract-check" in ref:
                assert re.match(r"^OWNER/contract-check(/\.github/workflows/[\w.-]+\.yml)?@[0-9a-f]{40}$", ref), ref


def test_every_snippet_pins_this_project_by_one_release_commit() -> None:
    """18.3: no `@v1` (no such tag), no `@main`; the full commit of one release, the release in a comment, in the
    shapes docs/releasing.md rewrites: uses: lines, pip/uvx git URLs, pre-commit's rev."""
    pins: set[tuple[str, str]] = set()
    for path, line in fenced_lines(DOCS):
        where = f"{path.name}: {line.strip()}"
        for ref in _OUR_REF.findall(line):
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{where}: pin this project by a release's full commit SHA"
            found = _OUR_PIN.search(line)
            assert found, f"{where}: end the line with the release the SHA is (# vX.Y.Z)"
            pins.add(found.groups())
        if re.match(r"^\s*rev:", line):
            found = _REV_PIN.match(line)
            assert found, f"{where}: pre-commit pins a full commit SHA (# frozen: vX.Y.Z)"
            pins.add(found.groups())
        assert not re.search(r"contract-check[\w./-]*@(v\d|main\b|master\b)", line), where
    assert len(pins) == 1, pins  # one release: a partial update of the pins shows here
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for text in (readme, (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")):
        assert "git ls-remote https://github.com/OWNER/contract-check 'refs/tags/vX.Y.Z^{}'" in text
    assert "docs/releasing.md" in readme and (ROOT / "docs" / "releasing.md").is_file()


def test_the_readme_installs_the_tool_from_its_repository_not_by_name() -> None:
    """18: `contract-check` on the index is another project; the README gives the remote forms, pinned."""
    lines = [line for path, line in fenced_lines([ROOT / "README.md"])]
    assert any(line.startswith("uvx --from git+https://github.com/OWNER/contract-check@") for line in lines), lines
    assert any(line.startswith("pip install git+https://github.com/OWNER/contract-check@") for line in lines)
    by_name = re.compile(r"\b(pip install|uvx|uv tool install|pipx install)\s+(pydantic-)?contract-check\b")
    assert not [line for line in lines if by_name.search(line)]


def test_a_step_snippet_checks_the_store_out_first() -> None:
    """18: without a checkout the action checks the Store published on the index, not the caller's."""
    found = 0
    for path, block in snippets():
        data = yaml.safe_load(block)
        steps = data.get("steps") if isinstance(data, dict) else data
        if not isinstance(steps, list):
            continue
        uses = [str(step.get("uses", "")) for step in steps]
        ours = [i for i, ref in enumerate(uses) if ref.startswith("OWNER/contract-check@")]
        if ours:
            found += 1
            assert any(ref.startswith("actions/checkout@") for ref in uses[: ours[0]]), (path.name, uses)
    assert found >= 2  # the README's and docs/ci.md's


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
    assert hook["minimum_pre_commit_version"] == "3.2.0"  # the stage name pre-push needs it (before: push)
    # on demand: a manual run looks at staged files only, and pyproject.toml rarely is: --all-files
    manual = "pre-commit run --hook-stage manual contract-check"
    for text in ((ROOT / "docs" / "ci.md").read_text(encoding="utf-8"), (ROOT / ".pre-commit-hooks.yaml").read_text()):
        assert text.count(manual) >= 1 and text.count(manual) == text.count(manual + " --all-files"), manual


def test_packaging() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] == "pydantic-contract-check"
    assert project["scripts"] == {"contract-check": "contract_check.cli.app:main"}
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
