"""Input that used to end in an internal error (exit 4) or an unclear message (issue 9, items 11 and 12).

Each case is a usage error (2) or an environment problem (3) with a message that names the value and says
what to do. Most run ``cli.run`` in-process with the sandbox disabled (``test_hardening.call``); the ones
marked slow start the real CLI.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from conftest import FakeContracts, cli_env, leftovers
from contract_check import config, sandbox
from contract_check.errors import EnvironmentProblem, UsageError, bounded, from_os_error
from contract_check.models import ExitCode
from contract_check.sources import index, refs
from fixturepkgs import CORE_DIST
from test_hardening import Place, call

HUGE = "1" * 5000  # Python parses at most 4,300 digits into an int: packaging's Version raised ValueError


@pytest.fixture
def place(tmp_path: Path) -> Place:
    for name in ("empty-links", "cwd", "project"):
        (tmp_path / name).mkdir()
    return Place(tmp_path, tmp_path / "cwd", tmp_path / "project", tmp_path / "pwned")


def run(place: Place, *args: str | Path, cwd: Path | None = None, **kw: Any) -> Any:
    ran = call([*place.offline, "--store", "pkg", *args], cwd or place.cwd, **kw)
    assert "Traceback" not in ran.output and "internal error" not in ran.output, ran.output
    return ran


# ------------------------------------------------------------------------------------- huge versions


@pytest.mark.parametrize("ref", [HUGE, f"1.{HUGE}", f"v{HUGE}.0", f"1.0.post{HUGE}"])
def test_a_version_ref_with_too_many_digits(place: Place, ref: str) -> None:
    ran = run(place, "--core-ref", ref)
    assert ran.code == ExitCode.USAGE, ran.output
    assert "a number in this version is too long (Python reads at most 4,300 digits)" in ran.stderr
    assert len(ran.stderr) < 3000  # the ref is quoted cut short


@pytest.mark.parametrize("spec", [f">={HUGE}", f"=={HUGE}.*", f">=1,<{HUGE}", "~=1.0,!!2"])
def test_a_core_range_with_too_many_digits_or_no_specifier(place: Place, spec: str) -> None:
    ran = run(place, "--core-range", spec)
    assert ran.code == ExitCode.USAGE, ran.output
    assert "--core-range" in ran.stderr and "is not a usable version specifier" in ran.stderr


def test_huge_versions_on_the_index_are_not_releases(tmp_path: Path) -> None:
    """A page naming a 5,000-digit version (PEP 503 page or a find-links page) is read; that file is skipped."""
    page = tmp_path / "simple" / CORE_DIST
    page.mkdir(parents=True)
    stem = CORE_DIST.replace("-", "_")
    anchors = [f"{stem}-{v}-py3-none-any.whl" for v in ("1.0.0", HUGE, f"1.{HUGE}")] + [f"{stem}-{HUGE}.tar.gz"]
    (page / "index.html").write_text("".join(f'<a href="{a}">{a}</a>' for a in anchors), encoding="utf-8")
    settings = index.IndexSettings(index_url=(tmp_path / "simple").as_uri())
    assert [str(r.version) for r in index.releases(CORE_DIST, settings, uv="unused")] == ["1.0.0"]
    links = index.IndexSettings(find_links=((page / "index.html").as_uri(),), offline=True)
    assert [str(r.version) for r in index.releases(CORE_DIST, links, uv="unused")] == ["1.0.0"]


def test_a_store_declaring_a_huge_version_bound(tmp_path: Path) -> None:
    """The Store's own pyproject pins Core with a 5,000-digit bound: unusable, so not read as a bound."""
    assert config.declared_specifier([f"{CORE_DIST}>={HUGE}"], CORE_DIST) is None
    assert config.declared_specifier([f"{CORE_DIST}>={HUGE}", f"{CORE_DIST}>=1"], CORE_DIST) == ">=1"


# ---------------------------------------------------------------------------------- odd bytes and NUL


@pytest.mark.parametrize(
    "option", ["--core-ref", "--store", "--python", "--index-url", "--find-links", "--core-git", "--core-range"]
)
def test_bytes_that_are_not_utf8_in_any_option(place: Place, option: str) -> None:
    """The command line holds bytes that are not UTF-8 as lone surrogates; they used to crash when written."""
    ran = run(place, "--core-ref", "1.0.0", option, "ab\udcffc")
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"{option} 'ab\\udcffc' holds bytes that are not valid UTF-8" in ran.stderr, ran.stderr


