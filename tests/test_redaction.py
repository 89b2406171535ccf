"""No credential is ever printed: a token planted in every URL the tool accepts (index, find-links, Core git,
direct references for Core and Store, uv/pip configuration, [tool.contract-check]) never shows up in stdout,
stderr, the JSON/JUnit/Markdown reports, the GitHub step summary or the step outputs, with -v on.

The URLs point at 127.0.0.1:9 (discard; nothing listens), so every run fails fast with an error that quotes
the URL: exactly the messages that would leak. Tests marked ``slow`` get as far as ``uv pip install``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FakeContracts, cli_env, leftovers
from contract_check import sandbox
from contract_check.cli import app, terminal
from contract_check.errors import EnvironmentProblem
from contract_check.models import ExitCode
from contract_check.run import events, pytest_session
from contract_check.sources.index import IndexSettings
from contract_check.util import proc
from fixturepkgs import CORE_DIST, STORE_DIST

TOKEN = "s3cr3t-T0KEN"
HOST = "127.0.0.1:9"
SHOWN = f"***@{HOST}"  # what a redacted URL looks like


def url(path: str, user: str = "user") -> str:
    return f"https://{user}:{TOKEN}@{HOST}{path}"


@pytest.fixture
def everywhere(run_cli, tmp_path: Path):
    """Run the CLI with every output switched on; return (result, {output name: text})."""

    def run(*args: Any, env: dict[str, str] | None = None, cwd: Path | None = None, reports: bool = True):
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        files = {
            "json": out / "report.json",
            "junit": out / "report.xml",
            "markdown": out / "report.md",
            "step-summary": out / "summary.md",
            "step-outputs": out / "outputs.txt",
        }
        github = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(files["step-summary"]),
            "GITHUB_OUTPUT": str(files["step-outputs"]),
        }
        result = run_cli(
            *args,
            "--json",
            files["json"],
            "--junit-xml",
            files["junit"],
            "--markdown",
            files["markdown"],
            "-v",
            json_report=False,
            env=cli_env(tmp_path / "tmp", **github, **(env or {})),
            cwd=cwd,
            timeout=240,
        )
        if reports:
            missing = [name for name, path in files.items() if not path.is_file()]
            assert not missing, (missing, result.output)
        texts = {"stdout": result.stdout, "stderr": result.stderr}
        texts.update({name: path.read_text() for name, path in files.items() if path.is_file()})
        return result, texts

    return run


def assert_no_token(texts: dict[str, str], *, quoted: bool = True) -> None:
    leaked = [name for name, text in texts.items() if TOKEN in text]
    assert not leaked, {name: [line for line in texts[name].splitlines() if TOKEN in line] for name in leaked}
    if quoted:
        assert any(SHOWN in text for text in texts.values()), "the URL reached no output: the test proves nothing"


# ------------------------------------------------------------------------------- fast: fail before uv runs


def test_index_url(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", "1.0.0", "--core-package", CORE_DIST, "--store", fixture_world.store_wheel,
        "--index-url", url("/simple"),
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert f"could not reach the package index https://{SHOWN}/simple/{CORE_DIST}/" in result.stdout
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []


def test_find_links_url(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", "1.0.0", "--core-package", CORE_DIST, "--store", fixture_world.store_wheel,
        "--find-links", url("/links"), "--offline",
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert_no_token(texts)


@pytest.mark.parametrize("variable", ["UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL"])
def test_index_from_uv_or_pip_configuration(everywhere, fixture_world, variable: str) -> None:
    result, texts = everywhere(
        "--core-ref", "1.0.0", "--core-package", CORE_DIST, "--store", fixture_world.store_wheel,
        env={variable: url("/simple", user="__token__")},
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert_no_token(texts)


def test_index_from_tool_table(everywhere, fixture_world, tmp_path: Path) -> None:
    project = tmp_path / "store"
    shutil.copytree(fixture_world.store_project, project)
    with (project / "pyproject.toml").open("a") as fh:
        fh.write(
            textwrap.dedent(f"""
            [tool.contract-check]
            core-package = "{CORE_DIST}"
            index-url = "{url("/simple")}"
            """)
        )
    result, texts = everywhere("--core-ref", "1.0.0", cwd=project)
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert_no_token(texts)


@pytest.mark.parametrize(("option", "quoted"), [("--format", True), ("--jobs", False), ("--timeout", False)])
def test_option_value_in_a_usage_error(everywhere, option: str, quoted: bool) -> None:
    result, texts = everywhere("--core-ref", "1.0.0", option, url("/x"), reports=False)
    assert result.code == ExitCode.USAGE, result.output
    assert f"Invalid value for '{option}'" in result.stderr
    assert_no_token(texts, quoted=quoted)


# ------------------------------------------------------------------------ uv's own stderr, via a fake uv

FAKE_UV_STDERR = [
    f"error: Failed to fetch: `{url('/simple/pydantic/')}`",
    f"  Caused by: error sending request for url ({url('/simple/pydantic/')})",
    f"fatal: unable to access '{url('/core.git/', user='oauth2')}': Failed to connect",
    f"   Updating git+{url('/core.git')}@v1.0.0 (v1.0.0)",
    f"index https://:{TOKEN}@{HOST}/simple and https://user:p@ss:{TOKEN}@{HOST}/simple",
]


def fake_uv(directory: Path, *, fail: str = "pip") -> Path:
    """A uv that prints token-bearing URLs to stderr and fails the *fail* subcommand (venv or pip); a ``venv`` it
    does not fail makes a directory that passes for one (pyvenv.cfg, bin/python), as the sandbox verifies."""
    script = directory / "fake-uv"
    script.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"if sys.argv[1:2] == [{fail!r}]:\n"
        f"    sys.stderr.write({json.dumps(chr(10).join(FAKE_UV_STDERR))} + '\\n')\n"
        f"    sys.exit(2)\n"
        "if sys.argv[1:2] == ['venv']:\n"
        "    venv = next(a for a in reversed(sys.argv) if not a.startswith('-'))\n"
        "    os.makedirs(os.path.join(venv, 'bin'), exist_ok=True)\n"
        "    open(os.path.join(venv, 'pyvenv.cfg'), 'w').write('home = ' + os.path.dirname(sys.executable) + '\\n')\n"
        "    os.symlink(sys.executable, os.path.join(venv, 'bin', 'python'))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


@pytest.mark.slow
@pytest.mark.parametrize("fail", ["venv", "pip"])
def test_uv_stderr_in_an_install_error_is_redacted(tmp_path: Path, caplog: pytest.LogCaptureFixture, fail: str) -> None:
    caplog.set_level(logging.DEBUG, logger="contract_check")
    box = sandbox.FreshSandbox(sandbox.SandboxSettings(python=None, index=IndexSettings(url("/simple")), timeout=60))
    box.uv = str(fake_uv(tmp_path, fail=fail))
    with pytest.raises(EnvironmentProblem) as info, mock.patch.dict(os.environ, {"TMPDIR": str(tmp_path)}), box:
        box.install(["store"], [f"{CORE_DIST} @ git+{url('/core.git')}@v1"])
    problem = info.value
    assert f"uv {'venv' if fail == 'venv' else 'install'} failed" in problem.message
    assert SHOWN in problem.message and TOKEN not in problem.message + (problem.tip or "")
    if fail == "pip":
        assert problem.kind == "network"  # classified from uv's words before they were redacted
    logged = "\n".join(record.getMessage() for record in caplog.records)  # what -v prints
    assert "$ " in logged and TOKEN not in logged
    assert not list(tmp_path.glob("contract-check-*"))


def test_uv_stderr_end_to_end(everywhere, fixture_world, tmp_path: Path) -> None:
    """The real CLI with $UV pointing at the fake: the install error it prints (table, reports) is redacted."""
    uv = fake_uv(tmp_path)
    result, texts = everywhere(
        "--core-ref", "git:v1.0.0", "--core-git", url("/core.git"), "--core-package", CORE_DIST,
        "--store", fixture_world.store_wheel, "--index-url", url("/simple"), "--find-links", url("/links"),
        env={"UV": str(uv)},
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "uv install failed (network)" in result.stdout and "error sending request" in result.stdout
    folded = result.stderr.partition("::group::uv install for git:v1.0.0\n")[2].partition("::endgroup::")[0]
    assert f"Updating git+https://{SHOWN}/core.git@v1.0.0" in folded  # uv's log, folded for GitHub, redacted
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []


def test_completed_tail_is_redacted() -> None:
    done = proc.Completed(("uv",), 1, f"out {url('/a')}", "\n".join(FAKE_UV_STDERR), 0.1)
    assert TOKEN not in done.tail() and SHOWN in done.tail()
    assert TOKEN not in proc.Completed(("uv",), 1, f"only stdout {url('/a')}", "", 0.1).tail()


def test_contract_messages_are_redacted() -> None:
    """What a contract says (an assertion message, a collection error) may quote a URL from the environment."""
    result = events.check_from_result(
        {"nodeid": "t.py::t", "outcome": "failed", "message": f"could not reach {url('/simple')}"}, strict=False
    )
    collect = events.collect_error({"nodeid": "t.py", "message": f"ImportError: fetch {url('/x')} failed"})
    for row in (result, collect):
        assert TOKEN not in row.message and SHOWN in row.message


def test_internal_error_with_a_token_is_redacted(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    fault = RuntimeError(f"unexpected answer from {url('/simple')}")
    with contextlib.chdir(tmp_path), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = app.run(["--core-ref", "1.0.0", "--offline", "-v"], contracts=FakeContracts.factory(fault))
    assert code == ExitCode.INTERNAL
    assert "Traceback" in err.getvalue() and SHOWN in err.getvalue()
    assert TOKEN not in out.getvalue() + err.getvalue()


def test_snapshot_metadata_never_holds_a_token(fixture_world, tmp_path: Path) -> None:
    """The golden metadata is committed to the repository: the ref and the Store spec in it are redacted."""
    golden = pytest_session.builtin_contracts() / "golden"
    payloads = {p.stem: json.loads(p.read_text()) for p in (golden / "payloads").glob("*.json")}
    outcome = pytest_session.Outcome(
        completed=True,
        artifacts={"snapshot": json.loads((golden / "schemas.json").read_text()), "payloads": payloads},
        versions={CORE_DIST: "1.1.0", STORE_DIST: "0.1.0"},
    )
    output = tmp_path / "golden"
    with contextlib.chdir(tmp_path):
        code = app.run(
            [
                "snapshot",
                "--core-ref",
                f"{CORE_DIST} @ {url('/core-1.1.0.whl')}",
                "--core-package",
                CORE_DIST,
                "--store",
                f"{STORE_DIST} @ {url('/store.whl')}",
                "--output",
                str(output),
                "--offline",
            ],
            contracts=FakeContracts.factory(outcome),
        )
    assert code == 0
    written = "".join(p.read_text() for p in output.rglob("*.json"))
    metadata = json.loads((output / "metadata.json").read_text())
    assert SHOWN in metadata["core_ref"] and SHOWN in metadata["store"]["spec"]
    assert TOKEN not in written


# --------------------------------------------------------------------------- slow: as far as uv pip install


@pytest.mark.slow
def test_core_git_url(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", "git:v1.0.0", "--core-git", url("/core.git"), "--core-package", CORE_DIST,
        "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel,
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert f"git+https://{SHOWN}/core.git@v1.0.0" in result.stdout
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []


@pytest.mark.slow
def test_core_direct_reference(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", f"{CORE_DIST} @ {url('/cc_fixture_core-1.1.0-py3-none-any.whl')}", "--core-package", CORE_DIST,
        "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel,
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    report = json.loads(texts["json"])
    assert TOKEN not in report["runs"][0]["core_ref"]
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []


@pytest.mark.slow
def test_store_direct_reference(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", "1.0.0", "--core-package", CORE_DIST, "--find-links", fixture_world.find_links,
        "--store", f"{STORE_DIST} @ {url('/cc_fixture_store-0.1.0-py3-none-any.whl')}",
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "uv install failed" in result.stdout  # a requirement, not a missing path, although it ends in .whl
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []


@pytest.mark.slow
def test_find_links_url_reaching_uv(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", "git:v1.0.0", "--core-git", fixture_world.core_git_url, "--core-package", CORE_DIST,
        "--find-links", url("/links"), "--store", fixture_world.store_wheel,
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []


# ------------------------------------------------------------------ redact itself: same answer, linear time

# the expression redact used to be (quadratic on long runs of scheme characters): the reference semantics
REFERENCE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def reference_redact(text: str) -> str:
    return REFERENCE.sub(lambda m: f"{m['scheme']}***@", text)


url_soup = st.lists(st.sampled_from([*"aZ9+.-:/@?# \n\t\u00a0\u2003é", "://", "https://", "u:p@"]), max_size=40).map(
    "".join
)


@settings(max_examples=500, deadline=None)
@given(text=url_soup | st.text(max_size=40))
def test_redact_matches_the_reference(text: str) -> None:
    assert proc.redact(text) == reference_redact(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://user:{TOKEN}@h/x", "https://***@h/x"),
        (f"https://:{TOKEN}@h", "https://***@h"),  # empty user
        (f"https://u:p@ss:{TOKEN}@h/p", "https://***@h/p"),  # "@" in the password: up to the LAST "@"
        (f"git+ssh://git:{TOKEN}@h:22/r", "git+ssh://***@h:22/r"),
        ("a://b@c d://e@f", "a://***@c d://***@f"),
        ("x https://h/p@q", "x https://h/p@q"),  # an "@" after the path is no user-info
        ("1+://u@h", "1+://u@h"),  # no letter in the scheme: not a URL
        ("9a://u@h", "9a://***@h"),
        ("https://u@h://v@k", "https://***@h://***@k"),
    ],
)
def test_redact_examples(text: str, expected: str) -> None:
    assert proc.redact(text) == expected == reference_redact(text)


def _adversarial(n: int) -> dict[str, tuple[str, str]]:
    """Inputs on which the old expression took quadratic time, with the answer built by hand."""
    return {
        "letters": ("a" * n, "a" * n),
        "schemes without user-info": ("a://" * (n // 4), "a://" * (n // 4)),
        "one long user-info": ("a://" + "@" * n + "/", "a://***@/"),
        "many URLs with tokens": ("a://t@" * (n // 6), "a://***@" * (n // 6)),
        "digits before every scheme": (("1" * 50 + "://x@") * (n // 55), ("1" * 50 + "://x@") * (n // 55)),
    }


@pytest.mark.parametrize("case", list(_adversarial(10)))
def test_redact_adversarial_320k(case: str) -> None:
    """320,000 characters: the old expression needed 71 s on the first kind; these finish in milliseconds
    (benchmarks/bench_redact.py prints the times for 10k and 320k)."""
    text, expected = _adversarial(320_000)[case]
    assert len(text) >= 300_000
    assert proc.redact(text) == expected


# ------------------------------------------------------------ chokepoints: log records and progress lines


def test_every_log_record_is_redacted(tmp_path: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        terminal.setup_logging(True)
        log = logging.getLogger("contract_check")
        log.info("installing %s", url("/core.whl"))
        log.warning(f"plain f-string {url('/x')}")
        try:
            raise RuntimeError(url("/in-a-traceback"))
        except RuntimeError:
            log.exception("failed")
    terminal.setup_logging(False)
    assert TOKEN not in err.getvalue()
    assert err.getvalue().count(SHOWN) == 3, err.getvalue()  # message, f-string, exception text


def _slow_refusal() -> None:
    """Refuses to start after a second, so that the parallel progress line ("1/2 done, running ...") shows."""
    time.sleep(1.2)
    raise EnvironmentProblem("the sandbox is disabled in this test")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_progress_lines_with_several_refs_are_redacted(tmp_path: Path, jobs: str) -> None:
    """Several refs and -v: "[2/2] NAME @ https://user:TOKEN@..." and "1/2 done, running ..." leaked."""
    from test_hardening import call

    ref = f"{CORE_DIST} @ {url('/cc_fixture_core-1.1.0-py3-none-any.whl')}"
    args = ["--core-ref", "1.0.0", "--core-ref", ref, "--core-package", CORE_DIST, "--store", "pkg", "--offline"]
    slow = FakeContracts.factory(_slow_refusal)
    ran = call([*args, "--index-url", url("/simple"), "--jobs", jobs, "-v"], tmp_path, contracts=slow)
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    assert "contract-check: $ " not in ran.stderr, "no command may run in this test"
    progress = "[2/2]" if jobs == "1" else " done, running "
    shown = [line for line in ran.stderr.splitlines() if progress in line and SHOWN in line]
    assert shown, ran.stderr  # the progress line that used to leak is printed, redacted
    assert TOKEN not in ran.output, [line for line in ran.output.splitlines() if TOKEN in line]


@pytest.mark.slow
def test_several_refs_verbose_end_to_end(everywhere, fixture_world) -> None:
    result, texts = everywhere(
        "--core-ref", "1.0.0", "--core-ref", f"{CORE_DIST} @ {url('/cc_fixture_core-1.1.0-py3-none-any.whl')}",
        "--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel,
        "--jobs", "2", "--no-cache",  # a cached 1.0.0 run would lose the Store's declared range for later tests
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "done, running" in result.stderr or "[2/2]" in result.stderr, result.stderr
    assert_no_token(texts)
    assert leftovers(result.tmpdir) == []
