"""bump without the check: byte-exact edits of the Store's Core pin, refusals that write nothing, lock files."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from contract_check.bump import edits, requirement_edit
from contract_check.bump.edits import apply, lock_files, plan_bump, render_diff
from contract_check.errors import UsageError

CORE = "market-data-core"
NEW = Version("1.4.61")

# A Store pyproject shaped like the real one; {deps} is the body of the dependencies array.
PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "market-data-store"
version = "0.6.73"
# Core is pinned by hand after each contract check
dependencies = [
{deps}]

[project.optional-dependencies]
dev = ["pytest>=8", "market-data-core>=1.4.54,<2.0.0"]
"""


def store(tmp_path: Path, deps: str, *, newline: str = "\n") -> Path:
    project = tmp_path / "store"
    project.mkdir(exist_ok=True)
    text = PYPROJECT.format(deps=deps).replace("\n", newline)
    (project / "pyproject.toml").write_bytes(text.encode("utf-8"))
    return project


def expected(deps: str, *, newline: str = "\n") -> bytes:
    return PYPROJECT.format(deps=deps).replace("\n", newline).encode("utf-8")


def snapshot(project: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
        for p in sorted(project.iterdir())
        if p.is_file()
    }


def bumped(project: Path, version: Version = NEW, git_ref: str | None = None) -> bytes:
    plan = plan_bump(project, CORE, version, git_ref)
    apply(plan)
    return (project / "pyproject.toml").read_bytes()


# ----------------------------------------------------------------------------------------------------------
# pyproject.toml: the operators
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "version", "new_line"),
    [
        ('"market-data-core>=1.4.54,<2.0.0"', NEW, '"market-data-core>=1.4.61,<2.0.0"'),
        ('"market-data-core>1.4.54,<2.0.0"', NEW, '"market-data-core>=1.4.61,<2.0.0"'),
        ('"market-data-core ~= 1.4.54"', NEW, '"market-data-core ~= 1.4.61"'),
        ('"market-data-core~=1.4"', Version("1.5.0"), '"market-data-core~=1.5"'),  # same series: 1.*
        ('"market-data-core~=1.4"', Version("1.4.5"), '"market-data-core>=1.4.5,==1.*"'),
        ('"market-data-core==1.4.54"', NEW, '"market-data-core==1.4.61"'),
        ('"market-data-core==1.4.*"', NEW, '"market-data-core>=1.4.61,==1.4.*"'),
        ('"market-data-core<2"', NEW, '"market-data-core>=1.4.61,<2"'),
        ('"market-data-core (<2, !=1.4.58)"', NEW, '"market-data-core (>=1.4.61,<2, !=1.4.58)"'),
        ('"market-data-core"', NEW, '"market-data-core>=1.4.61"'),
        ('"market_data_core>=1.4.54"', NEW, '"market_data_core>=1.4.61"'),  # name as written
        ('"market-data-core>=1.4.54,<2.0.0"', Version("1.5.0rc1"), '"market-data-core>=1.5.0rc1,<2.0.0"'),
        ('"market-data-core>=1.4.54"', Version("1.4.62.dev3+g1a2b"), '"market-data-core>=1.4.62.dev3"'),
    ],
)
def test_operators(tmp_path: Path, line: str, version: Version, new_line: str) -> None:
    project = store(tmp_path, f'    "pydantic>=2.7",\n    {line},\n')
    assert bumped(project, version) == expected(f'    "pydantic>=2.7",\n    {new_line},\n')


def test_extras_and_markers_are_kept(tmp_path: Path) -> None:
    deps = """    "market-data-core[fast,telemetry] >=1.4.54, <2.0.0 ; python_version >= '3.11'",\n"""
    project = store(tmp_path, deps)
    assert bumped(project) == expected(
        """    "market-data-core[fast,telemetry] >=1.4.61, <2.0.0 ; python_version >= '3.11'",\n"""
    )


def test_marker_with_escaped_quotes_in_a_basic_string(tmp_path: Path) -> None:
    deps = '    "market-data-core>=1.4.54; python_version >= \\"3.11\\"",\n'
    project = store(tmp_path, deps)
    assert bumped(project) == expected('    "market-data-core>=1.4.61; python_version >= \\"3.11\\"",\n')