def test_a_ref_with_bytes_that_are_not_utf8_in_the_parser() -> None:
    with pytest.raises(UsageError, match="a byte that is not valid UTF-8 at position 5"):
        refs.parse("git:\udcff", core_package=CORE_DIST)


@pytest.mark.parametrize("key", ["store", "contracts", "python", "index-url", "find-links", "core-git", "core-package"])
def test_nul_in_config_strings(place: Place, key: str) -> None:
    value = '"a\\u0000b"' if key not in ("contracts", "find-links") else '["a\\u0000b"]'
    (place.project / "pyproject.toml").write_text(f"[tool.contract-check]\n{key} = {value}\n", encoding="utf-8")
    ran = call(["--core-ref=1.0.0", "--offline"], place.project)
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"[tool.contract-check] {key} 'a\\x00b' holds a NUL byte" in ran.stderr, ran.stderr


def test_nul_in_flags(place: Place) -> None:
    ran = run(place, "--core-ref", "1.0.0", "--python", "py\x00thon")
    assert ran.code == ExitCode.USAGE and "--python 'py\\x00thon' holds a NUL byte" in ran.stderr, ran.output


@pytest.mark.slow
def test_non_utf8_argv_end_to_end(tmp_path: Path) -> None:
    """The real command line: bytes, not a str, reach the tool."""
    argv = [os.fsencode(sys.executable), b"-m", b"contract_check", b"--core-ref", b"git:ma\xffin", b"--offline"]
    done = subprocess.run(argv, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, timeout=120)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == ExitCode.USAGE, stderr
    assert "holds bytes that are not valid UTF-8" in stderr and "Traceback" not in stderr


# ------------------------------------------------------------------------------------- special files


def test_proc_self_mem(place: Place) -> None:
    ran = run(place, "--core-ref", "/proc/self/mem")
    assert ran.code == ExitCode.USAGE and "is a file but not a wheel" in ran.stderr, ran.output
    ran = run(place, "--core-ref", "1.0.0", "--contracts", "/proc/self/mem")
    assert ran.code == ExitCode.USAGE and "is not a Python file (.py)" in ran.stderr, ran.output
    ran = call(["merge", "/proc/self/mem"], place.cwd)
    assert ran.code == ExitCode.USAGE and "cannot read the report" in ran.stderr, ran.output


# ------------------------------------------------------------------------------- malformed pyproject


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("tool = 5", "tool in {path} must be a table ([tool]), not int"),
        ("project = 5", "project in {path} must be a table ([project]), not int"),
        ('project = "x"', "project in {path} must be a table ([project]), not str"),
        ("[project]\nname = 5", "[project] name in {path} must be a string, not int"),
        ("[project]\ndependencies = 5", "[project] dependencies in {path} must be a list of strings, not int"),
        ('[project]\ndependencies = ["x", 5]', "[project] dependencies in {path} must be a list of strings"),
        ("[tool]\ncontract-check = 5", "[tool.contract-check] in {path} must be a table"),
        ("[tool]\ncontract-check = false", "[tool.contract-check] in {path} must be a table"),
        ("a = " + "[" * 5000 + "]" * 5000, "{path} is not usable: its arrays or tables are nested too deeply"),
        ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "{path} is not usable: its arrays or tables are nested too"),
    ],
)
def test_malformed_pyproject_is_a_usage_error(place: Place, body: str, says: str) -> None:
    path = place.project / "pyproject.toml"
    path.write_text(body + "\n", encoding="utf-8")
    ran = call(["--core-ref=1.0.0", "--offline"], place.project)
    assert ran.code == ExitCode.USAGE, ran.output
    assert says.format(path=path) in ran.stderr, ran.stderr
    assert "Traceback" not in ran.output
    if "contract-check" not in body:  # the same file as the Store's (its [tool.contract-check] is not read)
        ran = run(place, "--core-ref", "1.0.0", "--store", place.project)
        assert ran.code == ExitCode.USAGE and says.format(path=path) in ran.stderr, ran.output


