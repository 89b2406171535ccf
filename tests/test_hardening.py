"""Hardening: a checker people gate releases on never crashes into a traceback, never says "compatible" when
it could not check, never leaves a process or a temp dir behind, and never executes what it is given.

Most tests call ``contract_check.cli.app.run`` in-process with the contracts' runner replaced (through its
constructor seam) by one that refuses to start (``NO_SANDBOX``): nothing is installed and nothing reaches
the network (``--offline``, an empty ``--find-links``, a ``file:`` index that does not exist), so hundreds of
generated inputs run in seconds.
Tests marked ``slow`` run the real CLI with real uv venvs on the fixture packages.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from conftest import FakeContracts, cli_env, compatible_outcome, leftovers
from contract_check import config, sandbox, suite
from contract_check.cli import app
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import Check, ExitCode, Layer, Status, run_exit_code
from contract_check.run import pytest_session
from contract_check.sources import index, refs, stores
from fixturepkgs import CORE_DIST

EXIT_CODES = {0, 1, 2, 3, 4, 130}
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------ harness


#: no sandbox is ever made: every ref's contracts "fail to start", so nothing installs or reaches the network
NO_SANDBOX = FakeContracts.factory(EnvironmentProblem("the sandbox is disabled in this test"))


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_CLEAN_ENV = ("GITHUB_ACTIONS", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL", "UV")


def call(argv: list[str | Path], cwd: Path, *, contracts: Any = NO_SANDBOX, env: dict[str, str] | None = None) -> Ran:
    """``app.run(argv)`` in this process, in *cwd*, with stdout/stderr captured and the contracts replaced."""
    out, err = io.StringIO(), io.StringIO()
    environ = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV} | (env or {})
    with (
        contextlib.chdir(cwd),
        mock.patch.dict(os.environ, environ, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        sandbox.find_uv.cache_clear()
        try:
            code = app.run([str(a) for a in argv], contracts=contracts)
        finally:
            sandbox.find_uv.cache_clear()
    return Ran(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Place:
    root: Path
    cwd: Path  # an empty directory: no pyproject.toml, so nothing is read from it
    project: Path  # a Store project that depends on the fixture Core; its pyproject is rewritten by tests
    marker: Path  # must never exist: every generated input tries to create it

    @property
    def offline(self) -> list[str | Path]:
        return [
            "--core-package",
            CORE_DIST,
            "--find-links",
            self.root / "empty-links",
            "--offline",
            "--index-url",
            "file:///nonexistent/simple",
        ]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Place:
    root = tmp_path_factory.mktemp("hardening")
    for name in ("empty-links", "cwd", "project"):
        (root / name).mkdir()
    return Place(root, root / "cwd", root / "project", root / "pwned")


def assert_handled(ran: Ran, place: Place, allowed: set[int]) -> None:
    """The run ended in an allowed exit code with a message, no traceback, nothing executed."""
    assert ran.code in allowed, ran.output
    assert "Traceback" not in ran.output
    assert not place.marker.exists(), "an input was executed"
    if ran.code in (ExitCode.USAGE, ExitCode.INTERNAL):
        assert "error" in ran.stderr.lower(), ran.output


# ------------------------------------------------------------------------------------ generated inputs

# shell syntax that would create MARKER if anything handed the input to a shell
SHELL = (
    "$(touch MARKER)",
    "`touch MARKER`",
    ";touch MARKER",
    "|touch MARKER",
    "&&touch MARKER",
    "$(touch${IFS}MARKER)",
    "`touch${IFS}MARKER`",
    ";touch${IFS}MARKER;",
    "\ntouch MARKER\n",
    ">MARKER",
)
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
shell = st.sampled_from(SHELL)
version = st.from_regex(r"[vV]?\d{1,3}(\.\d{1,3}){0,3}((a|b|rc)\d{1,2})?", fullmatch=True)
ref_prefix = st.sampled_from(["", "git:", "1.0.0", "main", "v1.2.3", "./", "latest", f"{CORE_DIST} @ https://h/x"])
refs_strategy = st.one_of(
    text,
    version,
    st.builds(lambda p, t: p + t, st.sampled_from(["git:", "git:v", "feature/", "./", "~", "/"]), text),
    st.builds(lambda p, s, t: p + s + t, ref_prefix, shell, st.sampled_from(["", ".whl", ".tar.gz", "/x"])),
    st.builds(lambda name, url: f"{name} @ {url}", st.sampled_from([CORE_DIST, "other", "x y"]), text),
    st.sampled_from(["latest", "git:", "@", "-rf", "a..b", "x\ty", "a@{1}", "HEAD~1", "v1.0.0.lock", ".", ",", "[/]"]),
)


def _fill(value: str, place: Place) -> str:
    return value.replace("MARKER", str(place.marker))


@SETTINGS
@given(ref=refs_strategy)
def test_any_ref_is_a_verdict_or_a_clear_error(place: Place, ref: str) -> None:
    """Every --core-ref string is a usage error (2) or reaches the sandbox (3 here): never a crash."""
    ran = call([f"--core-ref={_fill(ref, place)}", *place.offline, "--store", "cc-fixture-store"], place.cwd)
    assert_handled(ran, place, {ExitCode.USAGE, ExitCode.ENVIRONMENT})


store_specs = st.one_of(
    text,
    st.builds(lambda p, s: p + s, st.sampled_from(["", "./", "../", "/", "~/", "pkg @ https://h/", "pkg"]), shell),
    st.builds(lambda p, t: p + t, st.sampled_from(["./", "/", "pkg==", "pkg @ ", "pkg @ https://u:t@h/", "~"]), text),
    st.builds(lambda t, s: t + s, text, st.sampled_from([".whl", ".tar.gz", ".zip", "/pyproject.toml"])),
    st.just("a" * 5000),
)


@SETTINGS
@given(spec=store_specs)
def test_any_store_spec_is_handled(place: Place, spec: str) -> None:
    ran = call(["--core-ref=1.0.0", *place.offline, f"--store={_fill(spec, place)}"], place.cwd)
    assert_handled(ran, place, {ExitCode.USAGE, ExitCode.ENVIRONMENT})


OPTIONS = ["--timeout", "--jobs", "--format", "--python", "--core-git", "--core-range", "--index-url", "--find-links"]
odd_values = st.one_of(
    text,
    shell,
    st.integers(4290, 4400).map(lambda n: "1" * n),  # Python parses at most 4,300 digits into an int
    st.builds(lambda a, b: a + "\udcff" + b, text, text),  # a byte that was not UTF-8 on the command line
    st.sampled_from(["-", "--", "-x", "--upload-pack=touch MARKER", "1e308", "-1e308", "9" * 400, "\u200f1"]),
)


@SETTINGS
@given(option=st.sampled_from([*OPTIONS, "--core-package", "--contracts", "--store"]), value=odd_values)
def test_any_option_value_is_handled(place: Place, option: str, value: str) -> None:
    ran = call(["--core-ref=1.0.0", *place.offline, "--store=pkg", f"{option}={_fill(value, place)}"], place.cwd)
    assert_handled(ran, place, {ExitCode.USAGE, ExitCode.ENVIRONMENT})


def toml_value(value: Any) -> str:
    """A TOML literal for *value* (only what ``toml_values`` generates)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"


toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), text, shell, st.sampled_from(["", ".", "~nobody"])
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
path_text = st.one_of(text, shell, st.sampled_from(["", ".", "..", "~nobody/x", "a\x00b", "x" * 5000, "tests"]))
typed_values: dict[str, st.SearchStrategy[Any]] = {
    "core-package": st.one_of(st.sampled_from([CORE_DIST, "", "a b", "-x", "x-"]), text),
    "core-git": st.one_of(text, shell, st.just("https://u:t@h/core.git")),
    "store": path_text,
    "contracts": st.lists(path_text, max_size=3),
    "python": path_text,
    "timeout": st.one_of(st.floats(), st.integers(-(2**63), 2**63 - 1)),
    "index-url": st.one_of(text, st.just("a\x00b")),
    "find-links": st.lists(path_text, max_size=3),
    "strict": st.booleans(),
    "jobs": st.integers(-(2**63), 2**63 - 1),
}
tables = st.dictionaries(
    st.sampled_from(sorted(typed_values)) | st.text(min_size=1, max_size=8), toml_values, max_size=4
).flatmap(
    lambda table: st.fixed_dictionaries(
        {
            key: st.one_of(typed_values[key], toml_values) if key in typed_values else st.just(v)
            for key, v in table.items()
        }
    )
)


@SETTINGS
@given(table=tables)
def test_any_config_table_is_handled(place: Place, table: dict[str, Any]) -> None:
    """Whatever ``[tool.contract-check]`` holds: a verdict or a clear usage error, never a traceback."""
    body = "\n".join(f"{toml_value(key)} = {toml_value(value)}" for key, value in table.items())
    (place.project / "pyproject.toml").write_text(
        f'[project]\nname = "store"\nversion = "1"\ndependencies = ["{CORE_DIST}"]\n\n'
        f"[tool.contract-check]\n{_fill(body, place)}\n",
        encoding="utf-8",
    )
    ran = call(["--core-ref=1.0.0", "--offline", "--find-links", place.root / "empty-links"], place.project)
    assert_handled(ran, place, {ExitCode.USAGE, ExitCode.ENVIRONMENT})


# whole pyproject.toml files: random tables and types under [project] and [tool.contract-check], random
# nesting, numbers Python cannot parse, text that is no TOML at all
huge_number = st.integers(4290, 4400).map(lambda n: "1" * n)
project_values = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.just("store"), toml_values),
        "version": st.one_of(st.just("1"), toml_values),
        "dependencies": st.one_of(
            st.lists(
                st.one_of(
                    st.sampled_from([CORE_DIST, f"{CORE_DIST}>=1,<2", "pydantic>=2", "not a requirement !!"]),
                    huge_number.map(lambda n: f"{CORE_DIST}>={n}"),
                    text,
                ),
                max_size=3,
            ),
            toml_values,
        ),
    },
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "project": st.one_of(project_values, toml_scalars),
        "tool": st.one_of(st.fixed_dictionaries({}, optional={"contract-check": tables | toml_values}), toml_scalars),
        "build-system": toml_values,
    },
)


def toml_document(doc: dict[str, Any]) -> str:
    """A TOML file for *doc*: top-level keys as ``key = value`` (tables inline), as ``toml_value`` writes them."""
    return "\n".join(f"{toml_value(key)} = {toml_value(value)}" for key, value in doc.items()) + "\n"


nested = st.integers(1, 3000).flatmap(
    lambda depth: st.sampled_from(
        [
            "a = " + "[" * depth + "]" * depth,
            "a = " + "{b = " * depth + "1" + "}" * depth,
            "[project]\ndependencies = " + "[" * depth + "]" * depth,
        ]
    )
)
raw_documents = st.one_of(
    documents.map(toml_document),
    nested,
    huge_number.map(lambda n: f"[tool.contract-check]\ntimeout = {n}\n"),
    huge_number.map(lambda n: f"[tool.contract-check]\njobs = {n}\n"),
    st.text(max_size=200),
    st.builds(lambda doc, junk: toml_document(doc) + junk, documents, st.text(max_size=20)),
)


