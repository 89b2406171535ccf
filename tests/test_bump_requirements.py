"""Requirements files read the way pip reads them, and edited only in the bytes of the Core requirement:
continuations and comments (checked against pip's own parser where pip is installed), every ``splitlines``
separator, encodings, damaged files (odd byte counts, NUL padding, a stray byte, mixed encodings) and a
planner that stays linear in the size of the file."""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from contract_check.bump import edits, requirement_edit, tomltext
from contract_check.bump import requirements_file as reqfile

CORE = "market-data-core"
NEW = Version("1.4.61")
PYPROJECT = '[project]\nname = "store"\ndependencies = ["market-data-core>=1.4.54,<2.0.0"]\n'


def rewrite(text: str, where: str) -> str:
    return requirement_edit.rewrite(text, NEW, None, where)


def bodies(text: str) -> list[tuple[int, str]]:
    return [(line.number, line.body) for line in reqfile.logical_lines(text) if line.body]


def pip_bodies(text: str) -> list[tuple[int, str]] | None:
    """What pip's own parser makes of *text* (None when pip is not importable here)."""
    try:
        from pip._internal.req.req_file import preprocess
    except ImportError:  # pragma: no cover - a venv made by uv has no pip
        return None
    return list(preprocess(text))


def store(tmp_path: Path, requirements: bytes) -> Path:
    project = tmp_path / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "requirements.txt").write_bytes(requirements)
    return project


# ----------------------------------------------------------------------------------------- pip's reading


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a comment line ending in a backslash ends the join: the Core line after it is read
        ("# pinned by hand \\\nmarket-data-core>=1.4.54\n", [(2, "market-data-core>=1.4.54")]),
        ("  # indented comment \\\nmarket-data-core>=1.4.54\n", [(2, "market-data-core>=1.4.54")]),
        # a requirement with a trailing comment and a backslash joins the next line into the comment
        ("pydantic>=2  # pinned \\\nmarket-data-core>=1.4.54\n", [(1, "pydantic>=2")]),
        # a continued requirement
        ("market-data-core>=1.4.54,\\\n<2\n", [(1, "market-data-core>=1.4.54,<2")]),
        (
            "market-data-core>=1.4.54 \\\r\n  ; python_version>'3'\r\n",
            [(1, "market-data-core>=1.4.54   ; python_version>'3'")],
        ),
        # a continued line, then a comment line ends it
        ("pydantic \\\n# note\nmarket-data-core\n", [(1, "pydantic"), (3, "market-data-core")]),
        # every splitlines() separator ends a line, as in pip
        *(
            (f"pydantic{sep}market-data-core>=1.4.54\n", [(1, "pydantic"), (2, "market-data-core>=1.4.54")])
            for sep in ("\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r")
        ),
        # '#' without whitespace before it is no comment
        ("market-data-core>=1.4.54#x\n", [(1, "market-data-core>=1.4.54#x")]),
        # backslashes at both ends of a continued line go
        ("\\\\market-data-core\\\\\n>=1\n", [(1, "market-data-core>=1")]),
        ("last line continued \\", [(1, "last line continued")]),
    ],
)
def test_logical_lines_as_pip_reads_them(text: str, expected: list[tuple[int, str]]) -> None:
    assert bodies(text) == expected
    seen_by_pip = pip_bodies(text)
    assert seen_by_pip is None or seen_by_pip == expected


_pieces = st.sampled_from(
    [
        "market-data-core>=1.4.54",
        "pydantic>=2.7",
        "# comment",
        "  # indented",
        " # trailing",
        "\\",
        " \\",
        "\\\\",
        "-r other.txt",
        "  ",
        "\t",
        "#",
        "x#y",
        "market-data-core",
        ">=1.4.54",
    ]
)
_breaks = st.sampled_from(["\n", "\r\n", "\r", "\x0c", "\x0b", "\x85", "\u2028", ""])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(_pieces, max_size=3), _breaks), max_size=6))
def test_property_logical_lines_match_pips_parser(lines: list[tuple[list[str], str]]) -> None:
    text = "".join("".join(pieces) + brk for pieces, brk in lines)
    seen_by_pip = pip_bodies(text)
    if seen_by_pip is None:
        pytest.skip("pip is not installed in this environment")
    assert bodies(text) == seen_by_pip, repr(text)