def test_deeply_nested_json_from_the_index(tmp_path: Path) -> None:
    from test_index import JSON_TYPE, Seen, _serve

    deep = b"[" * 100_000 + b"]" * 100_000
    body = b'{"files": ' + deep + b"}"
    seen: list[Seen] = []
    httpd = _serve(seen, {f"/simple/{CORE_DIST}/": (200, JSON_TYPE, body, {})})
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/simple"
        with pytest.raises(EnvironmentProblem, match="not a PEP 691 project page"):
            index.releases(CORE_DIST, index.IndexSettings(index_url=url), uv="unused")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_index_page_too_large_is_refused(tmp_path: Path) -> None:
    from test_index import Seen, _serve

    body = b"<a>x</a>" * 100
    seen: list[Seen] = []
    httpd = _serve(seen, {f"/simple/{CORE_DIST}/": (200, "text/html", body, {})})
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/simple"
        with (
            mock.patch.object(index, "PAGE_LIMIT", 100),
            pytest.raises(EnvironmentProblem, match=r"the package index sent more than 0 MiB"),
        ):
            index.releases(CORE_DIST, index.IndexSettings(index_url=url), uv="unused")
    finally:
        httpd.shutdown()
        httpd.server_close()


# --------------------------------------------------------------------------------------------- timeout


@pytest.mark.parametrize("value", ["1e308", "604801", "1e20"])
def test_a_huge_timeout_is_a_usage_error(place: Place, value: str) -> None:
    ran = run(place, "--core-ref", "1.0.0", "--timeout", value)
    assert ran.code == ExitCode.USAGE, ran.output
    assert "--timeout must be at most 604800 seconds (a week)" in ran.stderr


def test_a_week_is_accepted(tmp_path: Path) -> None:
    assert config.build({"timeout": 604800.0}, tmp_path, environ={}).timeout == 604800.0


# ------------------------------------------------------------------------------------------- full disk


def _copy_error(count: int) -> shutil.Error:
    why = str(OSError(errno.ENOSPC, "No space left on device"))
    return shutil.Error(
        [(f"/base/venv/lib/f{i}.py", f"/tmp/contract-check-x/venv/lib/f{i}.py", why) for i in range(count)]
    )


def test_a_full_disk_while_copying_is_short_and_plain(place: Place) -> None:
    """A nearly full TMPDIR: copying the base environment failed for every file, and the shutil.Error
    listing them all (1.2 MB) was printed as an internal error."""
    error = _copy_error(20_000)
    assert len(str(error)) > 1_000_000
    ran = run(place, "--core-ref", "1.0.0", contracts=FakeContracts.factory(error))
    assert ran.code == ExitCode.ENVIRONMENT, ran.output[:2000]
    assert ran.stderr.startswith("error: no space left on device (20000 file(s) could not be copied; the first:")
    assert "free disk space, or point TMPDIR at" in ran.stderr
    assert len(ran.output) < 2000


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/tmp/x/overrides.txt"), "no space left on device"),
        (OSError(errno.EIO, "Input/output error", "/tmp/x"), "a file operation failed: Input/output error: /tmp/x"),
    ],
)
def test_os_errors_reaching_the_top_are_environment_problems(place: Place, error: OSError, says: str) -> None:
    faulty = FakeContracts.factory(error)
    ran = run(place, "--core-ref", "1.0.0", contracts=faulty)
    verbose = call([*place.offline, "--store", "pkg", "--core-ref", "1.0.0", "-v"], place.cwd, contracts=faulty)
    assert ran.code == verbose.code == ExitCode.ENVIRONMENT, ran.output
    assert says in ran.stderr and "Traceback" not in ran.stderr
    assert "Traceback (most recent call last)" in verbose.stderr  # -v still shows where it came from


def test_bounded_keeps_both_ends() -> None:
    text = "start " + "x" * 10_000 + " end"
    cut = bounded(text, 100)
    assert cut.startswith("start ") and cut.endswith(" end") and "characters not shown" in cut
    assert len(cut) < 200 and bounded("short") == "short"
    assert from_os_error(_copy_error(3)).message.startswith("no space left on device (3 file(s)")


# ------------------------------------------------------------------------------- unclear messages (12)


@pytest.mark.parametrize(
    ("ref", "named"),
    [
        ("\u200f1.0.0", "U+200F RIGHT-TO-LEFT MARK at position 1"),
        ("1.0.0\u200b", "U+200B ZERO WIDTH SPACE at position 6"),
        ("\ufeffv1.0.0", "U+FEFF ZERO WIDTH NO-BREAK SPACE at position 1"),
        ("git:ma\u00a0in", "U+00A0 NO-BREAK SPACE at position 7"),
        ("main\u2028", "U+2028 LINE SEPARATOR at position 5"),
        ("v1\u202e.0", "U+202E RIGHT-TO-LEFT OVERRIDE at position 3"),
        ("1.0\t", "U+0009 TAB at position 4"),
    ],
)
def test_an_invisible_character_in_a_ref_is_named(place: Place, ref: str, named: str) -> None:
    """An RTL mark before a version was silently a git branch name: 13 s, then "Could not resolve host"."""
    before = FakeContracts.started
    ran = run(place, "--core-ref", ref)
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"it holds whitespace or control characters, some invisible: {named}" in ran.stderr, ran.stderr
    assert FakeContracts.started == before