def _only_usage_or_environment(fn: Any) -> Any:
    """``fn()``'s value; a ContractCheckError (exit 2 or 3) is an answer too. Anything else fails the test."""
    try:
        return fn()
    except (UsageError, EnvironmentProblem) as exc:
        assert exc.exit_code in (ExitCode.USAGE, ExitCode.ENVIRONMENT)
        assert exc.message.strip()
        return exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=raw_documents)
def test_any_pyproject_file_is_handled_in_process(tmp_path_factory: pytest.TempPathFactory, document: str) -> None:
    """Reading, validating and using a whole pyproject.toml (the current project's and the Store's): returns
    or raises UsageError / EnvironmentProblem, nothing else (AttributeError, RecursionError, ValueError)."""
    project = tmp_path_factory.mktemp("pyproject")
    (project / "pyproject.toml").write_text(document, encoding="utf-8")
    options = _only_usage_or_environment(lambda: config.build({"core_refs": ("1.0.0",)}, project, environ={}))
    pyproject = _only_usage_or_environment(lambda: config.read_pyproject(project))
    if isinstance(pyproject, dict):
        _only_usage_or_environment(lambda: config.depends_on(pyproject, CORE_DIST))
    if isinstance(options, config.Options):
        kw = {"core_package": options.core_package, "default_package": options.store_package}
        _only_usage_or_environment(lambda: stores.resolve_store(options.store, project, **kw))
        _only_usage_or_environment(lambda: stores.resolve_store(str(project), project.parent, **kw))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=raw_documents)
def test_any_pyproject_file_through_the_cli(place: Place, document: str) -> None:
    (place.project / "pyproject.toml").write_text(_fill(document, place), encoding="utf-8")
    ran = call(["--core-ref=1.0.0", "--offline", "--find-links", place.root / "empty-links"], place.project)
    assert_handled(ran, place, {ExitCode.USAGE, ExitCode.ENVIRONMENT})