def test_comments_odd_spacing_and_other_string_forms(tmp_path: Path) -> None:
    deps = (
        "  # the Core line, reviewed with every release\n"
        "  'pydantic>=2.7' ,   # literal string\n"
        "\t\t'market-data-core  >=  1.4.54 ,<2.0.0'   ,# a comment with \"quotes\" and market-data-core>=1.4.54\n"
        '  """psycopg[binary]>=3.1"""\n'
    )
    project = store(tmp_path, deps)
    assert bumped(project) == expected(
        "  # the Core line, reviewed with every release\n"
        "  'pydantic>=2.7' ,   # literal string\n"
        "\t\t'market-data-core  >=  1.4.61 ,<2.0.0'   ,# a comment with \"quotes\" and market-data-core>=1.4.54\n"
        '  """psycopg[binary]>=3.1"""\n'
    )


@pytest.mark.parametrize(
    ("token", "new_token"),
    [
        ("'''market-data-core>=1.4.54'''", "'''market-data-core>=1.4.61'''"),
        ('"""\nmarket-data-core>=1.4.54"""', '"""\nmarket-data-core>=1.4.61"""'),
        ('"market-data-core>=1.4.5\\u0034"', '"market-data-core>=1.4.61"'),  # escapes in the changed part go
        ('"market\\u002Ddata-core>=1.4.54"', '"market\\u002Ddata-core>=1.4.61"'),  # elsewhere they stay
    ],
)
def test_multi_line_literal_and_escaped_strings(tmp_path: Path, token: str, new_token: str) -> None:
    project = store(tmp_path, f"  {token}\n")
    assert bumped(project) == expected(f"  {new_token}\n")


def test_only_project_dependencies_change_when_the_same_text_appears_elsewhere(tmp_path: Path) -> None:
    # PYPROJECT lists the same requirement text under optional-dependencies (and here in tool.uv, before it)
    project = tmp_path / "store"
    project.mkdir()
    text = '[tool.uv]\nconstraint-dependencies = ["market-data-core>=1.4.54,<2.0.0"]\n\n' + PYPROJECT.format(
        deps='  "market-data-core>=1.4.54,<2.0.0",\n'
    )
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    assert bumped(project).decode() == (
        '[tool.uv]\nconstraint-dependencies = ["market-data-core>=1.4.54,<2.0.0"]\n\n'
        + PYPROJECT.format(deps='  "market-data-core>=1.4.61,<2.0.0",\n')
    )


def test_same_text_listed_twice_is_edited_twice(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n  "x",\n  "market-data-core>=1.4.54",\n')
    assert bumped(project) == expected('  "market-data-core>=1.4.61",\n  "x",\n  "market-data-core>=1.4.61",\n')


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    deps = '    "pydantic>=2.7",\n    "market-data-core>=1.4.54,<2.0.0",\n'
    project = store(tmp_path, deps, newline="\r\n")
    new_deps = '    "pydantic>=2.7",\n    "market-data-core>=1.4.61,<2.0.0",\n'
    assert bumped(project) == expected(new_deps, newline="\r\n")


def test_inline_project_table(tmp_path: Path) -> None:
    project = tmp_path / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text('project = {name = "s", dependencies = ["market-data-core>=1.4.54"]}\n')
    assert bumped(project) == b'project = {name = "s", dependencies = ["market-data-core>=1.4.61"]}\n'


# ----------------------------------------------------------------------------------------------------------
# git direct references
# ----------------------------------------------------------------------------------------------------------

GIT = "git+https://github.com/example/market-data-core.git"


@pytest.mark.parametrize(
    ("line", "new_line"),
    [
        (f'"market-data-core @ {GIT}@v1.4.55"', f'"market-data-core @ {GIT}@v1.4.61"'),
        (f'"market-data-core@{GIT}@v1.4.55#subdirectory=core"', f'"market-data-core@{GIT}@v1.4.61#subdirectory=core"'),
        (
            f"\"market-data-core @ {GIT} ; python_version >= '3.11'\"",
            f"\"market-data-core @ {GIT}@v1.4.61 ; python_version >= '3.11'\"",
        ),
        (
            '"market-data-core @ git+ssh://git@github.com/example/core.git@main"',
            '"market-data-core @ git+ssh://git@github.com/example/core.git@v1.4.61"',
        ),
    ],
)
def test_git_direct_reference_gets_the_new_ref(tmp_path: Path, line: str, new_line: str) -> None:
    project = store(tmp_path, f"  {line},\n")
    assert bumped(project, NEW, "v1.4.61") == expected(f"  {new_line},\n")


def test_git_ref_is_not_used_for_a_version_line(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    assert bumped(project, NEW, "v1.4.61") == expected('  "market-data-core>=1.4.61",\n')


# ----------------------------------------------------------------------------------------------------------
# requirements files
# ----------------------------------------------------------------------------------------------------------

REQUIREMENTS = (
    "# runtime pins for the service image\npydantic>=2.7\nmarket-data-core>=1.4.54,<2.0.0  # Core\n-r extra.txt\n"
)
REQUIREMENTS_NEW = (
    "# runtime pins for the service image\npydantic>=2.7\nmarket-data-core>=1.4.61,<2.0.0  # Core\n-r extra.txt\n"
)


def test_utf16_requirements_with_bom_keeps_its_encoding(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54,<2.0.0",\n')
    old = codecs.BOM_UTF16_LE + REQUIREMENTS.replace("\n", "\r\n").encode("utf-16-le")
    (project / "requirements.txt").write_bytes(old)
    plan = plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml", "requirements.txt"]
    assert plan.edits[1].encoding.label == "UTF-16 LE with a byte order mark"
    apply(plan)
    new = (project / "requirements.txt").read_bytes()
    assert new[:2] == b"\xff\xfe"
    assert new == b"\xff\xfe" + REQUIREMENTS_NEW.replace("\n", "\r\n").encode("utf-16-le")
    assert new[:10] == b"\xff\xfe#\x00 \x00r\x00u\x00"  # BOM, then "# ru" in two bytes each, low byte first
    assert b"1\x00.\x004\x00.\x006\x001\x00,\x00<\x00" in new  # "1.4.61,<"
    assert new.endswith(b"t\x00x\x00t\x00\r\x00\n\x00")  # "txt\r\n": the CRLF endings stay
    assert len(new) == len(old)  # the same number of characters changed, nothing else


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF8, "utf-8"), (b"", "utf-8")],
)
def test_requirements_other_encodings(tmp_path: Path, bom: bytes, codec: str) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    (project / "requirements.txt").write_bytes(bom + REQUIREMENTS.encode(codec))
    apply(plan_bump(project, CORE, NEW))
    assert (project / "requirements.txt").read_bytes() == bom + REQUIREMENTS_NEW.encode(codec)