# -------------------------------------------------------------------------------- editing what pip reads


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"# pinned by hand \\\nmarket-data-core>=1.4.54\n", b"# pinned by hand \\\nmarket-data-core>=1.4.61\n"),
        (b"pydantic\x0cmarket-data-core>=1.4.54\n", b"pydantic\x0cmarket-data-core>=1.4.61\n"),
        (b"market-data-core>=1.4.\\\n54,\\\n<2\n", b"market-data-core>=1.4.\\\n61,\\\n<2\n"),
        (b"market-data-core \\\r\n  >=1.4.54\r\n", b"market-data-core \\\r\n  >=1.4.61\r\n"),
        (b"market-data-core\\\n\\\n<2\n", b"market-data-core\\\n\\\n>=1.4.61,<2\n"),
        ("market-data-core>=1.4.54\u2028pydantic\n".encode(), "market-data-core>=1.4.61\u2028pydantic\n".encode()),
    ],
)
def test_the_core_line_pip_reads_is_edited_byte_exactly(tmp_path: Path, old: bytes, new: bytes) -> None:
    project = store(tmp_path, old)
    plan = edits.plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml", "requirements.txt"] and not plan.left_alone
    edits.apply(plan)
    assert (project / "requirements.txt").read_bytes() == new


@pytest.mark.parametrize(
    "text",
    [
        b"pydantic>=2  # pinned \\\nmarket-data-core>=1.4.54\n",  # pip reads no Core line here
        b"# market-data-core>=1.4.54\n",
        b"pydantic # market-data-core>=1.4.54\n",
    ],
)
def test_a_core_line_pip_does_not_read_is_not_edited(tmp_path: Path, text: bytes) -> None:
    project = store(tmp_path, text)
    plan = edits.plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml"] and not plan.left_alone


_encodings = st.sampled_from(
    [
        reqfile.UTF8,
        *reqfile.BOMS,
    ]
)
_core = st.sampled_from(["market-data-core>=1.4.54", "market-data-core >= 1.4.54, <2", "Market_Data.Core>1.4.54"])
_other = st.sampled_from(
    ["pydantic>=2.7", "# market-data-core>=1.0 in a comment", "-r base.txt", "", "  ", "rich # café ☕", "x # y \\"]
)


@settings(max_examples=40, deadline=None)
@given(
    _encodings,
    st.lists(st.tuples(_other, _breaks.filter(bool)), max_size=4),
    _core,
    st.sampled_from(["", " # the pin", "  # note \\"]),
    st.lists(st.tuples(_other, _breaks.filter(bool)), max_size=4),
    _breaks,
)
def test_property_only_the_bytes_of_the_core_requirement_change(
    encoding: reqfile.Encoding,
    before: list[tuple[str, str]],
    core: str,
    comment: str,
    after: list[tuple[str, str]],
    last_break: str,
) -> None:
    head = "".join(line + brk for line, brk in before)
    if head and reqfile.logical_lines(head)[-1].body and head.rstrip("\r\n\x0b\x0c\x85\u2028").endswith("\\"):
        head += "\n"  # a continuation into the Core line is another test's business
    tail = "".join(line + brk for line, brk in after)
    text = head + core + comment + "\n" + tail + last_break
    data = encoding.encode(text)
    edited = reqfile.edit_core(text, "requirements.txt", CORE, rewrite)
    reads_core = any(reqfile.names(b, CORE) for _, b in bodies(text))
    if not reads_core:
        assert edited is None
        return
    assert isinstance(edited, reqfile.Edited), edited
    new_data = encoding.encode(edited.text)
    prefix = next((i for i, (a, b) in enumerate(zip(data, new_data, strict=False)) if a != b), len(data))
    suffix = next((i for i, (a, b) in enumerate(zip(data[::-1], new_data[::-1], strict=False)) if a != b), 0)
    start = len(encoding.encode(head))
    end = start + len(core.encode(encoding.codec))
    assert start <= prefix and len(data) - suffix <= end, (text, edited.text)  # only the requirement's bytes
    expected = [(n, edited.new_requirement if reqfile.names(b, CORE) else b) for n, b in bodies(text)]
    assert bodies(encoding.decode(new_data)) == expected  # pip reads the same file, with the new Core line