# index pages: PEP 691 JSON and PEP 503 HTML, served from a file: index and from a loopback server
JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
stem = CORE_DIST.replace("-", "_")
any_version = st.one_of(version, huge_number, huge_number.map(lambda n: f"1.{n}"), text)
filenames = st.one_of(
    st.builds(lambda v, tag: f"{stem}-{v}{tag}", any_version, st.sampled_from(["-py3-none-any.whl", ".tar.gz"])),
    st.sampled_from([f"{stem}-.whl", f"{stem}.tar.gz", "x-1.0-py3-none-any.whl", "", "/", "%zz", "a?b#c"]),
    text,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
file_entries = st.one_of(
    st.fixed_dictionaries({"filename": filenames}, optional={"yanked": json_values, "url": text}), json_values
)
json_pages = st.one_of(
    st.fixed_dictionaries({"files": st.lists(file_entries, max_size=5)}, optional={"meta": json_values}).map(
        json.dumps
    ),
    json_values.map(json.dumps),
    st.integers(1, 200_000).map(lambda depth: '{"files": ' + "[" * depth + "]" * depth + "}"),
)
anchor = st.builds(
    lambda href, attrs, body: f'<a href="{href}"{attrs}>{body}</a>',
    st.one_of(filenames, filenames.map(lambda f: f"../files/{f}#sha256=00"), text),
    st.sampled_from(["", " data-yanked", ' data-yanked="reason"', " href", "<"]),
    text,
)
html_pages = st.one_of(
    st.lists(
        st.one_of(anchor, text, st.sampled_from(["<a>", "</a>", "<a href=", "<!--", "<![CDATA[", "<div>" * 50]))
    ).map("".join),
    st.integers(1, 50_000).map(lambda depth: "<div>" * depth + f'<a href="{stem}-1.0-py3-none-any.whl">x</a>'),
)
pages = st.one_of(
    json_pages.map(lambda body: (JSON_CONTENT_TYPE, body.encode())),
    html_pages.map(lambda body: ("text/html", body.encode())),
    st.tuples(st.sampled_from([JSON_CONTENT_TYPE, "text/html", "text/plain", ""]), st.binary(max_size=300)),
    st.tuples(st.just("text/html; charset=latin-1"), html_pages.map(lambda b: b.encode("utf-16"))),
)


@dataclass
class LoopbackIndex:
    url: str
    page: list[tuple[str, bytes]]  # the one page every request gets (content type, body)


@pytest.fixture(scope="module")
def loopback_index() -> Any:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served: list[tuple[str, bytes]] = [("text/html", b"")]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = served[0]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield LoopbackIndex(f"http://127.0.0.1:{httpd.server_port}/simple", served)
    httpd.shutdown()
    httpd.server_close()


def _listing(found: Any) -> None:
    """What a listing may be: a list of releases, or a clear error."""
    if isinstance(found, list):
        assert all(isinstance(r, index.Release) for r in found)
        index.newest(found)  # comparable, sortable
        index.nearest(found, Version("1.0"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=pages)
def test_any_index_page_from_a_server(loopback_index: LoopbackIndex, page: tuple[str, bytes]) -> None:
    loopback_index.page[0] = page
    settings_ = index.IndexSettings(index_url=loopback_index.url)
    _listing(_only_usage_or_environment(lambda: index.releases(CORE_DIST, settings_, uv="unused", timeout=10)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=pages, as_find_links=st.booleans())
def test_any_index_or_find_links_page_from_a_file(
    tmp_path_factory: pytest.TempPathFactory, page: tuple[str, bytes], as_find_links: bool
) -> None:
    root = tmp_path_factory.mktemp("index")
    (root / "simple" / CORE_DIST).mkdir(parents=True)
    (root / "simple" / CORE_DIST / "index.html").write_bytes(page[1])
    if as_find_links:
        settings_ = index.IndexSettings(
            find_links=((root / "simple" / CORE_DIST / "index.html").as_uri(),), offline=True
        )
    else:
        settings_ = index.IndexSettings(index_url=(root / "simple").as_uri())
    _listing(_only_usage_or_environment(lambda: index.releases(CORE_DIST, settings_, uv="unused")))


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        "pyproject: 5000-digit timeout",
        "pyproject: deep nesting",
        "pyproject: project = 5",
        "index: deep JSON",
        "index: huge versions",
        "index: not UTF-8",
    ],
)
def test_bad_config_files_and_index_pages_through_the_real_cli(
    run_cli, fixture_world, tmp_path: Path, case: str
) -> None:
    """A few of the generated shapes, through the real command line: exit 2 or 3, never a traceback."""
    project = tmp_path / "project"
    shutil.copytree(fixture_world.store_project, project)
    simple = tmp_path / "simple" / CORE_DIST
    simple.mkdir(parents=True)
    (simple / "index.html").write_text(f'<a href="{stem}-1.0.0-py3-none-any.whl">1.0.0</a>', encoding="utf-8")
    pyproject = project / "pyproject.toml"
    if case == "pyproject: 5000-digit timeout":
        pyproject.write_text(pyproject.read_text() + "\n[tool.contract-check]\ntimeout = " + "1" * 5000 + "\n")
    elif case == "pyproject: deep nesting":
        pyproject.write_text(pyproject.read_text() + "\n[tool.x]\na = " + "[" * 3000 + "]" * 3000 + "\n")
    elif case == "pyproject: project = 5":
        pyproject.write_text("project = 5\n")
    elif case == "index: deep JSON":  # a file: index is read as HTML; the JSON goes to the HTML parser
        (simple / "index.html").write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")
    elif case == "index: huge versions":
        (simple / "index.html").write_text("".join(f'<a href="{stem}-1.{"9" * 5000}.tar.gz">x</a>' for _ in range(3)))
    else:
        (simple / "index.html").write_bytes(b"\xff\xfe<a href=\xc3(>\x00</a>")
    result = run_cli(
        "--core-ref", "latest", "--core-package", CORE_DIST, "--index-url", (tmp_path / "simple").as_uri(),
        "--find-links", fixture_world.find_links, cwd=project, timeout=240,
    )  # fmt: skip
    assert result.code in (ExitCode.USAGE, ExitCode.ENVIRONMENT, ExitCode.OK), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    if case.startswith("pyproject"):
        assert result.code == ExitCode.USAGE and "pyproject.toml" in result.stderr, result.output


# --------------------------------------------------------------------------------------- user mistakes


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--timeout", "abc"], "Invalid value for '--timeout'"),
        (["--timeout", "-1"], "--timeout must be a positive number"),
        (["--timeout", "0"], "--timeout must be a positive number"),
        (["--timeout", "nan"], "--timeout must be a positive number"),
        (["--timeout", "inf"], "--timeout must be a positive number"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--jobs", "-2"], "--jobs must be at least 1"),
        (["--jobs", "two"], "Invalid value for '--jobs'"),
        (["--format", "xml"], "Invalid value for '--format'"),
        (["--no-such-flag"], "No such option"),
        (["--contracts", "/nonexistent/contracts"], "--contracts path does not exist"),
        (["--contracts", "x" * 5000], "--contracts"),
        (["--json", "/nonexistent/dir/report.json"], "--json '/nonexistent/dir/report.json' is in a directory"),
        (["--json", "."], "is a directory"),
        (["--junit-xml", "/nonexistent/dir/r.xml"], "--junit-xml"),
        (["--markdown", "/nonexistent/dir/r.md"], "--markdown"),
        (["--core-package", "not a name"], "is not a valid distribution name"),
        (["--store", "/"], "is not a Python project"),
        (["--store", "./missing-store"], "no such file or directory"),
        (["--store", "./" + "y" * 5000], "no such file or directory"),
        (["--store", "pkg >>> 1"], "is neither a path nor a valid requirement"),
        (["--core-ref=[/]"], "invalid --core-ref '[/]'"),  # printed as text, not read as markup
        (["--core-ref=-rf"], "accepted --core-ref forms"),
    ],
)
def test_user_mistakes_are_usage_errors_before_any_install(place: Place, args: list[str], says: str) -> None:
    before = FakeContracts.started
    ran = call(["--core-ref=1.0.0", *place.offline, "--store", "pkg", *args], place.cwd)
    assert ran.code == ExitCode.USAGE, ran.output
    assert says in ran.stderr, ran.stderr
    assert "Traceback" not in ran.output and "internal error" not in ran.output
    assert FakeContracts.started == before, "a usage error must stop the run before a sandbox is made"


def test_missing_core_ref_is_a_usage_error(place: Place) -> None:
    ran = call(["--offline"], place.cwd)
    assert ran.code == ExitCode.USAGE and "no Core ref given" in ran.stderr, ran.output
    assert "--core-range" in ran.stderr  # the tip names the other ways to say which refs