# uv's words for a damaged artifact (uv 0.13), recorded from real runs on an empty, a non-wheel and a junk file
DAMAGED = [
    "error: Failed to read `cc-fixture-core @ file:///w/cc_fixture_core-9.9.9-py3-none-any.whl`\n"
    "  Caused by: Failed to read metadata: /w/cc_fixture_core-9.9.9-py3-none-any.whl\n"
    "  Caused by: Failed to read from zip file\n  Caused by: unable to locate the end of central directory record",
    "error: Failed to read `cc-fixture-core @ file:///w/x.whl`\n  Caused by: No .dist-info directory found",
    "error: No solution found when resolving dependencies\n  Caused by: Because cc-fixture-core==9.9.9 has an "
    "invalid package format and you require cc-fixture-core==9.9.9, we can conclude that your requirements are "
    "unsatisfiable.\n\nhint: The structure of `cc-fixture-core` (v9.9.9) was invalid:\n  Failed to read from zip file",
    "error: Failed to build `x @ file:///w/x-1.tar.gz`\n  Caused by: Failed to extract archive\n"
    "  Caused by: Invalid tar file\n  Caused by: Invalid gzip header",
]


@pytest.mark.parametrize("output", DAMAGED)
def test_a_damaged_artifact_is_not_a_conflict(output: str) -> None:
    assert sandbox.classify_install_failure(output) == "damaged-artifact"
    assert "damaged or is not a wheel or sdist" in sandbox._TIPS["damaged-artifact"]
    assert "conflict" not in sandbox._TIPS["damaged-artifact"]


# uv's words when a pinned version does not exist (uv 0.13)
NO_VERSION = (
    "error: No solution found when resolving dependencies\n  cause: Because there is no version of {req} and you "
    "require {req}, we can conclude that your requirements are unsatisfiable."
)


@pytest.mark.parametrize("store", ["market-data-store==9.9.9", "Market_Data.Store==9.9.9", "acme-extra>=99"])
def test_a_missing_store_version_is_not_blamed_on_the_core_ref(store: str) -> None:
    output = NO_VERSION.format(req=store)
    kind = sandbox.classify_install_failure(output, core=["market-data-core"])
    assert kind == "package-not-found"
    tip = sandbox.install_tip(kind, output)
    assert store.split("=")[0].split(">")[0] in tip and "--store" in tip
    assert "--core-ref" not in tip


@pytest.mark.parametrize("core", ["market-data-core==9.9.9", "market_data_core==9.9.9"])
def test_a_missing_core_version_is_the_refs(core: str) -> None:
    output = NO_VERSION.format(req=core)
    assert sandbox.classify_install_failure(output, core=["market-data-core"]) == "ref-not-found"
    assert "--core-ref" in sandbox.install_tip("ref-not-found", output)
    assert sandbox.classify_install_failure(output) == "ref-not-found"  # who is Core unknown: as before


# uv's words (uv 0.13) for a package that no source offers at all, recorded from real runs (uv wraps its lines)
NO_SUCH_PACKAGE = [
    (
        "error: No solution found when resolving dependencies\n  cause: Because nope-pkg-xyz was not found in the "
        "package registry and you\n         require nope-pkg-xyz, we can conclude that your requirements are\n"
        "         unsatisfiable.",
        "nope-pkg-xyz was not found on the package index or in --find-links",
    ),
    (
        "error: No solution found when resolving dependencies\n  cause: Because nope-pkg-xyz was not found in the "
        "cache and you require\n         nope-pkg-xyz, we can conclude that your requirements are unsatisfiable.\n\n"
        "hint: Packages were unavailable because the network was disabled.",
        "nope-pkg-xyz was not found in uv's cache or --find-links (--offline)",
    ),
    (
        "error: No solution found when resolving dependencies\n  cause: Because nope-pkg-xyz was not found in the "
        "provided package locations and you require nope-pkg-xyz, we can conclude that your requirements are "
        "unsatisfiable.",
        "nope-pkg-xyz was not found in --find-links",
    ),
    (  # a requirement of the Store, not the Store itself
        "error: No solution found when resolving dependencies\n  cause: Because nope-dep-xyz was not found in the "
        "package\n         registry and all versions of acme-store depend on nope-dep-xyz>=1, we can conclude that"
        " all versions of acme-store cannot be used.",
        "nope-dep-xyz was not found on the package index or in --find-links",
    ),
]


