"""The REF grammar (DESIGN.md): parsing is pure; resolving asks a fake release lister."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import ExitCode, Source
from contract_check.sources import refs
from contract_check.sources.index import Release

CORE = "market-data-core"
GIT = "https://example.invalid/acme/market-data-core.git"
SHA = "0123456789abcdef0123456789abcdef01234567"


def parse(ref: str, cwd: Path | None = None) -> refs.ParsedRef:
    return refs.parse(ref, core_package=CORE, cwd=cwd)


def releases(*versions: str, yanked: tuple[str, ...] = ()) -> refs.ReleaseLister:
    found = [Release(Version(v), v in yanked) for v in versions]
    return lambda: sorted(found, key=lambda r: r.version)


def resolve(
    ref: str, *, found: refs.ReleaseLister | None = None, cwd: Path | None = None, git: str = GIT
) -> refs.ResolvedRef:
    def no_index() -> list[Release]:
        raise AssertionError("this form must not ask the index")

    return refs.resolve(parse(ref, cwd), core_package=CORE, core_git=git, releases=found or no_index)


# -------------------------------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("ref", "target"),
    [
        ("1.4.55", "1.4.55"),
        ("v1.4.55", "1.4.55"),
        ("V1.4.55", "1.4.55"),
        ("1.5.0rc1", "1.5.0rc1"),
        ("1.5.0-rc1", "1.5.0rc1"),  # normalised
        ("1.4", "1.4"),
    ],
)
def test_versions_come_from_the_index(ref: str, target: str, tmp_path: Path) -> None:
    parsed = parse(ref, tmp_path)
    assert (parsed.source, parsed.target, parsed.latest) == (Source.INDEX, target, False)
    assert parsed.ref == ref


def test_latest() -> None:
    parsed = parse("latest")
    assert (parsed.source, parsed.latest) == (Source.INDEX, True)


@pytest.mark.parametrize(
    ("ref", "target"),
    [
        ("git:v1.2.0", "v1.2.0"),
        ("git:feature/x", "feature/x"),
        (f"git:{SHA}", SHA),
        ("main", "main"),
        ("feature/next", "feature/next"),
        ("a1b2c3d", "a1b2c3d"),
        (SHA, SHA),
        ("feature@x", "feature@x"),  # a valid ref name, not a requirement "feature" at URL "x"
    ],
)
def test_git_forms(ref: str, target: str, tmp_path: Path) -> None:
    parsed = parse(ref, tmp_path)
    assert (parsed.source, parsed.target) == (Source.GIT, target)


def test_directory_with_pyproject_is_a_local_source(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for ref in ("core", "./core", str(tmp_path / "core")):
        parsed = parse(ref, tmp_path)
        assert (parsed.source, parsed.target) == (Source.PATH, str(tmp_path / "core"))


def test_directory_without_pyproject_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"not a Python project \(no pyproject.toml") as info:
        parse("./empty", tmp_path)
    assert info.value.exit_code == ExitCode.USAGE == 2
    assert info.value.tip == refs.ACCEPTED_FORMS


@pytest.mark.parametrize(
    "name", ["dist/market_data_core-1.4.55-py3-none-any.whl", "dist/market-data-core-1.4.55.tar.gz"]
)
def test_archives(name: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory"):
        parse(name, tmp_path)
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_bytes(b"PK")
    parsed = parse(name, tmp_path)
    assert (parsed.source, parsed.target) == (Source.PATH, str(tmp_path / name))


def test_a_file_that_is_no_archive_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match=r"not a wheel \(\.whl\) or sdist"):
        parse("notes.txt", tmp_path)


@pytest.mark.parametrize(
    "ref",
    [
        "market-data-core @ https://files.example.invalid/market_data_core-1.4.55-py3-none-any.whl",
        "market-data-core @ git+https://example.invalid/acme/core.git@v1.4.55",
        "market_data_core @ git+https://example.invalid/acme/core.git@main",  # name compared canonically
    ],
)
def test_direct_references(ref: str) -> None:
    parsed = parse(ref)
    assert parsed.source is Source.URL
    assert parsed.target.split(" @ ")[1] == ref.split(" @ ")[1]


def test_direct_reference_to_another_package_names_core_package() -> None:
    with pytest.raises(UsageError, match=r"names 'market-data-store'.*--core-package") as info:
        parse("market-data-store @ https://example.invalid/store.whl")
    assert info.value.exit_code == 2


def test_direct_reference_follows_core_package() -> None:
    parsed = refs.parse("my-core @ https://example.invalid/c.whl", core_package="My_Core")
    assert parsed.source is Source.URL


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("", "empty"),
        ("-v", "starts with '-'"),
        ("--core-ref=1.0", "starts with '-'"),
        (" 1.4.55", "whitespace"),
        ("1.4.55 ", "whitespace"),
        ("feature x", "whitespace"),
        ("feature\tx", "whitespace or control"),
        ("feature\nx", "whitespace or control"),
        ("feature\x00x", "whitespace or control"),
        ("feature\x1bx", "whitespace or control"),
        ("feature\x7fx", "whitespace or control"),
        ("feature\x85x", "whitespace or control"),
        ("feature\u00a0x", "whitespace or control"),
        # a direct reference may hold " @ ", but no other whitespace or control character
        ("market-data-core @ https://example.invalid/c.whl\x00", "whitespace or control"),
        ("market-data-core @ https://example.invalid/a\tb.whl", "whitespace or control"),
        ("feature..x", "not a version"),
        ("feature~1", "not a version"),
        ("feature^1", "not a version"),
        ("feature:x", "not a version"),
        ("feature?", "not a version"),
        ("feature*", "not a version"),
        ("feature[1]", "not a version"),
        ("feature\\x", "not a version"),
        ("main@{1}", "not a version"),
        ("feature.lock", "not a version"),
        ("feature/", "not a version"),
        ("feature.", "not a version"),
        ("@", "not a version"),
        ("git:", "not a valid git ref name"),
        ("git:feature..x", "not a valid git ref name"),
        ("git:-x", "not a valid git ref name"),
        ("git:a b", "whitespace"),
        ("./missing", "no such file or directory"),
        ("~nosuchuser-cc/core", "no such file or directory"),
        ("x" * 300 + "/" + "y" * 300 + ".whl", "no such file or directory"),  # ENAMETOOLONG is no crash
    ],
)
def test_rejections_list_the_accepted_forms(ref: str, why: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        parse(ref, tmp_path)
    err = info.value
    assert err.exit_code == ExitCode.USAGE == 2
    assert err.message.startswith("invalid --core-ref ")
    assert why in err.message
    assert err.tip is not None
    for form in ("1.4.55, v1.4.55, 1.5.0rc1", "latest", "git:REF", ".whl", ".tar.gz", "NAME @ URL"):
        assert form in err.tip


def test_rejection_redacts_credentials() -> None:
    with pytest.raises(UsageError) as info:
        parse("market-data-store @ https://user:s3cret@example.invalid/s.whl")
    assert "s3cret" not in info.value.message
    assert "***@example.invalid" in info.value.message


# --------------------------------------------------------------------------------------------- git names

# (name, valid) following `git check-ref-format --allow-onelevel`
GIT_NAMES = [
    ("main", True),
    ("feature/next", True),
    ("v1.2.0", True),
    ("HEAD", True),
    (SHA, True),
    ("a./b", True),  # only the whole name may not end with "."
    ("a/b.c", True),
    ("feature@x", True),
    ("@x", True),
    ("x@", True),
    ("caf\u00e9", True),  # non-ASCII is allowed
    ("a+b=c,d", True),
    ("", False),
    ("@", False),
    ("a..b", False),
    ("a/../b", False),
    (".hidden", False),
    ("a/.hidden", False),
    ("a.lock", False),
    ("a.lock/b", False),
    ("a/b.lock", False),
    ("/a", False),
    ("a/", False),
    ("a//b", False),
    ("a.", False),
    ("a@{1}", False),
    ("a b", False),
    ("a\tb", False),
    ("a\x01b", False),
    ("a\x7fb", False),
    ("a~1", False),
    ("a^1", False),
    ("a:b", False),
    ("a?", False),
    ("a*", False),
    ("a[1", False),
    ("a\\b", False),
]


@pytest.mark.parametrize(("name", "valid"), GIT_NAMES)
def test_is_git_ref_name(name: str, valid: bool) -> None:
    assert refs.is_git_ref_name(name) is valid


def test_leading_dash_is_never_a_ref_name() -> None:
    # git itself would accept it, but it would read as an option everywhere it is passed on
    assert refs.is_git_ref_name("-x") is False


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_name_table_agrees_with_git() -> None:
    git = shutil.which("git")
    assert git is not None
    disagree = []
    for name, valid in GIT_NAMES:
        if "\x00" in name or not name:
            continue  # not expressible as an argv element / git reads "" specially
        done = subprocess.run([git, "check-ref-format", "--allow-onelevel", name], capture_output=True, check=False)
        if (done.returncode == 0) is not valid:
            disagree.append(name)
    assert disagree == []


# ------------------------------------------------------------------------------------------------ resolve


def test_resolve_a_present_version() -> None:
    resolved = resolve("v1.4.55", found=releases("1.4.54", "1.4.55", "1.4.61"))
    assert resolved.requirement == "market-data-core==1.4.55"
    assert (resolved.source, resolved.version, resolved.ref) == (Source.INDEX, Version("1.4.55"), "v1.4.55")


def test_resolve_a_yanked_version_pins_it() -> None:
    resolved = resolve("1.4.56", found=releases("1.4.55", "1.4.56", yanked=("1.4.56",)))
    assert resolved.requirement == "market-data-core==1.4.56"


def test_resolve_a_missing_version_names_the_nearest() -> None:
    found = releases("1.2.0", "1.4.50", "1.4.53", "1.4.54", "1.4.56", "1.4.57", "1.4.60", "1.4.61")
    with pytest.raises(EnvironmentProblem) as info:
        resolve("1.4.55", found=found)
    err = info.value
    assert err.exit_code == ExitCode.ENVIRONMENT == 3
    assert err.kind == "ref-not-found"
    assert "market-data-core 1.4.55 is not on the index" in err.message
    assert "(nearest: 1.4.53, 1.4.54, 1.4.56, 1.4.57)" in err.message
    assert err.tip is not None and "git:v1.4.55" in err.tip


def test_resolve_a_missing_version_beyond_the_newest() -> None:
    with pytest.raises(EnvironmentProblem, match=r"nearest: 1\.4\.60, 1\.4\.61\)") as info:
        resolve("v9.0.0", found=releases("1.2.0", "1.4.60", "1.4.61"))
    assert info.value.tip is not None and "--core-ref git:v9.0.0" in info.value.tip


def test_resolve_latest_picks_the_newest_final_unyanked_release() -> None:
    found = releases("1.4.59", "1.4.60", "1.4.61", "1.5.0rc1", "1.4.62", yanked=("1.4.62",))
    resolved = resolve("latest", found=found)
    assert resolved.requirement == "market-data-core==1.4.61"
    assert resolved.version == Version("1.4.61")


def test_resolve_latest_on_an_empty_index() -> None:
    with pytest.raises(EnvironmentProblem, match="has no release of market-data-core") as info:
        resolve("latest", found=releases())
    assert info.value.kind == "ref-not-found"


def test_resolve_latest_offline_says_why_it_cannot_know() -> None:
    """Offline, only --find-links are listed: "the index has no release" would send the user to the wrong place."""
    with pytest.raises(EnvironmentProblem) as info:
        refs.resolve(parse("latest", None), core_package=CORE, core_git=GIT, releases=releases(), offline=True)
    assert "offline" in info.value.message and "has no release" not in info.value.message
    assert info.value.tip is not None and "--find-links" in info.value.tip and "--offline" in info.value.tip


@pytest.mark.parametrize("git", [GIT, "git+" + GIT])
def test_resolve_git_adds_the_git_prefix_once(git: str) -> None:
    resolved = resolve("git:v1.2.0", git=git)
    assert resolved.requirement == f"market-data-core @ git+{GIT}@v1.2.0"
    assert resolved.source is Source.GIT
    assert resolved.version is None


def test_resolve_bare_ref_name_is_git() -> None:
    assert resolve(SHA).requirement == f"market-data-core @ git+{GIT}@{SHA}"
    assert resolve("main").requirement == f"market-data-core @ git+{GIT}@main"


def test_resolve_git_display_redacts_credentials() -> None:
    resolved = resolve("main", git="https://oauth2:tok3n@example.invalid/core.git")
    assert "tok3n" in resolved.requirement  # uv needs them
    assert resolved.display == "market-data-core @ git+https://***@example.invalid/core.git@main"


def test_resolve_a_path_is_a_file_uri(tmp_path: Path) -> None:
    wheel = tmp_path / "dist%x" / "market_data_core-1.4.55-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK")
    resolved = resolve(str(wheel), cwd=tmp_path)
    assert resolved.requirement == f"market-data-core @ {wheel.as_uri()}"
    assert resolved.requirement.startswith("market-data-core @ file:///")
    assert "/dist%25x/" in resolved.requirement  # percent-encoded, so uv reads the path back
    assert resolved.source is Source.PATH


def test_resolve_a_direct_reference_is_kept() -> None:
    ref = "market-data-core @ git+https://example.invalid/acme/core.git@v1.4.55"
    resolved = resolve(ref)
    assert (resolved.requirement, resolved.source) == (ref, Source.URL)