def test_relative_find_links_and_contracts_are_made_absolute(place: Place) -> None:
    """uv runs in the sandbox directory: a relative --find-links given on the command line must still work."""
    (place.cwd / "links").mkdir(exist_ok=True)
    (place.cwd / "mine").mkdir(exist_ok=True)
    options = config.build(
        {"core_refs": ("1.0",), "find_links": ("links",), "contracts": (Path("mine"),), "python": "./bin/py"},
        place.cwd,
        environ={},
    )
    assert options.find_links == (str(place.cwd / "links"),)
    assert options.contracts == (place.cwd / "mine",)
    assert options.python == str(place.cwd / "bin" / "py")
    assert config.build({"core_refs": ("1.0",), "python": "3.12"}, place.cwd, environ={}).python == "3.12"


@pytest.mark.parametrize(
    ("name", "source", "line"),
    [
        ("test_broken.py", "def test_x(:\n    pass\n", 1),
        ("conftest.py", "import pytest\n\n  def fixture():\n    pass\n", 3),
        ("sub/test_tabs.py", "def test_x():\n\tif True:\n        pass\n", 3),
    ],
)
def test_a_contract_file_with_a_syntax_error_is_a_usage_error(place: Place, name: str, source: str, line: int) -> None:
    """A user contract Python cannot parse is the user's mistake whatever the Core: exit 2 before any install,
    naming file and line, not an error row that would read as "Core broke the Store"."""
    contracts = place.root / f"contracts-{name.replace('/', '-')}"
    (contracts / name).parent.mkdir(parents=True, exist_ok=True)
    (contracts / name).write_text(source, encoding="utf-8")
    (contracts / "test_fine.py").write_text("def test_ok():\n    pass\n", encoding="utf-8")
    (contracts / "helper_not_collected.py").write_text("this is not python (", encoding="utf-8")
    before = FakeContracts.started
    ran = call(["--core-ref=1.0.0", *place.offline, "--store", "pkg", "--contracts", contracts], place.cwd)
    assert ran.code == ExitCode.USAGE, ran.output
    assert str(contracts / name) in ran.stderr and f"(line {line})" in ran.stderr, ran.stderr
    assert FakeContracts.started == before
    # the file is pointed at directly: same answer
    ran = call(["--core-ref=1.0.0", *place.offline, "--store", "pkg", "--contracts", contracts / name], place.cwd)
    assert ran.code == ExitCode.USAGE, ran.output
    # with another --python the grammar may differ: the sandbox's pytest judges (an error row there)
    ran = call(
        ["--core-ref=1.0.0", *place.offline, "--store", "pkg", "--contracts", contracts, "--python", "3.99"], place.cwd
    )
    assert ran.code == ExitCode.ENVIRONMENT, ran.output


def test_valid_contract_files_pass_the_syntax_check(place: Place) -> None:
    contracts = place.root / "contracts-valid"
    (contracts / ".hidden").mkdir(parents=True, exist_ok=True)
    (contracts / "test_a.py").write_text("def test_a():\n    assert True\n", encoding="utf-8")
    (contracts / ".hidden" / "test_skipped_dir.py").write_text("not python (", encoding="utf-8")
    pytest_session.check_user_contracts((contracts,))  # no error
    ran = call(["--core-ref=1.0.0", *place.offline, "--store", "pkg", "--contracts", contracts], place.cwd)
    assert ran.code == ExitCode.ENVIRONMENT and "sandbox is disabled" in ran.stdout, ran.output


# ------------------------------------------------------------------------------ environment problems (3)


def run_error(result: Any) -> str:
    """Why the (only) run could not check, from the JSON report (the table may fold long lines)."""
    assert result.report is not None, result.output
    (run,) = result.report["runs"]
    return str(run["error"])


@pytest.mark.parametrize("uv", ["/nonexistent/uv", "DIR", "NOT-EXECUTABLE"])
def test_uv_env_pointing_at_no_executable(run_cli, fixture_world, tmp_path: Path, uv: str) -> None:
    if uv == "DIR":
        uv = str(tmp_path)
    elif uv == "NOT-EXECUTABLE":
        (tmp_path / "uv").write_text("#!/bin/sh\nexit 0\n")
        uv = str(tmp_path / "uv")
    result = run_cli(
        "--core-ref",
        "1.0.0",
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        fixture_world.store_wheel,
        env=cli_env(tmp_path / "tmp", UV=uv),
    )
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert f"$UV is set to {uv!r}, which is not an executable" in run_error(result)
    assert "Traceback" not in result.output
    assert leftovers(result.tmpdir) == []


def test_unreachable_index_is_a_network_error(run_cli, fixture_world) -> None:
    result = run_cli(
        "--core-ref",
        "1.0.0",
        "--core-package",
        CORE_DIST,
        "--store",
        fixture_world.store_wheel,
        "--index-url",
        "http://127.0.0.1:9/simple",
        timeout=120,
    )
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "could not reach the package index http://127.0.0.1:9/simple/" in run_error(result)
    assert "Connection refused" in run_error(result)
    assert result.report is not None and result.report["runs"][0]["status"] == "error"
    assert leftovers(result.tmpdir) == []


def test_missing_tmpdir_is_named(run_cli, fixture_world, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tmp"
    result = run_cli(
        "--core-ref",
        "git:v1.0.0",
        "--core-git",
        fixture_world.core_git_url,
        "--core-package",
        CORE_DIST,
        "--store",
        fixture_world.store_wheel,
        env=cli_env(missing),
    )
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert f"TMPDIR is '{missing}', which is not a writable directory" in run_error(result)
    assert "Traceback" not in result.output
    assert not missing.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_tmpdir_is_named(run_cli, fixture_world, tmp_path: Path) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o555)
    result = run_cli(
        "--core-ref",
        "git:v1.0.0",
        "--core-git",
        fixture_world.core_git_url,
        "--store",
        fixture_world.store_wheel,
        env=cli_env(read_only),
    )
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "not a writable directory" in run_error(result)