def test_requirements_files_edited_and_left_alone(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    (project / "requirements-dev.txt").write_text("pytest\n# market-data-core is in requirements.txt\n")
    (project / "requirements.in").write_text("market-data-core==1.4.54\r\nrich\r\n")
    (project / "requirements-ci.txt").write_text("  MARKET_DATA.CORE >= 1.4.54 ; sys_platform == 'linux'\n")
    (project / "constraints.txt").write_text("market-data-core==1.4.54\n")  # not requirements*: not touched
    plan = plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml", "requirements-ci.txt", "requirements.in"]
    apply(plan)
    assert (project / "requirements.in").read_bytes() == b"market-data-core==1.4.61\r\nrich\r\n"
    assert (project / "requirements-ci.txt").read_bytes() == b"  MARKET_DATA.CORE >= 1.4.61 ; sys_platform == 'linux'\n"
    assert (project / "requirements-dev.txt").read_bytes() == b"pytest\n# market-data-core is in requirements.txt\n"
    assert (project / "constraints.txt").read_bytes() == b"market-data-core==1.4.54\n"


def test_generated_requirements_are_not_edited_but_named_as_lock_files(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    compiled = (
        "#\n# This file is autogenerated by pip-compile with Python 3.11\n#\nmarket-data-core==1.4.54\n    # via x\n"
    )
    (project / "requirements.txt").write_text(compiled)
    plan = plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml"]
    assert plan.lock_files == (project / "requirements.txt",)


# ----------------------------------------------------------------------------------------------------------
# the diff, apply, no change
# ----------------------------------------------------------------------------------------------------------


def test_render_diff(tmp_path: Path) -> None:
    project = store(tmp_path, '    "pydantic>=2.7",\n    "market-data-core>=1.4.54,<2.0.0",\n')
    (project / "requirements.txt").write_bytes(codecs.BOM_UTF16_LE + "market-data-core>=1.4.54\r\n".encode("utf-16-le"))
    assert render_diff(plan_bump(project, CORE, NEW)) == (
        "--- a/pyproject.toml\n"
        "+++ b/pyproject.toml\n"
        "@@ -8,7 +8,7 @@\n"
        " # Core is pinned by hand after each contract check\n"
        " dependencies = [\n"
        '     "pydantic>=2.7",\n'
        '-    "market-data-core>=1.4.54,<2.0.0",\n'
        '+    "market-data-core>=1.4.61,<2.0.0",\n'
        " ]\n"
        " \n"
        " [project.optional-dependencies]\n"
        "--- a/requirements.txt\n"
        "+++ b/requirements.txt\n"
        "@@ -1 +1 @@\n"
        "-market-data-core>=1.4.54\n"
        "+market-data-core>=1.4.61\n"
    )


def test_already_at_the_version_is_no_change(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.61,<2.0.0",\n')
    before = snapshot(project)
    plan = plan_bump(project, CORE, NEW)
    assert not plan.changed
    assert render_diff(plan) == ""
    apply(plan)
    assert snapshot(project) == before


def test_apply_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    os.chmod(project / "pyproject.toml", 0o640)
    apply(plan_bump(project, CORE, NEW))
    assert stat.S_IMODE((project / "pyproject.toml").stat().st_mode) == 0o640
    assert sorted(p.name for p in project.iterdir()) == ["pyproject.toml"]


def test_apply_writes_through_a_symlink(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    shared = tmp_path / "shared-requirements.txt"
    shared.write_text("market-data-core>=1.4.54\n")
    (project / "requirements.txt").symlink_to(shared)
    apply(plan_bump(project, CORE, NEW))
    assert (project / "requirements.txt").is_symlink()
    assert shared.read_text() == "market-data-core>=1.4.61\n"


def test_apply_refuses_a_file_changed_since_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    (project / "requirements.txt").write_text("market-data-core>=1.4.54\n")
    plan = plan_bump(project, CORE, NEW)
    (project / "requirements.txt").write_text("market-data-core>=1.4.55\n")  # someone else edited it
    before = snapshot(project)
    with pytest.raises(UsageError, match="changed since the bump was planned"):
        apply(plan)
    assert snapshot(project) == before  # pyproject.toml was staged first, and is untouched
    assert sorted(p.name for p in project.iterdir()) == ["pyproject.toml", "requirements.txt"]


def test_apply_failure_while_staging_leaves_everything_as_it_was(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    (project / "requirements.txt").write_text("market-data-core>=1.4.54\n")
    plan = plan_bump(project, CORE, NEW)
    (project / "requirements.txt").unlink()
    before = snapshot(project)
    with pytest.raises(UsageError, match=r"nothing was written: .*requirements\.txt cannot be opened for writing"):
        apply(plan)
    assert snapshot(project) == before
    assert sorted(p.name for p in project.iterdir()) == ["pyproject.toml"]


# ----------------------------------------------------------------------------------------------------------
# refusals: a usage error, nothing written
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pyproject", "requirements", "git_ref", "message"),
    [
        (None, None, None, "pyproject.toml does not exist"),
        ("[tool.x]\na = 1\n", None, None, "has no [project] table"),
        ('[project]\nname = "s"\ndynamic = ["dependencies"]\n', None, None, "dependencies is dynamic"),
        ('[project]\nname = "s"\n', None, None, "has no [project].dependencies list"),
        ('[project]\ndependencies = ["pydantic"]\n', None, None, "does not name market-data-core"),
        (
            '[project]\ndependencies = ["market-data-core>=1.4.54,<1.4.60"]\n',
            None,
            None,
            "1.4.61 is not admitted by '<1.4.60'",
        ),
        ('[project]\ndependencies = ["market-data-core~=1.4.54"]\n', None, None, None),
        # admitted: control case
        ('[project]\ndependencies = ["market-data-core>=1,!=1.4.61"]\n', None, None, "not admitted by '!=1.4.61'"),
        (
            '[project]\ndependencies = ["market-data-core>=1.4", "market-data-core>=1.4.54; python_version<\'3\'"]\n',
            None,
            None,
            "names market-data-core differently",
        ),
        ('[project]\ndependencies = ["market-data-core===1.4.54"]\n', None, None, "arbitrary equality"),
        ('[project]\ndependencies = ["market-data-core>=1.0,>1.2"]\n', None, None, "more than one lower bound"),
        (f'[project]\ndependencies = ["market-data-core @ {GIT}@v1.4.55"]\n', None, None, "needs the git ref"),
        (f'[project]\ndependencies = ["market-data-core @ {GIT}"]\n', None, "v1 x", "cannot be written into a URL"),
        (
            '[project]\ndependencies = ["market-data-core @ https://h/c-1.0-py3-none-any.whl"]\n',
            None,
            "v1",
            "file or archive",
        ),
        ('[project]\ndependencies = ["""market-data-core>=1.4.54,\\\n  <2"""]\n', None, None, "cannot locate"),
        ("[project\n", None, None, "is not valid TOML"),
    ],
)
def test_refusals_write_nothing(
    tmp_path: Path, pyproject: str | None, requirements: str | None, git_ref: str | None, message: str | None
) -> None:
    project = tmp_path / "store"
    project.mkdir()
    if pyproject is not None:
        (project / "pyproject.toml").write_text(pyproject)
    if requirements is not None:
        (project / "requirements.txt").write_text(requirements)
    before = snapshot(project)
    if message is None:
        assert plan_bump(project, CORE, NEW, git_ref).changed
        return
    with pytest.raises(UsageError) as caught:
        apply(plan_bump(project, CORE, NEW, git_ref))
    assert message in caught.value.message
    assert caught.value.tip
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("requirements", "reason"),
    [
        (b"market-data-core==1.4.54 \\\n    --hash=sha256:ab\n", "line 1: the market-data-core line pins hashes"),
        (b"market-data-core==1.4.54 --hash=sha256:ab\n", "pins hashes"),
        (b"market-data-core>=1 --config-settings x=y\n", "carries pip options"),
        (b"market-data-core>=1 -C x=y\n", "carries pip options"),
        (
            b"-e git+https://h/c.git#egg=market_data_core\n",
            "line 1 installs market-data-core from a URL or an editable",
        ),
        (b"git+https://h/c.git#egg=Market.Data_Core\n", "from a URL or an editable"),
        (b"market-data-core>=1\nmarket-data-core<3\n", "names market-data-core differently"),
        (b"market-data-core>=1.4.54,<1.4.60\n", "requirements.txt line 1: 1.4.61 is not admitted by '<1.4.60'"),
        (b"market-data-core>=1.4.62\n", "1.4.61 is below the current lower bound (>=1.4.62)"),
        (b"market-data-core>=1.4.54 [\n", "line 1: 'market-data-core>=1.4.54 [' is not a valid requirement"),
        (b"market-data-core>=${CORE_MIN}\n", "uses an environment variable"),
        (
            b"market-data-core>=1.4.5\\\n4\n",
            "line 1: the part of the market-data-core requirement that changes is split",
        ),
        ("market-data-core>=1.4.54 # café\n".encode("latin-1"), "byte 30 is not UTF-8 (0xE9"),
        ("market-data-core>=1.4.54\n".encode("utf-16-le"), "looks like UTF-16 LE without a byte order mark"),
        (codecs.BOM_UTF32_LE + "market-data-core\n".encode("utf-32-le"), "it is UTF-32 LE"),
        (codecs.BOM_UTF16_LE + "market-data-core\n".encode("utf-16-le") + b"\x00", "byte 36 is half a UTF-16"),
    ],
)
def test_a_requirements_file_that_cannot_be_edited_is_left_alone_and_named(
    tmp_path: Path, requirements: bytes, reason: str
) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    (project / "requirements.txt").write_bytes(requirements)
    plan = plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml"]  # the pin the Store uses is still bumped
    ((left,),) = [plan.left_alone]
    assert left.path == project / "requirements.txt" and reason in left.reason, left.reason
    assert left.tip
    apply(plan)
    assert (project / "requirements.txt").read_bytes() == requirements


def test_files_that_do_not_name_core_are_not_mentioned_even_when_damaged(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    (project / "requirements-dev.txt").write_bytes(b"pytest\n\x00\x00\x00")
    (project / "requirements-docs.txt").write_bytes("mkdocs # é\n".encode("latin-1"))
    plan = plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml"] and plan.left_alone == ()


def test_a_fifo_requirements_file_is_left_alone(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    os.mkfifo(project / "requirements-fifo.txt")
    plan = plan_bump(project, CORE, NEW)
    ((left,),) = [plan.left_alone]
    assert "is a FIFO (named pipe), not a regular file" in left.reason
    with pytest.raises(UsageError, match="not a regular file"):
        edits._read(project / "requirements-fifo.txt", "requirements file")


def test_refusals_for_paths(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a local project directory"):
        plan_bump(tmp_path / "missing", CORE, NEW)


# ----------------------------------------------------------------------------------------------------------
# lock files
# ----------------------------------------------------------------------------------------------------------


def test_lock_files(tmp_path: Path) -> None:
    project = store(tmp_path, '  "market-data-core>=1.4.54",\n')
    for name in ("uv.lock", "poetry.lock", "pdm.lock", "pylock.ci.toml"):
        (project / name).write_text("# lock\n")
    (project / "requirements").mkdir()
    (project / "requirements" / "prod.txt").write_text(
        "# This file was autogenerated by uv via the following command:\n#    uv pip compile prod.in\n"
        "market-data-core==1.4.54\n"
    )
    (project / "requirements" / "docs.txt").write_text(
        "# This file was autogenerated by uv via the following command:\n#    uv pip compile docs.in\nmkdocs==1.6\n"
    )
    (project / "requirements.txt").write_bytes(
        codecs.BOM_UTF16_LE
        + "#\n# This file is autogenerated by pip-compile with Python 3.11\nmarket-data-core==1.4.54\n".encode(
            "utf-16-le"
        )
    )
    (project / "requirements-dev.txt").write_text("market-data-core>=1.4.54\n")  # hand-written
    (project / "notes.txt").write_text("nothing generated here\n")
    names = [p.relative_to(project).as_posix() for p in lock_files(project, CORE)]
    assert names == [
        "uv.lock",
        "poetry.lock",
        "pdm.lock",
        "pylock.ci.toml",
        "requirements.txt",
        "requirements/prod.txt",
    ]
    every = [p.relative_to(project).as_posix() for p in lock_files(project)]
    assert "requirements/docs.txt" in every
    assert lock_files(tmp_path / "missing") == []


# ----------------------------------------------------------------------------------------------------------
# property: the rewritten requirement has NEW as its floor and the same ceiling
# ----------------------------------------------------------------------------------------------------------

_small = st.builds(
    lambda release, pre: ".".join(map(str, release)) + pre,
    st.lists(st.integers(0, 3), min_size=1, max_size=3),
    st.sampled_from(["", "", "", "rc1", ".post1", ".dev0"]),
)
_lower = st.none() | st.tuples(st.sampled_from([">=", ">", "==", "~="]), _small)
_other = st.lists(st.tuples(st.sampled_from(["<", "<=", "!=", "==*"]), _small), max_size=2)


def _clause(op: str, version: str) -> str:
    if op == "==*":
        return "==" + ".".join(str(p) for p in Version(version).release) + ".*"
    if op == "~=" and len(Version(version).release) < 2:
        version = Version(version).base_version + ".0"
    return op + version


@settings(max_examples=300, deadline=None)
@given(_lower, _other, st.sampled_from(["", " ", "  "]), st.booleans(), st.booleans(), _small, st.lists(_small))
def test_property_rewrite_moves_the_floor_and_keeps_the_ceiling(
    lower: tuple[str, str] | None,
    others: list[tuple[str, str]],
    space: str,
    extras: bool,
    marker: bool,
    target: str,
    probes: list[str],
) -> None:
    clauses = ([_clause(*lower)] if lower else []) + [_clause(*o) for o in others]
    text = CORE + ("[fast]" if extras else "") + space + ("," + space).join(clauses)
    text += " ; python_version >= '3.11'" if marker else ""
    new = Version(target)
    floor = Version(_clause(*lower).lstrip("<>=~!")) if lower else None
    if floor is not None and lower is not None and (new < floor or (lower[0] == ">" and new == floor)):
        with pytest.raises(UsageError, match="is below the current lower bound"):
            requirement_edit.rewrite(text, new, None, "where")
        return
    kept = SpecifierSet(",".join(_clause(*o) for o in others))
    if lower and lower[0] == "~=":
        kept &= SpecifierSet("==" + ".".join(str(p) for p in Version(clauses[0][2:]).release[:-1]) + ".*")
    if not kept.contains(new, prereleases=True):
        with pytest.raises(UsageError, match="is not admitted by"):
            requirement_edit.rewrite(text, new, None, "where")
        return
    result = requirement_edit.rewrite(text, new, None, "where")
    old_req, new_req = Requirement(text), Requirement(result)
    assert (new_req.name, new_req.extras, str(new_req.marker)) == (old_req.name, old_req.extras, str(old_req.marker))
    assert new_req.specifier.contains(new, prereleases=True)
    for probe in map(Version, probes):
        admitted = new_req.specifier.contains(probe, prereleases=True)
        if probe < new:
            assert not admitted, (result, probe)  # NEW is the floor
        elif lower and lower[0] == "==":
            assert admitted is (probe == new), (result, probe)  # an exact pin stays exact
        else:
            assert admitted is kept.contains(probe, prereleases=True), (result, probe)  # the same ceiling
