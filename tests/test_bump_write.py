"""bump writes every file it plans to edit, or none: real read-only and immutable files, a fault at every system
call of the writer (a full disk, an I/O error), real SIGINT and SIGTERM in the middle, and what is kept
(inode, owner, mode, extended attributes, hard links, symlinks)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from contract_check.bump import edits, inplace
from contract_check.bump.inplace import FileOps, WriteFailed, WriteInterrupted, WriteRefused
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import ExitCode

CORE = "market-data-core"
NEW = Version("1.4.61")
PYPROJECT = '[project]\nname = "store"\ndependencies = [\n  "market-data-core>=1.4.54,<2.0.0",  # pinned\n]\n'
REQUIREMENTS = b"pydantic>=2.7\r\nmarket-data-core>=1.4.54,<2.0.0\r\n"
SHORTER = b"# Core\nmarket-data-core>=1.4.9\n"  # 1.4.9 -> 1.4.61: one byte longer; see test_a_file_that_grows


def make_store(root: Path, requirements: bytes = REQUIREMENTS) -> Path:
    project = root / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "requirements.txt").write_bytes(requirements)
    return project


def state(project: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Every entry of the project: bytes, inode, mode, link count (names of leftovers show up too)."""
    out = {}
    for path in sorted(project.iterdir()):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        out[path.name] = (data, st.st_ino, st.st_mode, st.st_nlink)
    return out


class Faulty(FileOps):
    """Fails the *at*-th system call (counting from 0) with *error*, or calls *action* there instead."""

    def __init__(self, at: int, error: int = errno.ENOSPC, action: object = None) -> None:
        self.at, self.error, self.action, self.calls = at, error, action, 0

    def _tick(self, name: str) -> None:
        self.calls += 1
        if self.calls - 1 == self.at:
            if callable(self.action):
                self.action()
            else:
                raise OSError(self.error, os.strerror(self.error))  # as pwrite or fsync raise it: no file name

    def open(self, path: Path) -> int:
        self._tick("open")
        return super().open(path)

    def fstat(self, fd: int) -> os.stat_result:
        self._tick("fstat")
        return super().fstat(fd)

    def read(self, fd: int, limit: int) -> bytes:
        self._tick("read")
        return super().read(fd, limit)

    def write(self, fd: int, data: bytes) -> None:
        self._tick("write")
        super().write(fd, data)

    def truncate(self, fd: int, size: int) -> None:
        self._tick("truncate")
        super().truncate(fd, size)

    def sync(self, fd: int) -> None:
        self._tick("sync")
        super().sync(fd)

    def backup(self, path: Path, data: bytes) -> Path:
        self._tick("backup")
        return super().backup(path, data)

    def remove(self, path: Path) -> None:
        self._tick("remove")
        super().remove(path)


def calls(project: Path, version: Version = NEW) -> list[str]:
    """The system calls a successful write of this project's bump makes, in order (run on a copy)."""
    names: list[str] = []

    class Recorder(Faulty):
        def _tick(self, called: str) -> None:
            names.append(called)

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "store"
        shutil.copytree(project, copy, symlinks=True)
        edits.apply(edits.plan_bump(copy, CORE, version), Recorder(at=-1))
    return names


def commit_write(project: Path, number: int) -> int:
    """The index of the *number*-th write into a file itself (0: the first), after every backup is made."""
    names = calls(project)
    after = max(i for i, name in enumerate(names) if name == "backup") + 4  # backup: write, sync, read
    return [i for i, name in enumerate(names) if name == "write" and i >= after][number]


# ----------------------------------------------------------------------------------------------- refusals


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@pytest.mark.slow  # chattr is a process
def test_an_immutable_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    if not _chattr("+i", project / "requirements.txt"):
        pytest.skip("chattr +i needs root and a file system that supports it")
    try:
        before = state(project)
        with pytest.raises(WriteRefused) as caught:
            edits.apply(plan)
        assert state(project) == before  # pyproject.toml too: not bumped on its own
    finally:
        _chattr("-i", project / "requirements.txt")
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.message.startswith("nothing was written: ")
    assert (
        "requirements.txt cannot be opened for writing: operation not permitted (an immutable" in caught.value.message
    )