def test_temp_dir_that_cannot_be_created(place: Place, fixture_world) -> None:
    """Fault injected: mkdtemp fails (read-only or full disk), whoever runs the test (root ignores modes)."""
    denied = PermissionError(errno.EACCES, "Permission denied", str(place.root / "ro" / "contract-check-x"))
    args = ["--core-ref=git:v1.0.0", "--core-git", fixture_world.core_git_url, *place.offline, "--store", "pkg"]
    with mock.patch.object(tempfile, "mkdtemp", side_effect=denied):
        ran = call([*args, "--format", "json"], place.cwd, contracts=None)
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    error = json.loads(ran.stdout)["runs"][0]["error"]
    assert f"could not create a temporary directory in {place.root / 'ro'}: Permission denied" in error
    assert "TMPDIR" in error and "Traceback" not in ran.output


COMPATIBLE = FakeContracts.factory(compatible_outcome)


def test_report_that_cannot_be_written_is_not_a_pass(place: Place) -> None:
    """A real fault: the disk is full (/dev/full) when the JSON report is written after a compatible check."""
    args = ["--core-ref=1.0.0", *place.offline, "--store", "pkg"]
    assert call(args, place.cwd, contracts=COMPATIBLE).code == ExitCode.OK
    ran = call([*args, "--json", "/dev/full"], place.cwd, contracts=COMPATIBLE)
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    assert "COMPATIBLE" in ran.stdout  # the verdict is printed, but a gate reading the report must not pass
    assert "could not write the report /dev/full: No space left on device" in ran.stderr


def test_github_summary_that_cannot_be_written(place: Place) -> None:
    ran = call(
        ["--core-ref=1.0.0", *place.offline, "--store", "pkg"],
        place.cwd,
        contracts=COMPATIBLE,
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(place.root / "no-dir" / "summary.md")},
    )
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    assert "could not write the report" in ran.stderr and "Traceback" not in ran.output


# ------------------------------------------------------------------------------------ internal errors (4)


@pytest.mark.parametrize(
    "fault",
    [
        RuntimeError("boom at https://user:s3cr3t-T0KEN@host/simple [/]"),
        KeyError("x"),
        RecursionError("maximum recursion depth exceeded"),
    ],
)
def test_internal_error_is_short_and_traceback_only_with_v(place: Place, fault: Exception) -> None:
    faulty = FakeContracts.factory(fault)
    ran = call(["--core-ref=1.0.0", *place.offline, "--store", "pkg"], place.cwd, contracts=faulty)
    verbose = call(["--core-ref=1.0.0", *place.offline, "--store", "pkg", "-v"], place.cwd, contracts=faulty)
    assert ran.code == verbose.code == ExitCode.INTERNAL, ran.output
    assert f"internal error: {type(fault).__name__}" in ran.stderr
    assert "Traceback" not in ran.output and "run again with -v" in ran.stderr
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "s3cr3t-T0KEN" not in ran.output + verbose.output


@pytest.mark.parametrize("fault", [KeyboardInterrupt(), EOFError()])
def test_interrupt_in_process_is_130(place: Place, fault: BaseException) -> None:
    args = ["--core-ref=1.0.0", *place.offline, "--store", "pkg"]
    ran = call(args, place.cwd, contracts=FakeContracts.factory(fault))
    assert ran.code == ExitCode.INTERRUPTED and "interrupted" in ran.stderr, ran.output
    assert "Traceback" not in ran.output


# --------------------------------------------------------------------- "could not check" is never "compatible"


def _row(layer: Layer, status: Status) -> Check:
    return Check(id=f"{layer}-{status}", subject="FeedbackEvent", layer=layer, status=status)


A, U = Layer.ASSERTION, Layer.USER
P, F, E, S = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([], 3),
        ([(A, S), (U, S)], 3),
        ([(A, S), (U, P)], 3),  # a user conftest skipped the built-ins: only the user's own tests ran
        ([(U, P)], 3),
        ([(A, S), (U, F)], 1),  # a failure is still a failure
        ([(A, S), (U, E)], 1),
        ([(A, P), (U, S)], 0),
        ([(Layer.SCHEMA, P)], 0),
        ([(A, P), (A, E)], 1),
    ],
)
def test_run_exit_code_never_compatible_without_a_builtin_result(rows: list[tuple[Layer, Status]], code: int) -> None:
    assert run_exit_code([_row(layer, status) for layer, status in rows]) == code


@pytest.fixture
def fake_pytest(tmp_path: Path):
    """An 'interpreter' that ignores ``-m pytest ...`` and writes the given lines to $CONTRACT_CHECK_OUT."""

    def make(lines: list[str], exit_code: int = 0) -> Path:
        script = tmp_path / "fake-python"
        script.write_text(
            f"#!{sys.executable}\nimport os, sys\n"
            f"out = os.environ.get('CONTRACT_CHECK_OUT')\n"
            f"if out and {bool(lines)}:\n    open(out, 'w').write({json.dumps(chr(10).join(lines))} + '\\n')\n"
            f"sys.exit({exit_code})\n"
        )
        script.chmod(0o755)
        return script

    return make


def _run_fake(interpreter: Path, workdir: Path) -> pytest_session.Outcome:
    layout = pytest_session.prepare(workdir, suite.builtin(), None)
    box = SimpleNamespace(interpreter=interpreter)  # what the runner uses of an environment
    return pytest_session.run_builtin(box, layout, env={"PATH": os.environ["PATH"]}, timeout=30, strict=False)  # type: ignore[arg-type]