@pytest.mark.parametrize(("output", "said"), NO_SUCH_PACKAGE)
def test_a_package_that_does_not_exist_is_named_not_called_a_conflict(output: str, said: str) -> None:
    """Seen: '--store nope-pkg-xyz' said the Store's requirements conflict with this Core."""
    kind = sandbox.classify_install_failure(output, core=["market-data-core"])
    assert kind == "package-not-found"
    assert sandbox.unknown_package(output) == said
    tip = sandbox.install_tip(kind, output)
    assert f"check the name {said.split()[0]}" in tip and "conflict" not in tip and "no such version" not in tip


def test_a_core_package_that_does_not_exist_is_the_refs() -> None:
    output = NO_SUCH_PACKAGE[0][0].replace("nope-pkg-xyz", "market-data-core")
    assert sandbox.classify_install_failure(output, core=["market-data-core"]) == "ref-not-found"


def test_a_real_conflict_is_still_a_resolution_failure() -> None:
    out = "error: No solution found\n  Because store depends on core>=2 and you require core==1, we can conclude"
    assert sandbox.classify_install_failure(out) == "resolution"


@pytest.mark.slow
@pytest.mark.parametrize("where", ["ref", "find-links"])
def test_empty_core_wheel_end_to_end(run_cli, fixture_world, tmp_path: Path, where: str) -> None:
    links = tmp_path / "links"
    shutil.copytree(fixture_world.find_links, links)
    wheel = links / "cc_fixture_core-9.9.9-py3-none-any.whl"
    wheel.write_bytes(b"")
    ref = str(wheel) if where == "ref" else "9.9.9"
    result = run_cli(
        "--core-ref", ref, "--core-package", CORE_DIST, "--find-links", links, "--store", fixture_world.store_wheel,
        "--no-cache", timeout=240,
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert result.report is not None
    error = result.report["runs"][0]["error"]
    assert "uv install failed (damaged artifact)" in error and "is not a wheel or sdist" in error, error
    assert "conflict" not in error
    assert leftovers(result.tmpdir) == []


def test_a_relative_tmpdir_is_made_absolute(place: Place) -> None:
    (place.cwd / "rel-tmp").mkdir()
    seen: list[str | None] = []

    def record() -> None:
        seen.append(os.environ.get("TMPDIR"))
        raise EnvironmentProblem("recorded")

    ran = call(
        [*place.offline, "--store", "pkg", "--core-ref", "1.0.0"],
        place.cwd,
        contracts=FakeContracts.factory(record),
        env={"TMPDIR": "rel-tmp"},
    )
    assert ran.code == ExitCode.ENVIRONMENT, ran.output
    assert seen == [str(place.cwd / "rel-tmp")]  # children run elsewhere: it must mean the same


@pytest.mark.slow
def test_a_relative_tmpdir_end_to_end(fixture_world, tmp_path: Path) -> None:
    """TMPDIR=rel gave "File not found": the sandbox's children resolved it against the sandbox."""
    (tmp_path / "rel").mkdir()
    argv = [sys.executable, "-m", "contract_check", "--core-ref", "1.0.0", "--core-package", CORE_DIST]
    argv += ["--find-links", str(fixture_world.find_links), "--store", str(fixture_world.store_wheel), "--no-cache"]
    done = subprocess.run(
        argv, cwd=tmp_path, env={**cli_env(tmp_path), "TMPDIR": "rel"}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "COMPATIBLE" in done.stdout
    assert leftovers(tmp_path / "rel") == []


def test_json_report_of_a_huge_error_is_still_json(place: Place) -> None:
    """The report keeps the run's error; the CLI bounds only what it prints."""
    huge = FakeContracts.factory(EnvironmentProblem("x" * 100_000))
    ran = run(place, "--core-ref", "1.0.0", "--format", "json", contracts=huge)
    assert ran.code == ExitCode.ENVIRONMENT
    assert len(json.loads(ran.stdout)["runs"][0]["error"]) >= 100_000
