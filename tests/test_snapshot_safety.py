"""``snapshot`` never deletes what it did not write (issue 17, item 1).

It used to ``rmtree`` its output directory whatever it held: ``--output DIR`` emptied a directory of unrelated
files, ``--output .`` replaced the project, a symlinked output wiped what it pointed at, ``golden = "."`` took
a whole Store checkout with its ``.git``, and the directory it made had mode 0700. Now it replaces only a
golden's own files, refuses everything else, and keeps the old golden until the new one is complete.

The fast tests run ``snapshot`` in-process with the sandbox replaced by a recording outcome (nothing is
installed), or drive the planner (``golden_write.plan``/``replace``) on real temporary trees; the ones
marked ``slow`` run the real CLI on the fixture packages.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeContracts
from contract_check.errors import UsageError
from contract_check.models import ExitCode
from contract_check.run import pytest_session
from contract_check.suite import golden, golden_write
from fixturepkgs import CORE_DIST, STORE_DIST
from test_hardening import call

BUILTIN = pytest_session.builtin_contracts() / "golden"
SCHEMAS = json.loads((BUILTIN / "schemas.json").read_text())
PAYLOADS = {p.stem: json.loads(p.read_text()) for p in sorted((BUILTIN / "payloads").glob("*.json"))}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK_DIR = 0o777 & ~_umask()


def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under *root* (symlinks not followed): its type, mode, owner and bytes or link target."""
    found: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                body: Any = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                body = path.read_bytes()
            else:
                body = None
            found[str(path.relative_to(root))] = (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, body)
    return found


def recording(payloads: dict[str, list[Any]] | None = None) -> pytest_session.Outcome:
    """What a recording run of a known-good pair reports: the built-in golden's schemas and payloads."""
    return pytest_session.Outcome(
        completed=True,
        artifacts={"snapshot": SCHEMAS, "payloads": PAYLOADS if payloads is None else payloads},
        versions={CORE_DIST: "1.1.0", STORE_DIST: "0.1.0"},
    )


def snapshot(cwd: Path, *args: str | Path, outcome: pytest_session.Outcome | None = None) -> Any:
    argv: list[str | Path] = [
        "snapshot",
        "--core-ref",
        f"{CORE_DIST} @ https://example.invalid/core-1.1.0.whl",
        "--core-package",
        CORE_DIST,
        "--store",
        f"{STORE_DIST} @ https://example.invalid/store.whl",
        "--offline",
        *args,
    ]
    ran = call(argv, cwd, contracts=FakeContracts.factory(outcome or recording()))
    assert "Traceback" not in ran.output and "internal error" not in ran.output, ran.output
    return ran


def user_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_bytes(b"mine \x00\xff")
    (folder / "notes.txt").chmod(0o640)
    if os.geteuid() == 0:  # an owner that is not the one running the tool: it must be kept too
        os.chown(folder / "notes.txt", 4321, 4321)
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("a,b\n")
    (folder / "link").symlink_to("notes.txt")