RESULT = {"event": "result", "nodeid": "contracts/test_a.py::test_a", "outcome": "passed", "layer": "assertion"}


@pytest.mark.parametrize(
    ("lines", "exit_code"),
    [
        ([], 0),  # no report at all, pytest said 0
        ([], 4),  # pytest usage error
        ([json.dumps({"event": "env", "versions": {}}), json.dumps({"event": "end", "exitstatus": 5})], 5),
        ([json.dumps({**RESULT, "outcome": "skipped"}), json.dumps({"event": "end", "exitstatus": 0})], 0),
        (["not json", "{", json.dumps(["an", "array"])], 0),
    ],
)
def test_missing_or_empty_plugin_report_is_could_not_check(
    fake_pytest, tmp_path: Path, lines: list[str], exit_code: int
) -> None:
    outcome = _run_fake(fake_pytest(lines, exit_code), tmp_path)
    assert run_exit_code(outcome.checks) == ExitCode.ENVIRONMENT


@pytest.mark.parametrize(
    "event",
    [
        {**RESULT, "nodeid": 5},
        {**RESULT, "outcome": ["passed"]},
        {**RESULT, "outcome": "exploded"},
        {k: v for k, v in RESULT.items() if k != "outcome"},
        {**RESULT, "message": {"not": "text"}},
        {**RESULT, "duration": "slow"},
        {**RESULT, "warnings": [1, 2]},
        {"event": "env", "versions": ["pydantic"]},
        {"event": "env", "versions": {"pydantic": 2}},
        {"event": "artifact", "data": {}},
        {"event": "start"},
    ],
)
def test_malformed_plugin_report_is_an_environment_problem(fake_pytest, tmp_path: Path, event: dict[str, Any]) -> None:
    lines = [json.dumps(RESULT), json.dumps(event), json.dumps({"event": "end", "exitstatus": 0})]
    with pytest.raises(EnvironmentProblem, match="the contract results are malformed"):
        _run_fake(fake_pytest(lines), tmp_path)


def _outcome(**kw: Any) -> pytest_session.Outcome:
    return pytest_session.Outcome(completed=True, versions={CORE_DIST: "1.0.0"}, **kw)


GOLDEN = json.loads((pytest_session.builtin_contracts() / "golden" / "schemas.json").read_text())


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        (_outcome(), "no contract ran"),
        (_outcome(checks=[_row(A, S), _row(A, S)]), "no contract ran"),
        (_outcome(checks=[_row(A, S), _row(U, P)]), "none of the built-in contracts ran"),
        (_outcome(checks=[_row(A, P)], artifacts={"snapshot": {"models": None}}), "malformed schema snapshot"),
        (_outcome(checks=[_row(A, P)], artifacts={"snapshot": {**GOLDEN, "enums": {"X": "ok"}}}), "malformed"),
        (EnvironmentProblem("the contract results are malformed (line 2 of results-0.jsonl)"), "malformed"),
    ],
)
def test_could_not_check_end_to_end_in_process(place: Place, outcome: Any, says: str) -> None:
    """The host side from a contract outcome to the exit code: nothing, or nothing usable, is exit 3."""

    args = ["--core-ref=1.0.0", *place.offline, "--store", "pkg", "--format", "json"]
    ran = call(args, place.cwd, contracts=FakeContracts.factory(outcome))
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    report = json.loads(ran.stdout)
    assert report["summary"]["exit_code"] == 3 and report["runs"][0]["status"] == "error"
    assert says in report["runs"][0]["error"]


# ----------------------------------------------------------------------------- slow: real venvs, real CLI


@pytest.fixture
def fx(fixture_world) -> list[str | Path]:
    return [
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        fixture_world.store_wheel,
        "--core-git",
        fixture_world.core_git_url,
    ]