# ------------------------------------------------------------------------------------------ damaged files


def field_utf16(*, nuls: int = 7, stray: bytes = b"\x0a", appended: bytes = b"") -> bytes:
    """The field Store's requirements.txt: UTF-16 LE with a BOM and CRLF, then NUL characters and a stray byte."""
    lines = [
        "# market-data-store: runtime pins for the service image",
        "pydantic>=2.7,<3",
        "psycopg[binary]>=3.1",
        "market-data-core>=1.4.54,<2.0.0",
        "structlog>=24.1",
    ]
    body = "".join(line + "\r\n" for line in lines).encode("utf-16-le")
    return codecs.BOM_UTF16_LE + body + b"\x00" * (2 * nuls) + stray + appended


def _left(tmp_path: Path, data: bytes) -> edits.LeftAlone:
    project = store(tmp_path, data)
    plan = edits.plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml"]  # the pin the Store really uses is bumped
    ((left,),) = [plan.left_alone]
    edits.apply(plan)
    assert (project / "requirements.txt").read_bytes() == data  # the damaged file, damage included, untouched
    return left


def test_the_field_utf16_file_with_nul_padding_and_a_stray_byte(tmp_path: Path) -> None:
    data = field_utf16()
    size = len(data)
    assert size % 2 == 1
    left = _left(tmp_path, data)
    nul_start = size - 1 - 14
    assert left.reason == (
        f"requirements.txt (UTF-16 LE with a byte order mark, {size:,} bytes) is damaged: bytes {nul_start}-{size - 2} "
        f"are 7 NUL characters (U+0000), after the last line; byte {size - 1} is half a UTF-16 character (0x0A, a "
        f"line feed): the file has an odd number of bytes ({size}), what `echo >>` or `sed` leave on a UTF-16 file. "
        "pip cannot read it either: it stops with \"UnicodeDecodeError: 'utf-16-le' codec can't decode byte 0x0a in "
        f'position {size - 3}: truncated data"; its market-data-core line (line 4) still reads '
        "'market-data-core>=1.4.54,<2.0.0'"
    )
    assert left.tip == (
        f"remove the damage (truncate -s {nul_start} requirements.txt), then run bump again; or edit the Core line "
        "by hand"
    )


def test_the_field_file_without_the_stray_byte(tmp_path: Path) -> None:
    data = field_utf16(stray=b"")
    left = _left(tmp_path, data)
    assert "UTF-16 without a byte order mark" not in left.reason
    assert f"bytes {len(data) - 14}-{len(data) - 1} are 7 NUL characters (U+0000), after the last line" in left.reason
    assert (
        "pip cannot read it either: it reads line 6 ('\\x00\\x00\\x00\\x00\\x00\\x00\\x00') as a requirement"
        in left.reason
    )
    assert f"truncate -s {len(data) - 14} requirements.txt" in left.tip