def test_a_read_only_file_is_refused_even_for_root(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    os.chmod(project / "requirements.txt", 0o444)
    plan = edits.plan_bump(project, CORE, NEW)
    before = state(project)
    assert inplace.problems(edits.changes(plan)) == [f"{project / 'requirements.txt'} is read-only (mode 0444)"]
    with pytest.raises(WriteRefused, match=r"nothing was written: .*requirements\.txt is read-only \(mode 0444\)"):
        edits.apply(plan)
    assert state(project) == before


def test_a_file_replaced_by_a_directory_after_planning_is_refused(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    (project / "requirements.txt").unlink()
    (project / "requirements.txt").mkdir()
    before = state(project)
    with pytest.raises(WriteRefused, match=r"requirements\.txt cannot be opened for writing: Is a directory"):
        edits.apply(plan)
    assert state(project) == before


def test_a_file_changed_after_planning_is_refused(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    (project / "requirements.txt").write_bytes(REQUIREMENTS.replace(b"1.4.54", b"1.4.55"))
    before = state(project)
    with pytest.raises(WriteRefused, match=r"requirements\.txt changed since the bump was planned"):
        edits.apply(plan)
    assert state(project) == before


def test_a_directory_where_no_backup_can_be_written_is_refused(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    before = state(project)
    with pytest.raises(WriteRefused, match="cannot write a backup next to"):
        edits.apply(plan, Faulty(at=calls(project).index("backup"), error=errno.EACCES))
    assert state(project) == before


# --------------------------------------------------------------------------------- failures while writing


def test_a_full_disk_while_writing_puts_everything_back_and_is_an_environment_problem(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    before = state(project)
    with pytest.raises(WriteFailed) as caught:
        edits.apply(plan, Faulty(at=commit_write(project, 1), error=errno.ENOSPC))
    assert state(project) == before
    assert isinstance(caught.value, EnvironmentProblem) and caught.value.exit_code == ExitCode.ENVIRONMENT
    assert caught.value.message == (
        f"no space left on device while writing {project / 'requirements.txt'}; put back the old bytes of "
        f"{project / 'pyproject.toml'}, {project / 'requirements.txt'}: nothing changed"
    )
    assert caught.value.tip == "free disk space, then run bump again"


def test_a_full_disk_while_backing_up_writes_nothing(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    before = state(project)
    second_backup_write = [i for i, name in enumerate(calls(project)) if name == "backup"][1] + 1
    with pytest.raises(WriteFailed) as caught:
        edits.apply(plan, Faulty(at=second_backup_write, error=errno.ENOSPC))
    assert caught.value.message == (
        f"no space left on device while writing a backup of {project / 'requirements.txt'}; nothing was written"
    )
    assert state(project) == before


def test_a_file_that_cannot_be_put_back_keeps_its_backup_and_says_where(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)

    class Broken(Faulty):  # every write fails from the second file on, so the first cannot be put back either
        writes = 0

        def write(self, fd: int, data: bytes) -> None:
            self.writes += 1
            if self.writes > 3:  # two backups, then pyproject.toml
                raise OSError(errno.EIO, "Input/output error")
            FileOps.write(self, fd, data)

    with pytest.raises(WriteFailed) as caught:
        edits.apply(plan, Broken(at=-1))
    message = caught.value.message
    assert message.startswith(f"writing {project / 'requirements.txt'} failed: Input/output error; could not put back ")
    backups = sorted(project.glob(".pyproject.toml.*" + inplace.BACKUP_SUFFIX))
    assert len(backups) == 1 and str(backups[0]) in message
    assert backups[0].read_text() == PYPROJECT  # the user's bytes are on disk, where the message says
    assert not list(project.glob(".requirements.txt.*"))  # never touched: its backup is gone


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_real_signal_while_writing_puts_everything_back_and_says_so(tmp_path: Path, signum: int) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    before = state(project)
    previous = signal.getsignal(signum)
    with pytest.raises(WriteInterrupted) as caught:
        edits.apply(plan, Faulty(at=commit_write(project, 1), action=lambda: os.kill(os.getpid(), signum)))
    assert state(project) == before
    assert caught.value.exit_code == ExitCode.INTERRUPTED
    assert caught.value.message == (
        f"interrupted while writing the bumped files; put back the old bytes of {project / 'pyproject.toml'}, "
        f"{project / 'requirements.txt'}: nothing changed"
    )
    assert signal.getsignal(signum) is previous  # the handlers are what they were


def test_a_signal_before_any_write_writes_nothing(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    plan = edits.plan_bump(project, CORE, NEW)
    before = state(project)
    with pytest.raises(WriteInterrupted, match="nothing was written"):
        edits.apply(plan, Faulty(at=0, action=lambda: os.kill(os.getpid(), signal.SIGINT)))
    assert state(project) == before


# ------------------------------------------------------------------------------------------- what is kept


def test_owner_mode_xattrs_and_hard_links_are_kept(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    outside = tmp_path / "linked-requirements.txt"
    os.link(project / "requirements.txt", outside)
    os.chmod(project / "pyproject.toml", 0o640)
    try:
        os.setxattr(project / "pyproject.toml", "user.origin", b"kept")
        xattrs = True
    except OSError:
        xattrs = False
    if os.geteuid() == 0:
        os.chown(project / "requirements.txt", 1234, 4321)
    before = {p: p.stat() for p in (project / "pyproject.toml", project / "requirements.txt")}
    edits.apply(edits.plan_bump(project, CORE, NEW))
    for path, old in before.items():
        new = path.stat()
        assert (new.st_ino, new.st_mode, new.st_uid, new.st_gid, new.st_nlink) == (
            old.st_ino, old.st_mode, old.st_uid, old.st_gid, old.st_nlink,
        )  # fmt: skip
    assert outside.read_bytes() == REQUIREMENTS.replace(b"1.4.54", b"1.4.61")  # the other name shows it too
    if xattrs:
        assert os.getxattr(project / "pyproject.toml", "user.origin") == b"kept"
    assert sorted(p.name for p in project.iterdir()) == ["pyproject.toml", "requirements.txt"]  # no backup left


def test_a_file_that_grows_and_one_that_shrinks(tmp_path: Path) -> None:
    project = make_store(tmp_path, SHORTER)
    (project / "pyproject.toml").write_text(PYPROJECT.replace(">=1.4.54", ">=1.4.100"))
    plan = edits.plan_bump(project, CORE, Version("1.4.101"))  # pyproject: same length; requirements: 2 bytes more
    edits.apply(plan)
    assert (project / "requirements.txt").read_bytes() == SHORTER.replace(b"1.4.9", b"1.4.101")
    plan = edits.plan_bump(project, CORE, Version("1.5"))  # shorter in both
    edits.apply(plan)
    assert (project / "requirements.txt").read_bytes() == SHORTER.replace(b"1.4.9", b"1.5")
    assert (project / "pyproject.toml").read_text() == PYPROJECT.replace(">=1.4.54", ">=1.5")


def test_a_symlink_to_another_planned_file_is_planned_and_written_once(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    (project / "requirements-dev.txt").symlink_to("requirements.txt")
    shared = tmp_path / "shared.txt"
    shared.write_bytes(b"market-data-core>=1.4.54\n")
    (project / "requirements-ci.txt").symlink_to(shared)
    plan = edits.plan_bump(project, CORE, NEW)
    assert [e.path.name for e in plan.edits] == ["pyproject.toml", "requirements.txt", "requirements-ci.txt"]
    assert plan.aliases == ((project / "requirements-dev.txt", project / "requirements.txt"),)
    assert plan.edits[2].target == shared and plan.edits[2].note == f"a symbolic link to {shared}: that file was edited"
    edits.apply(plan)
    assert shared.read_bytes() == b"market-data-core>=1.4.61\n"
    assert (project / "requirements-ci.txt").is_symlink() and (project / "requirements-dev.txt").is_symlink()
    assert (project / "requirements.txt").read_bytes() == REQUIREMENTS.replace(b"1.4.54", b"1.4.61")


def test_two_changes_to_one_file_are_refused(tmp_path: Path) -> None:
    project = make_store(tmp_path)
    (project / "again.txt").symlink_to("requirements.txt")
    change = inplace.Change(project / "requirements.txt", REQUIREMENTS, REQUIREMENTS.replace(b"54", b"61"))
    twice = [change, inplace.Change(project / "again.txt", change.old, change.new)]
    with pytest.raises(WriteRefused, match=r"again\.txt .* is the same file as .*requirements\.txt"):
        inplace.write(twice)


# ------------------------------------------------------------------------------------------------ property


@settings(max_examples=15, deadline=None)
@given(st.data(), st.sampled_from([errno.ENOSPC, errno.EIO, errno.EPERM]), st.booleans())
def test_property_a_fault_at_any_call_leaves_all_old_or_all_new(data: st.DataObject, error: int, shrink: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project = make_store(root, SHORTER if shrink else REQUIREMENTS)
        os.link(project / "requirements.txt", root / "other-name.txt")
        if shrink:
            (project / "pyproject.toml").write_text(PYPROJECT.replace(">=1.4.54", ">=1.4.100"))
        target = Version("1.5") if shrink else NEW
        plan = edits.plan_bump(project, CORE, target)
        old = {e.path: e.old for e in plan.edits}
        new = {e.path: e.new for e in plan.edits}
        inodes = {p: (p.stat().st_ino, p.stat().st_mode, p.stat().st_nlink) for p in old}
        at = data.draw(st.integers(0, len(calls(project, target)) - 1), label="failing call")
        try:
            edits.apply(plan, Faulty(at=at, error=error))
            failed = False
        except (UsageError, EnvironmentProblem):
            failed = True
        now = {p: p.read_bytes() for p in old}
        assert now in (old, new), at
        assert (now == old) is failed or now == new  # a failure while removing a backup: written, and said nothing
        assert {p: (p.stat().st_ino, p.stat().st_mode, p.stat().st_nlink) for p in old} == inodes
        assert (root / "other-name.txt").read_bytes() == now[project / "requirements.txt"]
        leftovers = list(project.glob("*" + inplace.BACKUP_SUFFIX))
        assert len(leftovers) <= 1 and (not leftovers or not failed), at  # only a backup whose removal failed