@pytest.mark.slow
def test_store_whose_build_fails_shows_the_build_error(run_cli, fixture_world, tmp_path: Path) -> None:
    store = tmp_path / "bogus-store"
    (store / "bogus_store").mkdir(parents=True)
    (store / "bogus_store" / "__init__.py").write_text("")
    (store / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = []
        build-backend = "no_such_backend_xyz"

        [project]
        name = "bogus-store"
        version = "0.1.0"
        dependencies = ["{CORE_DIST}"]
        """)
    )
    result = run_cli(
        "--core-ref", "1.0.0", "--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "--store", store
    )
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "the Store project" in run_error(result) and "failed to build (build)" in run_error(result)
    assert "No module named 'no_such_backend_xyz'" in run_error(result)  # the tail of the build's own error
    assert "Traceback" not in result.stderr
    assert leftovers(result.tmpdir) == []


@pytest.mark.slow
def test_unreachable_index_while_installing_is_a_network_error(run_cli, fixture_world) -> None:
    """Past the listing (a git ref needs none): uv itself cannot reach the index for pydantic and pytest."""
    result = run_cli(
        "--core-ref",
        "git:v1.0.0",
        "--core-git",
        fixture_world.core_git_url,
        "--core-package",
        CORE_DIST,
        "--store",
        fixture_world.store_wheel,
        "--index-url",
        "http://127.0.0.1:9/simple",
        timeout=240,
    )
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "uv install failed" in run_error(result), result.output
    assert leftovers(result.tmpdir) == []


def _contracts(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    for filename, source in files.items():
        (directory / filename).write_text(textwrap.dedent(source))
    return directory


@pytest.mark.slow
@pytest.mark.parametrize(
    ("files", "says"),
    [
        (
            {
                "conftest.py": """
                import pytest

                def pytest_sessionstart(session):
                    pytest.exit("the Store's conftest ends the session", returncode=0)
                """
            },
            "did not run",
        ),
        (
            {
                "test_writes_garbage.py": """
                import json, os

                def test_garbage():
                    with open(os.environ["CONTRACT_CHECK_OUT"], "a") as fh:
                        fh.write(json.dumps({"event": "result", "nodeid": 7, "outcome": "passed"}) + "\\n")
                """
            },
            "the contract results are malformed",
        ),
    ],
    ids=["pytest-exit", "garbage-report"],
)
def test_could_not_check_end_to_end(run_cli, fx, tmp_path: Path, files: dict[str, str], says: str) -> None:
    extra = _contracts(tmp_path, "store-contracts", files)
    result = run_cli("--core-ref", "1.0.0", "--contracts", extra, *fx)
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "COULD NOT CHECK" in result.stdout and "COMPATIBLE" not in result.stdout.replace("COULD NOT", "")
    assert says in run_error(result), result.stdout
    assert leftovers(result.tmpdir) == []


def _shell_cases(marker: Path) -> list[list[str]]:
    m = str(marker)
    return [
        ["--core-ref", f"git:$(touch${{IFS}}{m})"],
        ["--core-ref", f"git:`touch${{IFS}}{m}`"],
        ["--core-ref", f"git:x;touch${{IFS}}{m};"],
        ["--core-ref", f"{CORE_DIST} @ file:///nonexistent/$(touch${{IFS}}{m}).whl"],
        ["--core-ref", "git:v1.0.0", "--core-git", f"file:///nonexistent;touch${{IFS}}{m}"],
        ["--core-ref", "1.0.0", "--python", f"$(touch${{IFS}}{m})"],
    ]


@pytest.mark.slow
@pytest.mark.parametrize("case", range(6))
def test_input_reaching_uv_and_git_is_never_executed(run_cli, fixture_world, tmp_path: Path, case: int) -> None:
    """Shell syntax in refs, URLs and --python goes through uv and git as one argv item: nothing runs it."""
    marker = tmp_path / "pwned"
    args = _shell_cases(marker)[case]
    if args[1].startswith("git:") and not refs.is_git_ref_name(args[1][4:]):
        pytest.skip("the temp path makes this an invalid git ref name")
    result = run_cli(
        *args,
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        fixture_world.store_wheel,
        *([] if "--core-git" in args else ["--core-git", fixture_world.core_git_url]),
        timeout=240,
    )
    assert result.code in (ExitCode.USAGE, ExitCode.ENVIRONMENT), result.output
    assert not marker.exists(), f"executed: {args}"
    assert "Traceback" not in result.output
    assert leftovers(result.tmpdir) == []


@pytest.mark.slow
def test_four_checks_at_once_share_the_uv_cache(fixture_world, tmp_path: Path) -> None:
    """Four processes started together, one TMPDIR, one uv cache: each verdict is right, nothing is left."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    removed = fixture_world.variant_versions["enum_value_removed"]
    added = fixture_world.variant_versions["optional_field_added"]
    expected = {
        "1.0.0": (0, None),
        "1.3.0": (1, "IMPORT_FAILED"),
        removed: (1, "ENUM_VALUE_REMOVED"),
        added: (0, "OPTIONAL_FIELD_ADDED"),
    }
    procs = {}
    for ref in expected:
        argv = [sys.executable, "-m", "contract_check", "--core-ref", ref, "--core-package", CORE_DIST]
        argv += ["--find-links", str(fixture_world.find_links), "--store", str(fixture_world.store_wheel)]
        argv += ["--json", str(tmp_path / f"{ref}.json"), "-q"]
        procs[ref] = subprocess.Popen(
            argv, env=cli_env(tmpdir), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    for ref, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        code, rule = expected[ref]
        assert proc.returncode == code, (ref, out, err)
        report = json.loads((tmp_path / f"{ref}.json").read_text())
        (run,) = report["runs"]
        assert run["core_version"] == ref and run["exit_code"] == code
        rules = {c["rule"] for c in run["checks"] if c["rule"]}
        assert rule is None or rule in rules, (ref, rules)
        assert "Traceback" not in err
    assert leftovers(tmpdir) == []
    assert not any(tmpdir.iterdir()), sorted(p.name for p in tmpdir.iterdir())
    stray = subprocess.run(["pgrep", "-f", str(tmpdir)], capture_output=True, text=True).stdout
    assert stray.strip() == "", stray


@pytest.mark.slow
def test_timeout_while_installing_leaves_nothing(run_cli, fx, tmp_path: Path) -> None:
    """A phase that outlives --timeout (a fake uv that hangs on install) is killed with its tree: exit 3."""
    from uv import find_uv_bin

    fake_uv = tmp_path / "uv"
    real = find_uv_bin()
    fake_uv.write_text(
        f'#!/bin/sh\nif [ "$1" = pip ]; then sleep 600 & sleep 600; fi\nexec {real} "$@"\n', encoding="utf-8"
    )
    fake_uv.chmod(0o755)
    start = time.monotonic()
    result = run_cli("--core-ref", "git:v1.0.0", *fx, "--timeout", "5", env=cli_env(tmp_path / "tmp", UV=str(fake_uv)))
    assert time.monotonic() - start < 60
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert "did not finish within 5s" in run_error(result)
    assert leftovers(result.tmpdir) == []
    stray = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True).stdout
    assert stray.strip() == "", stray