def test_truncating_as_the_tip_says_gives_a_file_bump_edits(tmp_path: Path) -> None:
    data = field_utf16()
    left = _left(tmp_path, data)
    keep = int(left.tip.split("truncate -s ")[1].split()[0])
    project = tmp_path / "store"
    (project / "requirements.txt").write_bytes(data[:keep])
    plan = edits.plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["requirements.txt"] and not plan.left_alone  # pyproject: done


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (
            field_utf16(nuls=0, stray=b"", appended=b"market-data-core>=1.4.61\n"),
            "read as UTF-8 text 'market-data-core>=1.4.61\\n' (a line appended in another encoding)",
        ),
        (field_utf16(nuls=0, stray=b"", appended=b"pytest>=8\n"), "read as UTF-8 text 'pytest>=8\\n'"),
        (field_utf16(nuls=3, stray=b"\x0d"), "is half a UTF-16 character (0x0D, a carriage return)"),
        (field_utf16(nuls=0, stray=b"\x00"), "is half a UTF-16 character (0x00, NUL)"),
        (field_utf16(nuls=0, stray=b"\x00\xd8"), "are not UTF-16 (unexpected end of data)"),
        (b"market-data-core>=1.4.54\n" + b"\x00" * 9, "bytes 25-33 are 9 NUL characters (U+0000), after the last line"),
        (b"market-data-core>=1.4.54\x00\x00\n", "bytes 24-25 are 2 NUL characters (U+0000), on line 1"),
        ("market-data-core>=1.4.54\n".encode("utf-16-be"), "looks like UTF-16 BE without a byte order mark"),
        (b"market-data-core>=1.4.54\n# \x93quoted\x94\n", "byte 27 is not UTF-8 (0x93: invalid start byte)"),
    ],
)
def test_damaged_files_are_left_alone_and_described(tmp_path: Path, data: bytes, said: str) -> None:
    left = _left(tmp_path, data)
    assert said in left.reason, left.reason
    assert "pip cannot read it either" in left.reason


def test_nuls_inside_a_comment_are_nothing_to_pip_and_the_file_is_edited(tmp_path: Path) -> None:
    project = store(tmp_path, b"market-data-core>=1.4.54  # \x00\x00\n")
    edits.apply(edits.plan_bump(project, CORE, NEW))
    assert (project / "requirements.txt").read_bytes() == b"market-data-core>=1.4.61  # \x00\x00\n"


def test_a_coding_declaration_is_followed_like_pip(tmp_path: Path) -> None:
    old = "# -*- coding: latin-1 -*-\n# Müller's pins\nmarket-data-core>=1.4.54\n".encode("latin-1")
    project = store(tmp_path, old)
    edits.apply(edits.plan_bump(project, CORE, NEW))
    assert (project / "requirements.txt").read_bytes() == old.replace(b"1.4.54", b"1.4.61")


# ---------------------------------------------------------------------------------------- linear planning


def test_planning_parses_the_pyproject_a_fixed_number_of_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,200 copies of the Core string took 34 s: each candidate was checked by parsing the whole document."""
    copies = 400
    deps = "".join('  "market-data-core>=1.4.54,<2.0.0",\n' for _ in range(copies))
    extra = "".join(f'x{i} = "market-data-core>=1.4.54,<2.0.0"\n' for i in range(copies))
    project = tmp_path / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[project]\nname = "s"\ndependencies = [\n{deps}]\n[tool.x]\n{extra}')
    whole: list[int] = []
    real = tomllib.loads

    def counting(text: str, **kw: object) -> dict[str, object]:
        if len(text) > 1000:
            whole.append(len(text))
        return real(text, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tomllib, "loads", counting)
    plan = edits.plan_bump(project, CORE, NEW)
    assert len(whole) <= 3, len(whole)  # the file, the file with markers, the edited file
    new = tomltext.loads(plan.edits[0].new.decode())
    assert new is not None and new["project"]["dependencies"] == ["market-data-core>=1.4.61,<2.0.0"] * copies
    assert set(new["tool"]["x"].values()) == {"market-data-core>=1.4.54,<2.0.0"}  # the same text elsewhere stays
