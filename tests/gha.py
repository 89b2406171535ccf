"""A small stand-in for a GitHub Actions runner, for the tests of the workflows and the composite action.

``Job.run_steps`` runs a job's steps in order as a runner does: ``run:`` steps in bash (GitHub's shell
invocation) with ``$GITHUB_OUTPUT``/``$GITHUB_STEP_SUMMARY``/... files and the step's ``env:``; ``uses: ./path``
composite actions expanded from the workspace with their inputs, outputs and ``github.action_path``; this
project's own action named as a Store names it (``OWNER/contract-check@<sha>``) fetched as a runner fetches it,
a clone at that commit outside the workspace; the JavaScript actions this project uses replaced by stand-ins
(``STAND_INS``) that do what the test needs of them (a checkout is a real ``git clone``: of the caller's
repository, ``World.store_repo``, with its submodules left empty unless asked for, or of the tool at the commit
under test; artifacts are copied between jobs); ``if:`` conditions and ``${{ }}`` expressions evaluated by a
small evaluator (``evaluate``). Anything else fails the test loudly.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# --- expressions ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|!|\(|\)|,|\.|\[|\])|(?P<id>[A-Za-z_][\w-]*))"
)
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]):
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text.rstrip()):
            match = _TOKEN.match(text, pos)
            if not match:
                raise ValueError(f"cannot parse expression {text!r} at {text[pos:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0
        self.contexts = contexts
        self.functions = functions

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.at != len(self.tokens):
            raise ValueError(f"trailing tokens {self.tokens[self.at :]}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.not_()
        while self.peek() == "&&":
            self.take()
            right = self.not_()
            value = right if truthy(value) else value
        return value

    def not_(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.not_())
        return self.compare()

    def compare(self) -> Any:
        left = self.primary()
        if self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.primary()
            same = (
                str(left).lower() == str(right).lower()
                if isinstance(left, str) or isinstance(right, str)
                else left == right
            )
            return same if op == "==" else not same
        return left

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "id":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return self.functions[text](*args)
        value: Any = self.contexts.get(text)
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key: Any = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            value = value.get(key) if isinstance(value, Mapping) else None  # a missing property is null
        return value


def evaluate(text: str, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> Any:
    return _Parser(text, contexts, functions).parse()


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def substitute(text: str, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> Any:
    """``${{ }}`` replaced in *text*; a value that is one whole expression keeps its type (as the runner's does)."""
    whole = _EXPRESSION.fullmatch(text.strip())
    if whole and len(_EXPRESSION.findall(text)) == 1:
        return evaluate(whole.group(1), contexts, functions)
    return _EXPRESSION.sub(lambda m: as_text(evaluate(m.group(1), contexts, functions)), text)


# --- files ----------------------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    return dict(workflow.get("on", workflow.get(True)) or {})  # YAML 1.1 reads a bare `on` key as True


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
                raise AssertionError(f"unterminated {name}<<{delimiter} block in $GITHUB_OUTPUT")
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        elif line.strip():
            raise AssertionError(f"malformed $GITHUB_OUTPUT line {line!r}")
    return outputs


# --- running a job --------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    uses: str | None
    code: int
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    script: str = ""


@dataclass
class World:
    """What outlives one job of a workflow run: the artifacts, the tool repository, the machine's settings."""

    root: Path
    tool_repo: Path  # a clone of the project at the commit under test
    tool_sha: str
    python: str  # what setup-python provides
    env: dict[str, str]  # the runner's environment (installers pointed at the wheelhouse)
    repository: str = "OWNER/contract-check"
    artifacts: dict[str, Path] = field(default_factory=dict)
    caches: list[dict[str, Any]] = field(default_factory=list)
    jobs: int = 0  # jobs started, for their own RUNNER_TEMP and HOME
    cache_hits: list[str | None] = field(default_factory=list)  # the key each cache step restored
    store_repo: Path | None = None  # the caller's repository: what a checkout of github.repository clones

    def fetch_action(self, ref: str) -> Path:
        """This project's repository at *ref*, where a runner keeps the actions it downloads (not the workspace)."""
        assert ref == self.tool_sha, f"{self.repository}@{ref}: a Store pins this project by the commit under test"
        where = self.root / "_actions" / self.repository / ref
        if not where.is_dir():
            clone(self.tool_repo, where, ref)
        return where


class Job:
    def __init__(self, world: World, name: str, workspace: Path, contexts: dict[str, Any]) -> None:
        self.world = world
        self.name = name
        self.workspace = workspace
        workspace.mkdir(parents=True, exist_ok=True)  # a runner's workspace exists, empty, when a job starts
        world.jobs += 1
        self.runner_temp = world.root / f"runner-temp-{world.jobs}-{name}"
        self.runner_temp.mkdir(parents=True)
        self.home = world.root / f"home-{world.jobs}-{name}"  # a fresh runner: nothing under ~/.cache
        self.home.mkdir()
        self.post: list[Callable[[], None]] = []  # what actions run after the job's steps (cache saves)
        self.failed = False
        self.steps: list[Step] = []
        self.step_context: dict[str, Any] = {}
        self.scripts = 0
        github = {"workspace": str(workspace), "job": name, "repository": "OWNER/market-data-store"}
        self.contexts = {
            "github": github,
            "job": {"workflow_repository": world.repository, "workflow_sha": world.tool_sha},
            "runner": {"temp": str(self.runner_temp), "os": "Linux", "arch": "X64"},
            "inputs": {},
            "secrets": {},
            "matrix": {},
            "needs": {},
            **contexts,
        }

    # the status functions and hashFiles, as the runner offers them
    def functions(self) -> dict[str, Callable[..., Any]]:
        def hash_files(*patterns: str) -> str:
            digest = hashlib.sha256()
            for path in sorted(p for pattern in patterns for p in self.workspace.glob(pattern) if p.is_file()):
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            return digest.hexdigest()

        return {
            "success": lambda: not self.failed,
            "failure": lambda: self.failed,
            "always": lambda: True,
            "cancelled": lambda: False,
            "fromJSON": json.loads,
            "toJSON": json.dumps,
            "hashFiles": hash_files,
        }

    def value(self, text: Any, contexts: Mapping[str, Any]) -> Any:
        return substitute(str(text), contexts, self.functions()) if isinstance(text, str) else text

    def env(self, extra: Mapping[str, str], files: Path) -> dict[str, str]:
        env = dict(self.world.env)
        env.update(
            GITHUB_ACTIONS="true",
            CI="true",
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_JOB=self.name,
            GITHUB_REPOSITORY=self.contexts["github"]["repository"],
            RUNNER_OS="Linux",
            RUNNER_ARCH="X64",
            RUNNER_TEMP=str(self.runner_temp),
            HOME=str(self.home),
        )
        for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH"):
            path = files / name.lower()
            path.touch()  # the runner creates them empty
            env[name] = str(path)
        env.update(extra)
        return env

    def run_steps(
        self, steps: list[dict[str, Any]], contexts: dict[str, Any] | None = None, action_path: str = ""
    ) -> dict[str, Any]:
        """Run *steps* (a job's, or a composite action's with its own *contexts*); return their ``steps`` context."""
        contexts = dict(self.contexts if contexts is None else contexts)
        contexts["steps"] = step_outputs = {}
        if action_path:
            contexts["github"] = {**contexts["github"], "action_path": action_path}
        for raw in steps:
            condition = str(raw.get("if", "success()")).strip()
            condition = _EXPRESSION.sub(lambda m: m.group(1), condition)
            if not truthy(evaluate(condition, contexts, self.functions())):
                continue
            step = self.run_step(raw, contexts, action_path)
            if "id" in raw:
                step_outputs[raw["id"]] = {
                    "outputs": step.outputs,
                    "outcome": "success" if step.code == 0 else "failure",
                }
            if step.code != 0:
                self.failed = True
        return step_outputs

    def run_step(self, raw: dict[str, Any], contexts: dict[str, Any], action_path: str) -> Step:
        name = str(raw.get("name") or raw.get("uses") or raw.get("run", "")[:40])
        env = {k: as_text(self.value(v, contexts)) for k, v in (raw.get("env") or {}).items()}
        if action_path:
            env["GITHUB_ACTION_PATH"] = action_path
        if "run" in raw:
            step = self.run_script(
                name, self.value(raw["run"], contexts), env, raw.get("shell"), raw.get("working-directory")
            )
        else:
            uses = str(raw["uses"])
            given = {k: self.value(v, contexts) for k, v in (raw.get("with") or {}).items()}
            action, _, ref = uses.partition("@")
            ours = self.world.repository
            if uses.startswith("./"):
                step = self.run_local_action(name, uses, (self.workspace / uses).resolve(), given, env)
            elif action == ours or action.startswith(ours + "/"):
                path = self.world.fetch_action(ref) / action.removeprefix(ours).lstrip("/")
                step = self.run_local_action(name, uses, path, given, env)
            else:
                stand_in = STAND_INS.get(action)
                assert stand_in is not None, f"the test runner has no stand-in for {uses}"
                step = Step(name, uses, 0, outputs=stand_in(self, given))
        self.steps.append(step)
        return step

    def run_script(self, name: str, script: str, env: dict[str, str], shell: str | None, workdir: str | None) -> Step:
        self.scripts += 1
        files = self.runner_temp.parent / f"{self.runner_temp.name}-step-{self.scripts}"
        files.mkdir()
        step_env = self.env(env, files)
        path = files / "script.sh"
        path.write_text(script, encoding="utf-8")
        if shell is None:  # GitHub's default on Linux
            argv = ["bash", "-e", str(path)]
        else:
            assert shell == "bash", f"step {name!r}: the test only runs bash steps, not {shell!r}"
            argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)]
        done = subprocess.run(
            argv,
            cwd=self.workspace / (workdir or "."),
            env=step_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Step(
            name,
            None,
            done.returncode,
            done.stdout,
            done.stderr,
            parse_outputs(Path(step_env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")),
            Path(step_env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8"),
            script,
        )

    def run_local_action(
        self, name: str, uses: str, path: Path, given: Mapping[str, Any], env: Mapping[str, str]
    ) -> Step:
        action = load(path / "action.yml")
        assert action["runs"]["using"] == "composite", uses
        declared = action.get("inputs") or {}
        unknown = set(given) - set(declared)
        assert not unknown, f"{uses}: inputs the action does not declare: {sorted(unknown)}"
        inputs = {k: as_text(given[k]) if k in given else str(spec.get("default", "")) for k, spec in declared.items()}
        contexts = {**self.contexts, "inputs": inputs}
        failed_before = self.failed
        steps = self.run_steps(action["runs"]["steps"], contexts, action_path=str(path))
        outputs_contexts = {**contexts, "steps": steps}
        outputs = {
            k: as_text(self.value(spec["value"], outputs_contexts)) for k, spec in (action.get("outputs") or {}).items()
        }
        code = 1 if self.failed and not failed_before else 0
        return Step(name, uses, code, outputs=outputs)

    # what the job shows
    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} (exit {s.code})\n{s.stdout}{s.stderr}" for s in self.steps)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    def run(self, steps: list[dict[str, Any]]) -> Job:
        """Run a job's steps; its ``steps`` context is kept for the job's outputs."""
        self.step_context = self.run_steps(steps)
        for action in self.post:
            action()
        return self

    def outputs(self, declared: Mapping[str, Any]) -> dict[str, str]:
        """The job's ``outputs:`` (or a composite action's), evaluated against its steps."""
        contexts = {**self.contexts, "steps": self.step_context}
        return {k: as_text(self.value(v, contexts)) for k, v in declared.items()}


# --- stand-ins for the JavaScript actions ---------------------------------------------------------


def clone(source: Path, target: Path, ref: str | None = None, submodules: Any = False) -> None:
    """``git clone`` as actions/checkout leaves it: *ref* checked out, submodules only when asked for (else their
    directories stay empty, as git leaves every commit entry it does not fill)."""
    git = ["git", "-c", "protocol.file.allow=always", "-c", "advice.detachedHead=false"]
    subprocess.run([*git, "clone", "-q", str(source), str(target)], check=True)
    if ref:
        subprocess.run([*git, "-C", str(target), "checkout", "-q", ref], check=True)
    if as_text(submodules) in ("true", "recursive"):
        recursive = ["--recursive"] if submodules == "recursive" else []
        subprocess.run([*git, "-C", str(target), "submodule", "update", "-q", "--init", *recursive], check=True)


def _checkout(job: Job, given: Mapping[str, Any]) -> dict[str, str]:
    assert given.get("persist-credentials") is False, "a checkout must not keep the token in .git/config"
    target = job.workspace / str(given.get("path") or ".")
    # actions/checkout refuses any other place: "Repository path '...' is not under '$GITHUB_WORKSPACE'"
    assert target.resolve().is_relative_to(job.workspace.resolve()), f"{target} is not under the workspace"
    repository = given.get("repository") or job.contexts["github"]["repository"]
    if repository == job.world.repository:  # this project, at the workflow's own commit
        assert given["ref"] == job.world.tool_sha, f"checked out {given['ref']!r}, not the workflow's own commit"
        clone(job.world.tool_repo, target, str(given["ref"]))
    else:
        assert repository == job.contexts["github"]["repository"], given
        assert job.world.store_repo is not None, "the caller's repository is checked out: give World a store_repo"
        clone(job.world.store_repo, target, None, given.get("submodules", False))
    return {}


def _setup_python(job: Job, given: Mapping[str, Any]) -> dict[str, str]:
    assert given.get("update-environment") is False, "setup-python must leave the job's Python alone"
    version = ".".join(map(str, sys.version_info[:3]))
    return {"python-path": job.world.python, "python-version": version}


def _cache(job: Job, given: Mapping[str, Any]) -> dict[str, str]:
    """actions/cache: restore the entry of `key`, else the newest whose key starts with a `restore-keys` line;
    after the job, save `path` under `key` unless that key was hit (entries are never overwritten)."""
    job.world.caches.append(dict(given))
    key = str(given["key"])
    paths = [Path(p.strip()) for p in str(given["path"]).splitlines() if p.strip()]
    store = job.world.root / "cache-store"
    saved = [d.name for d in sorted(store.iterdir(), key=lambda d: d.stat().st_mtime_ns)] if store.is_dir() else []
    prefixes = [k.strip() for k in str(given.get("restore-keys", "")).splitlines() if k.strip()]
    hit = key if key in saved else next((k for p in prefixes for k in reversed(saved) if k.startswith(p)), None)
    if hit is not None:
        for i, path in enumerate(paths):
            if (store / hit / str(i)).is_dir():
                shutil.copytree(store / hit / str(i), path, symlinks=True, dirs_exist_ok=True)

    def save() -> None:
        if (store / key).exists():
            return
        for i, path in enumerate(paths):
            if path.is_dir():
                shutil.copytree(path, store / key / str(i), symlinks=True)
        (store / key).mkdir(parents=True, exist_ok=True)

    if hit != key:
        job.post.append(save)
    job.world.cache_hits.append(hit)
    return {"cache-hit": "true" if hit == key else "false"}


def _upload(job: Job, given: Mapping[str, Any]) -> dict[str, str]:
    name = str(given["name"])
    source = Path(str(given["path"]).strip())
    files = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source] if source.is_file() else []
    if not files:
        assert given.get("if-no-files-found") in ("ignore", "warn"), f"artifact {name}: no files"
        return {}
    assert name not in job.world.artifacts or given.get("overwrite") is True, f"artifact {name} uploaded twice"
    target = job.world.root / "artifacts" / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in files:
        dest = target / (path.relative_to(source) if source.is_dir() else path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    job.world.artifacts[name] = target
    return {"artifact-id": str(len(job.world.artifacts)), "artifact-url": f"https://example.invalid/{name}"}


def _download(job: Job, given: Mapping[str, Any]) -> dict[str, str]:
    target = Path(str(given["path"]))
    names = [n for n in job.world.artifacts if fnmatch.fnmatchcase(n, str(given["pattern"]))]
    for name in names:
        dest = target if given.get("merge-multiple") else target / name
        shutil.copytree(job.world.artifacts[name], dest, dirs_exist_ok=True)
    return {"download-path": str(target)}


STAND_INS: dict[str, Callable[[Job, Mapping[str, Any]], dict[str, str]]] = {
    "actions/checkout": _checkout,
    "actions/setup-python": _setup_python,
    "actions/cache": _cache,
    "actions/upload-artifact": _upload,
    "actions/download-artifact": _download,
}