# ------------------------------------------------------------------------------- refusals, end to end


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Store checkout: pyproject.toml, .git, sources and a user directory, with the cwd at its root."""
    root = tmp_path / "store"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "src").mkdir()
    (root / "src" / "store.py").write_text("X = 1\n")
    (root / "pyproject.toml").write_text('[project]\nname = "store"\nversion = "0"\n')
    user_files(root / "mine")
    return root


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("mine", "it is not empty and holds no golden"),
        (".", "it is the current directory"),
        ("src/..", "it is the current directory"),
        ("..", "the current directory is inside it"),
        ("link-to-mine", "link-to-mine is a symbolic link to it)"),
        ("link-to-root", "it is the current directory"),
        ("pyproject.toml", "it is a regular file, not a directory"),
    ],
)
def test_snapshot_refuses_an_output_that_is_not_a_golden(project: Path, where: str, says: str) -> None:
    (project / "link-to-mine").symlink_to(project / "mine")
    (project / "link-to-root").symlink_to(project)
    before = tree(project.parent)
    ran = snapshot(project, "--output", where)
    assert ran.code == ExitCode.USAGE, ran.output
    assert "snapshot will not write a golden into" in ran.stderr and says in ran.stderr
    assert "tip:" in ran.stderr
    assert tree(project.parent) == before  # every file, byte for byte, with mode and owner


def test_snapshot_refuses_golden_dot_in_the_config(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.contract-check]\ngolden = "."\n')
    before = tree(project.parent)
    ran = snapshot(project)
    assert ran.code == ExitCode.USAGE, ran.output
    assert "it is the current directory" in ran.stderr
    assert tree(project.parent) == before


def test_snapshot_refuses_a_project_root_from_elsewhere(project: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    before = tree(tmp_path)
    ran = snapshot(tmp_path / "elsewhere", "--output", project)
    assert ran.code == ExitCode.USAGE, ran.output
    assert "it is a project's root directory (it has pyproject.toml, .git)" in ran.stderr
    assert tree(tmp_path) == before


def test_snapshot_refuses_the_home_directory(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    user_files(home)
    elsewhere.mkdir()
    before = tree(tmp_path)
    with mock.patch.dict(os.environ, {"HOME": str(home)}):
        ran = snapshot(elsewhere, "--output", str(home))
    assert ran.code == ExitCode.USAGE, ran.output
    assert "it is your home directory" in ran.stderr
    assert tree(tmp_path) == before


@pytest.mark.parametrize("where", ["/", "~"])
def test_the_planner_refuses_the_root_and_home(tmp_path: Path, where: str) -> None:
    """Only the planner is asked (never ``replace``): a regression here must not be able to touch either."""
    with pytest.raises(UsageError, match=r"root of the file system|your home directory"):
        golden_write.plan(Path(where).expanduser(), cwd=tmp_path)


def test_the_planner_refuses_the_installed_tool(tmp_path: Path) -> None:
    inside = Path(golden_write.__file__).parent / "golden-here"
    with pytest.raises(UsageError, match="inside the installed contract-check"):
        golden_write.plan(inside, cwd=tmp_path)
    assert not inside.exists()


# ------------------------------------------------------------------------------- replacing, end to end


def test_snapshot_replaces_only_the_golden_and_keeps_other_files(project: Path) -> None:
    out = project / "contract-golden"
    first = snapshot(project, "--output", "contract-golden")
    assert first.code == 0, first.output
    assert stat.S_IMODE(out.stat().st_mode) == UMASK_DIR  # not 0700
    assert stat.S_IMODE((out / "payloads").stat().st_mode) == UMASK_DIR
    (out / "README.md").write_text("Recorded with contract-check snapshot; do not edit.\n")
    (out / "payloads" / "notes.txt").write_text("why these payloads\n")
    keep = {k: v for k, v in tree(project).items() if not k.startswith("contract-golden")}
    keep_readme = (out / "README.md").read_bytes(), (out / "payloads" / "notes.txt").read_bytes()

    fewer = {k: v for k, v in PAYLOADS.items() if k != "HealthStatus"}  # a subject without payloads now
    again = snapshot(project, "--output", "contract-golden", outcome=recording(fewer))
    assert again.code == 0, again.output
    assert {k: v for k, v in tree(project).items() if not k.startswith("contract-golden")} == keep
    assert ((out / "README.md").read_bytes(), (out / "payloads" / "notes.txt").read_bytes()) == keep_readme
    assert not (out / "payloads" / "HealthStatus.json").exists()  # the old golden's file, gone with it
    read = golden.read(out)
    assert read is not None and read.declared and read.payload_subjects == sorted(fewer)
    assert sorted(os.listdir(out)) == ["README.md", "metadata.json", "payloads", "schemas.json"]  # no staging left


def test_snapshot_replaces_a_second_release_golden(tmp_path: Path) -> None:
    """A golden without a declaration is recognised by its files (schemas.json, metadata.json, payloads/*.json)."""
    out = tmp_path / "golden"
    (out / "payloads").mkdir(parents=True)
    (out / "schemas.json").write_text(json.dumps(SCHEMAS))
    (out / "metadata.json").write_text(json.dumps({"core": "1.0.0", "tool": "0.1.0", "suite": "market-data"}))
    (out / "payloads" / "Gone.json").write_text("[{}]")
    (out / "README").write_text("ours\n")
    ran = snapshot(tmp_path, "--output", out)
    assert ran.code == 0, ran.output
    assert (out / "README").read_text() == "ours\n" and not (out / "payloads" / "Gone.json").exists()
    read = golden.read(out)
    assert read is not None and read.declared and read.content.payloads == PAYLOADS


# ------------------------------------------------------------------------------- the swap


def test_a_failure_during_the_swap_puts_the_old_golden_back(tmp_path: Path) -> None:
    out = tmp_path / "golden"
    golden_write.write(out, golden.Content(SCHEMAS, PAYLOADS, {"core": "1"}), cwd=tmp_path)
    (out / "README").write_text("ours\n")
    before = tree(tmp_path)
    real = os.replace
    for fail_at in range(1, 10):  # 9 renames: 3 new files, 2 old ones moved aside, 4 old payloads removed
        calls = 0

        def flaky(src: Any, dst: Any, fail_at: int = fail_at) -> None:
            nonlocal calls
            calls += 1
            if calls == fail_at:
                raise KeyboardInterrupt  # Ctrl-C between two renames
            real(src, dst)

        fewer = golden.Content({"models": {}, "enums": {"E": ["a"]}}, {"New": [{"x": 1}]}, {"core": "2"})
        with mock.patch("os.replace", flaky), pytest.raises(KeyboardInterrupt):
            golden_write.write(out, fewer, cwd=tmp_path)
        assert tree(tmp_path) == before, fail_at
    golden_write.write(out, fewer, cwd=tmp_path)
    assert (out / "README").read_text() == "ours\n" and sorted(os.listdir(out / "payloads")) == ["New.json"]


# ------------------------------------------------------------------------------- the planner, on any tree

TOP = ["README.md", "schemas.json", "metadata.json", "payloads", "data", ".hidden", "pyproject.toml", ".git"]
IN_PAYLOADS = ["A.json", "B.json", "C.json", "notes", "D.json"]
KINDS = ["file", "dir", "link-file", "link-dir", "dangling"]
SUBJECTS = st.lists(st.sampled_from(["A", "B", "C"]), unique=True, max_size=3)


def _make(path: Path, outside: Path, kind: str, body: bytes) -> None:
    if os.path.lexists(path) or not path.parent.is_dir():
        return
    if kind == "file":
        path.write_bytes(body)
    elif kind == "dir":
        path.mkdir()
        (path / "inside").write_bytes(body)
    elif kind == "link-file":
        path.symlink_to(outside / "file")
    elif kind == "link-dir":
        path.symlink_to(outside / "dir")
    else:
        path.symlink_to(outside / "nothing-here")


def _content(subjects: list[str], tag: str) -> golden.Content:
    return golden.Content({"models": {s: {"type": "object"} for s in subjects}, "enums": {}},
                          {s: [{"tag": tag}] for s in subjects}, {"core": tag, "tool": "t"})  # fmt: skip


def _prior(target: Path, prior: str, subjects: list[str], cwd: Path) -> set[str]:
    """Write the previous golden; return its own files (what snapshot may replace)."""
    if prior == "declared":
        golden_write.write(target, _content(subjects, "old"), cwd=cwd)
    elif prior == "second-release":  # as the second release wrote it: always a payloads/ directory
        (target / "payloads").mkdir(parents=True)
        (target / "schemas.json").write_text(json.dumps(_content(subjects, "old").snapshot))
        (target / "metadata.json").write_text(json.dumps({"core": "old", "tool": "0.1.0"}))
        for s in subjects:
            (target / "payloads" / f"{s}.json").write_text("[]")
    else:
        return set()
    return {"schemas.json", "metadata.json", *(f"payloads/{s}.json" for s in subjects)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prior=st.sampled_from(["none", "declared", "second-release"]),
    prior_subjects=SUBJECTS,
    new_subjects=SUBJECTS,
    top=st.lists(st.tuples(st.sampled_from(TOP), st.sampled_from(KINDS), st.binary(max_size=8)), max_size=3),
    in_payloads=st.lists(st.tuples(st.sampled_from(IN_PAYLOADS), st.sampled_from(KINDS)), max_size=3),
    exists=st.booleans(),
    via_link=st.booleans(),
)
def test_nothing_outside_the_golden_changes(
    prior: str,
    prior_subjects: list[str],
    new_subjects: list[str],
    top: list[tuple[str, str, bytes]],
    in_payloads: list[tuple[str, str]],
    exists: bool,
    via_link: bool,
) -> None:
    """Whatever the directory holds (files, directories, symlinks in and out of it, a previous golden or not),
    after planning and replacing, every entry that is not the previous golden's own is still there unchanged,
    and so is everything outside it; a refusal changes nothing at all."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outside, cwd, target = root / "outside", root / "cwd", root / "target"
        (outside / "dir").mkdir(parents=True)
        (outside / "file").write_text("outside\n")
        cwd.mkdir()
        if exists or prior != "none" or top or in_payloads:
            target.mkdir()
        own = _prior(target, prior, prior_subjects, cwd)
        if in_payloads:
            (target / "payloads").mkdir(exist_ok=True)
        for name, kind, body in top:
            _make(target / name, outside, kind, body)
        for name, kind in in_payloads:
            _make(target / "payloads" / name, outside, kind, b"user")
        if prior == "second-release":  # every payloads/*.json file of such a golden is its own
            files = (target / "payloads").glob("*.json")
            own |= {f"payloads/{p.name}" for p in files if stat.S_ISREG(os.lstat(p).st_mode)}
        given_path = target
        if via_link:
            given_path = root / "link"
            given_path.symlink_to(target)
        before = tree(root)
        try:
            golden_write.write(given_path, _content(new_subjects, "new"), cwd=cwd)
        except UsageError:
            assert tree(root) == before  # refused: nothing changed
            return
        after = tree(root)
        for name, entry in before.items():
            rel = os.path.relpath(root / name, target)
            if rel in own:
                continue
            assert after.get(name) == entry, name  # not the golden's: still there, unchanged
        assert prior != "none" or not [n for n in before if n.startswith("target/")]  # only into an empty place
        assert not {"pyproject.toml", ".git"} & set(os.listdir(target))
        read = golden.read(target)
        assert read is not None and read.content == _content(new_subjects, "new")
        assert not [n for n in os.listdir(target) if n.startswith(golden_write.STAGING_PREFIX)]


def test_a_user_file_where_the_new_golden_needs_one_is_refused(tmp_path: Path) -> None:
    """A payload file the declaration does not list is not the golden's, even where the new golden needs it."""
    out = tmp_path / "golden"
    golden_write.write(out, _content(["A"], "old"), cwd=tmp_path)
    (out / "payloads" / "B.json").write_text('["mine"]')
    before = tree(tmp_path)
    with pytest.raises(UsageError, match=r"payloads/B.json there is not the golden's own"):
        golden_write.write(out, _content(["A", "B"], "new"), cwd=tmp_path)
    assert tree(tmp_path) == before
    golden_write.write(out, _content(["A"], "new"), cwd=tmp_path)  # not in the way: it stays
    assert (out / "payloads" / "B.json").read_text() == '["mine"]'


# ------------------------------------------------------------------------------- the real CLI


@pytest.mark.slow
def test_snapshot_through_the_cli(run_cli, fixture_world, tmp_path: Path) -> None:
    """Refusals end before anything is installed; a snapshot over an earlier golden keeps a file the user put
    there; the golden it writes is the one check then compares with."""
    project = tmp_path / "store"
    (project / ".git").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "store"\nversion = "0"\n')
    user_files(project / "mine")
    (project / "link").symlink_to(project / "mine")
    common = [
        "--core-package",
        CORE_DIST,
        "--find-links",
        fixture_world.find_links,
        "--store",
        fixture_world.store_wheel,
    ]
    common += ["--core-ref", fixture_world.variant_versions["baseline"]]
    before = tree(project)
    for output in ("mine", ".", "link", str(project)):
        refused = run_cli("snapshot", *common, "--output", output, cwd=project)
        assert refused.code == ExitCode.USAGE, refused.output
        assert "snapshot will not write a golden into" in refused.stderr
    assert tree(project) == before

    out = project / "contract-golden"
    first = run_cli("snapshot", *common, "--output", "contract-golden", cwd=project)
    assert first.code == 0, first.output
    (out / "README.md").write_text("Recorded with contract-check snapshot.\n")
    again = run_cli("snapshot", *common, "--output", "contract-golden", cwd=project)  # over the golden it wrote
    assert again.code == 0, again.output
    assert (out / "README.md").read_text() == "Recorded with contract-check snapshot.\n"
    assert {k: v for k, v in tree(project).items() if not k.startswith("contract-golden")} == before
    assert golden.read(out) is not None and golden.read(out).declared  # type: ignore[union-attr]
    checked = run_cli(*common, "--golden", out, cwd=project)
    assert checked.code == 0, checked.output


@pytest.mark.slow
def test_a_truncated_payload_is_a_usage_error_not_broken(run_cli, fixture_world, tmp_path: Path) -> None:
    """It used to read BROKEN (1): the sandbox failed to load the file and reported a collection error."""
    damaged = tmp_path / "golden"
    golden_write.write(damaged, golden.Content(SCHEMAS, PAYLOADS, {"core": "1.4.61"}), cwd=tmp_path)
    payload = damaged / "payloads" / "FeedbackEvent.json"
    payload.write_bytes(payload.read_bytes()[:40])
    ran = run_cli(
        "--core-ref", fixture_world.variant_versions["baseline"], "--core-package", CORE_DIST,
        "--find-links", fixture_world.find_links, "--store", fixture_world.store_wheel, "--golden", damaged,
    )  # fmt: skip
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"the golden payloads {payload} is not valid JSON" in ran.stderr
