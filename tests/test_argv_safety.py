"""No user value reaches a child process as an option (issue 9, item 8).

``--core-git '--upload-pack=touch pwned;' --core-ref git:main`` ran the command: ``git ls-remote`` read the
URL as an option. Fixed at three depths: ``--core-git`` (flag or config) must be a git URL of an accepted
scheme; git gets ``--`` before the URL and refs; and every other value passed to uv as an argument (store,
python, index URL, find-links) or written into uv's overrides file cannot start with ``-``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

import pytest

from contract_check import config, suite
from contract_check.errors import UsageError
from contract_check.models import ExitCode, Source
from contract_check.sources import artifacts, gitrev, refs
from contract_check.util import proc
from fixturepkgs import CORE_DIST
from test_hardening import call

TOKEN = "s3cr3t-T0KEN"

ACCEPTED = [
    suite.builtin().core_git,
    "git+https://example.invalid/o/r.git",
    f"https://user:{TOKEN}@example.invalid/o/r.git",
    "ssh://git@example.invalid/o/r.git",
    "git+ssh://git@example.invalid:2222/o/r.git",
    "git://example.invalid/r.git",
    "file:///srv/git/r.git",
    "git+file:///srv/git/r",
    "file://localhost/srv/git/r",
    "HTTPS://EXAMPLE.INVALID/R",
    "https://[::1]:8080/r.git",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted_git_urls(url: str) -> None:
    config.check_git_url(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("--upload-pack=touch pwned;", "starts with '-', so git would read it as an option"),
        ("-oProxyCommand=touch pwned", "starts with '-'"),
        ("ext::sh -c touch% pwned", "holds whitespace or control characters"),
        ("ext::sh%20-c%20touch", "is not a git URL of an accepted scheme"),
        ("git@example.invalid:o/r.git", "is an scp-like address: write it as ssh://USER@HOST/PATH"),
        ("http://example.invalid/r.git", "is not a git URL of an accepted scheme"),
        ("ftp://example.invalid/r.git", "is not a git URL of an accepted scheme"),
        ("git+ext://x", "is not a git URL of an accepted scheme"),
        ("", "is not a git URL of an accepted scheme"),
        ("relative/path", "is not a git URL of an accepted scheme"),
        ("https://example.invalid/r.git\n-r /etc/passwd", "holds whitespace or control characters"),
        ("https://example.invalid/r.git\x00", "holds a NUL byte"),
        ("ssh://-oProxyCommand=touch%20pwned/x", "a host or user name that starts with '-'"),
        ("ssh://-u@example.invalid/x", "a host or user name that starts with '-'"),
        ("https:///no-host", "has no host"),
        ("https://example.invalid:/r", "has an empty port"),
        ("https://example.invalid:port/r", "is not a valid URL"),
        ("https://example.invalid/r.git#subdirectory=x", "has a query or fragment"),
        ("https://example.invalid/r?x=1", "has a query or fragment"),
        ("file://elsewhere/srv/r", "must name an absolute path on this machine"),
    ],
)
def test_refused_git_urls_name_the_value_and_the_accepted_forms(url: str, why: str) -> None:
    with pytest.raises(UsageError) as info:
        config.check_git_url(url)
    assert info.value.message.startswith(f"--core-git {config.shown(url)} ")
    assert why in info.value.message
    if "NUL" not in why:
        assert info.value.tip == config.GIT_URL_FORMS and "ssh://[USER@]HOST" in info.value.tip


def test_a_refused_url_is_redacted_in_the_message() -> None:
    with pytest.raises(UsageError) as info:
        config.check_git_url(f"http://user:{TOKEN}@example.invalid/r.git")
    assert TOKEN not in info.value.message and "***@example.invalid" in info.value.message


def _pyproject(project: Path, body: str) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(f"[tool.contract-check]\n{body}\n", encoding="utf-8")
    return project


def test_build_checks_the_flag_and_the_config(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--core-git '--upload-pack=touch pwned;' starts with '-'"):
        config.build({"core_git": "--upload-pack=touch pwned;"}, tmp_path, environ={})
    project = _pyproject(tmp_path / "p", 'core-git = "--upload-pack=touch pwned;"')
    with pytest.raises(UsageError, match=r"^\[tool.contract-check\] core-git '--upload-pack=touch pwned;' starts"):
        config.build({}, project, environ={})
    # a good flag overrides a bad config value: the value used is the one checked
    assert config.build({"core_git": ACCEPTED[1]}, project, environ={}).core_git == ACCEPTED[1]


@pytest.mark.parametrize(
    ("flag", "key", "value"),
    [
        ("--python", "python", "--version"),
        ("--index-url", "index-url", "--find-links=/tmp"),
        ("--find-links", "find-links", "-x://example.invalid/links"),
        ("--store", "store", "-epkg"),
    ],
)
def test_values_given_to_uv_never_start_with_a_dash(tmp_path: Path, flag: str, key: str, value: str) -> None:
    attr = key.replace("-", "_")
    flags = {attr: (value,) if attr == "find_links" else value}
    with pytest.raises(UsageError, match=f"^{flag} '{value}' starts with '-', so it would be read as an option"):
        config.build(flags, tmp_path, environ={})
    toml = f'["{value}"]' if attr == "find_links" else f'"{value}"'
    project = _pyproject(tmp_path / key, f"{key} = {toml}")
    with pytest.raises(UsageError, match=rf"^\[tool.contract-check\] {key} '{value}' starts with '-'"):
        config.build({}, project, environ={})


def test_index_url_from_the_environment_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^\$UV_INDEX_URL '--x' starts with '-'"):
        config.build({}, tmp_path, environ={"UV_INDEX_URL": "--x"})


def test_relative_paths_starting_with_a_dash_become_absolute(tmp_path: Path) -> None:
    (tmp_path / "-links").mkdir()
    (tmp_path / "-contracts").mkdir()
    options = config.build(
        {"find_links": ("-links",), "contracts": (Path("-contracts"),), "python": "./-python"}, tmp_path, environ={}
    )
    assert options.find_links == (str(tmp_path / "-links"),)
    assert options.contracts == (tmp_path / "-contracts",)
    assert options.python == str(tmp_path / "-python")


def test_git_ls_remote_gets_double_dash_before_url_and_refs() -> None:
    seen: list[tuple[str, ...]] = []

    def fake_run(argv: list[str], **_: object) -> proc.Completed:
        seen.append(tuple(argv))
        return proc.Completed(tuple(argv), 0, "a" * 40 + "\trefs/heads/main\n", "", 0.0)

    parsed = refs.parse("git:main", core_package=CORE_DIST)
    resolved = refs.resolve(parsed, core_package=CORE_DIST, core_git="https://example.invalid/r.git", releases=list)
    with mock.patch.object(gitrev.proc, "run", fake_run):
        assert artifacts.git_commit(resolved) == "a" * 40
    assert seen == [("git", "ls-remote", "--", "https://example.invalid/r.git", "main", "main^{}")]


@pytest.mark.parametrize(
    ("ref", "rev"),
    [("git:v1.0.0", "v1.0.0"), ("git:a@b", "a%40b"), ("git:x%y#z", "x%25y%23z"), ("git:feature/x", "feature/x")],
)
def test_git_revision_is_encoded_for_uv(ref: str, rev: str) -> None:
    """uv splits the revision off at the last "@" and decodes it: "@", "#" and "%" in a ref are encoded, so
    that no part of a ref can become the URL, a fragment or (after "@") a revision starting with "-"."""
    parsed = refs.parse(ref, core_package=CORE_DIST)
    resolved = refs.resolve(parsed, core_package=CORE_DIST, core_git="https://h/r.git", releases=list)
    assert resolved.requirement == f"{CORE_DIST} @ git+https://h/r.git@{rev}"


@pytest.mark.parametrize("form", ["flag", "flag=", "config"])
def test_cli_refuses_upload_pack_before_running_anything(tmp_path: Path, form: str) -> None:
    canary = tmp_path / "pwned"
    value = f"--upload-pack=touch {canary};"
    args: list[str | Path] = ["--core-ref", "git:main", "--core-package", CORE_DIST, "--offline", "--store", "pkg"]
    if form == "config":
        _pyproject(tmp_path, f"core-git = {value!r}".replace("'", '"'))
    else:
        args += ["--core-git", value] if form == "flag" else [f"--core-git={value}"]
    ran = call(args, tmp_path)
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"core-git '{value}' starts with '-'" in ran.stderr and "accepted --core-git forms" in ran.stderr
    assert not canary.exists()


# ------------------------------------------------------------------------------ slow: real git, real CLI


@pytest.mark.slow
def test_git_itself_is_given_no_option(tmp_path: Path) -> None:
    """Below the validation: even a URL that got past it reaches git after "--", as a (refused) path."""
    canary = tmp_path / "pwned"
    url = f"--upload-pack=touch {canary};"
    resolved = refs.ResolvedRef("git:main", f"{CORE_DIST} @ git+{url}@main", Source.GIT, git_url=url, git_rev="main")
    assert artifacts.git_commit(resolved) is None
    assert not canary.exists()


@pytest.mark.slow
@pytest.mark.parametrize("where", ["flag", "config"])
def test_upload_pack_end_to_end(run_cli, fixture_world, tmp_path: Path, where: str) -> None:
    canary = tmp_path / "pwned"
    value = f"--upload-pack=touch {canary};"
    project = tmp_path / "store"
    shutil.copytree(fixture_world.store_project, project)
    args: list[str | Path] = ["--core-ref", "git:main", "--core-package", CORE_DIST]
    if where == "flag":
        args += ["--core-git", value]
    else:
        with (project / "pyproject.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'\n[tool.contract-check]\ncore-git = "{value}"\n')
    result = run_cli(*args, "--find-links", fixture_world.find_links, cwd=project, timeout=120)
    assert result.code == ExitCode.USAGE, result.output
    assert "starts with '-', so git would read it as an option" in result.stderr
    assert "accepted --core-git forms" in result.stderr
    assert not canary.exists(), "the URL was run as a command"


@pytest.mark.slow
def test_a_ref_holding_upload_pack_after_an_at_sign(run_cli, fixture_world, tmp_path: Path) -> None:
    """``git:a@--upload-pack=...`` is a valid git ref name; split at its "@" it used to become git's option."""
    canary = tmp_path / "pwned"
    ref = f"git:a@--upload-pack=touch${{IFS}}{canary}"
    assert refs.is_git_ref_name(ref[4:])
    result = run_cli(
        "--core-ref", ref, "--core-git", fixture_world.core_git_url, "--core-package", CORE_DIST,
        "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel, timeout=240,
    )  # fmt: skip
    assert result.code == ExitCode.ENVIRONMENT, result.output
    assert not canary.exists(), "the ref was run as a command"
    assert "Traceback" not in result.output
