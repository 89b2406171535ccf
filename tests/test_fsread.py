"""Only regular files are read, and every read is bounded (issue 9, item 10).

A FIFO opened for reading blocks until a writer comes; ``/dev/zero`` never ends. Each reader of a file the
user points at (pyproject.toml, contract files, the Store tree, shard reports, index pages, cache entries)
is given both, and must answer at once: a usage error naming the file and what it is, or, for a cache
entry, a miss. ``promptly`` runs each call under an alarm and a memory ceiling, so that a regression fails
the test instead of hanging the suite or exhausting the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import cli_env
from contract_check import config
from contract_check.cache import results
from contract_check.errors import UsageError
from contract_check.models import Check, ExitCode, Layer, Run, Status
from contract_check.report import merge
from contract_check.run import pytest_session
from contract_check.sandbox import baseenv
from contract_check.sources import index, refs
from contract_check.util import fingerprint, fsread
from contract_check.verdict import schema_rows
from fixturepkgs import CORE_DIST
from test_hardening import call

WAIT = 20.0  # seconds a call may take before it counts as hung (each takes milliseconds)


@contextlib.contextmanager
def memory_ceiling(extra: int = 512 * 1024 * 1024) -> Iterator[None]:
    """Cap this process's address space at its current size plus *extra* while the block runs: an unbounded
    read of /dev/zero then ends in MemoryError instead of eating the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    ceiling = pages * os.sysconf("SC_PAGE_SIZE") + extra
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Hung(BaseException):
    """Raised in the main thread by the alarm: not an Exception, so no handler on the way swallows it."""


def promptly(fn: Callable[[], Any]) -> Any:
    """``fn()``, failing the test if it has not returned within WAIT seconds or needs more than 512 MiB.

    A read blocked on a FIFO is interrupted by SIGALRM (its handler raises ``Hung``); an unbounded read of
    /dev/zero ends in MemoryError under the ceiling.
    """

    def alarm(signum: int, frame: object) -> None:
        raise Hung

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, WAIT)
    try:
        with memory_ceiling():
            return fn()
    except Hung:
        pytest.fail(f"still running after {WAIT:g}s: a read blocked on a FIFO or a device")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def odd_file(kind: str, path: Path) -> Path:
    """Make *path* a FIFO, a symlink to /dev/zero, or a directory."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    return path


SAYS = {
    "fifo": "is a FIFO (named pipe)",
    "dev-zero": "(a symbolic link to /dev/zero) is a character device",
    "directory": "is a directory",
}
WORD = {"fifo": "a FIFO (named pipe)", "dev-zero": "a character device"}


def says(kind: str, prefix: str = "") -> str:
    """A ``match`` pattern for the message about *kind* (the text holds parentheses)."""
    return re.escape(f"{prefix}{SAYS[kind]}")


KINDS = pytest.mark.parametrize("kind", ["fifo", "dev-zero"])


# --------------------------------------------------------------------------------------------- fsread


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_read_bytes_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "input")
    with pytest.raises(UsageError) as info:
        promptly(lambda: fsread.read_bytes(path, limit=1024, what="the thing"))
    assert f"the thing {path} {SAYS[kind]}, not a regular file" in info.value.message
    assert "regular files" in (info.value.tip or "")


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(UsageError, match="is a socket, not a regular file"):
            promptly(lambda: fsread.read_bytes(path, limit=10, what="x"))


def test_read_bytes_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 2048)
    assert fsread.read_bytes(path, limit=2048, what="x") == b"x" * 2048
    with pytest.raises(UsageError, match=r"x .*/big is larger than 1 KiB"):
        fsread.read_bytes(path, limit=1024, what="x")


def test_a_proc_file_that_reports_size_zero_is_still_bounded() -> None:
    """/proc files say st_size 0 and stream on: the limit, not the size, ends the read."""
    with pytest.raises(UsageError, match="is larger than 16 bytes"):
        fsread.read_bytes(Path("/proc/self/maps"), limit=16, what="x")


def test_read_text_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("héllo", encoding="utf-8")
    assert fsread.read_text(tmp_path / "a.txt", limit=100, what="x") == "héllo"
    with pytest.raises(FileNotFoundError):
        fsread.read_bytes(tmp_path / "missing", limit=10, what="x")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "missing", "huge"])
def test_read_cached_is_a_miss_for_anything_odd(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "entry.json"
    if kind == "huge":
        path.write_bytes(b"{}" + b" " * 100)
    elif kind != "missing":
        odd_file(kind, path)
    assert promptly(lambda: fsread.read_cached(path, limit=50)) is None


def test_check_tree_names_the_fifo_and_follows_symlinks(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ok.py").write_text("")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    fsread.check_tree(tmp_path, "the tree")  # regular files, a directory, a dangling symlink: fine
    odd_file("dev-zero", tmp_path / "pkg" / "zero")
    with pytest.raises(
        UsageError, match=r"the tree .* holds .*/pkg/zero \(a symbolic link to /dev/zero\), which is a character device"
    ):
        fsread.check_tree(tmp_path, "the tree")
    hidden = tmp_path / "other"
    (hidden / ".git").mkdir(parents=True)
    odd_file("fifo", hidden / ".git" / "pipe")
    fsread.check_tree(hidden, "the tree")  # not entered: hidden directories are skipped


# ------------------------------------------------------------------------------------ every call site


@KINDS
def test_pyproject(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "pyproject.toml")
    with pytest.raises(UsageError, match=says(kind, f"the project file {path} ")):
        promptly(lambda: config.read_pyproject(tmp_path))


@KINDS
def test_contract_file_compile_check(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "test_pipe.py")
    with pytest.raises(UsageError, match=says(kind, f"--contracts file {path} ")):
        promptly(lambda: pytest_session.check_user_contracts((tmp_path,)))


@KINDS
def test_digest_of_a_store_or_contracts_tree(tmp_path: Path, kind: str) -> None:
    (tmp_path / "setup.py").write_text("")
    path = odd_file(kind, tmp_path / "data.bin")
    with pytest.raises(UsageError, match=re.escape(f"the project {tmp_path} holds {path}")):
        promptly(lambda: fingerprint.tree_digest(tmp_path))
    with pytest.raises(UsageError, match=says(kind)):
        promptly(lambda: fingerprint.file_digest(path))


@KINDS
def test_result_cache_entry_is_a_miss(tmp_path: Path, kind: str) -> None:
    cache = results.ResultCache((), declared=[], root=tmp_path)
    run = Run(core_ref="1.0.0", status=Status.FAILED, exit_code=1, checks=[])
    run = run.model_copy(update={"checks": [Check(id="a", subject="s", layer=Layer.ASSERTION, status=Status.FAILED)]})
    cache.put("good", run)
    assert cache.get("good") == run
    odd_file(kind, tmp_path / "results" / "k.json")
    assert promptly(lambda: cache.get("k")) is None


@KINDS
def test_base_environment_marker_is_stale(tmp_path: Path, kind: str) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / baseenv.COMPLETE).write_text(json.dumps({"created": 1e308, "fingerprint": "", "identity": ""}))
    assert baseenv._marker(base) is None  # a time in the future (or inf, nan) never makes a base fresh
    (base / baseenv.COMPLETE).unlink()
    odd_file(kind, base / baseenv.COMPLETE)
    assert promptly(lambda: baseenv._marker(base)) is None


@KINDS
def test_merge_input(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "shard.json")
    with pytest.raises(merge.MergeError, match=says(kind, f"shard report {path} ")):
        promptly(lambda: merge.merge_reports([path]))


@KINDS
def test_golden_schemas(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "schemas.json")
    with pytest.raises(UsageError, match=says(kind, f"the golden schemas {path} ")):
        promptly(lambda: schema_rows.load_golden(tmp_path))


@KINDS
@pytest.mark.parametrize("where", ["index", "find-links"])
def test_index_and_find_links_pages(tmp_path: Path, kind: str, where: str) -> None:
    path = odd_file(kind, tmp_path / "page.html")
    if where == "index":  # file:INDEX/<project>/ is the project's page
        (tmp_path / "simple").mkdir()
        path = odd_file(kind, tmp_path / "simple" / CORE_DIST)
        settings = index.IndexSettings(index_url=(tmp_path / "simple").as_uri())
    else:
        settings = index.IndexSettings(find_links=(path.as_uri(),), offline=True)
    with pytest.raises(UsageError, match=says(kind, f"the index page {path} ")):
        promptly(lambda: index.releases(CORE_DIST, settings, uv="uv-is-not-needed"))


@KINDS
def test_local_core_ref(tmp_path: Path, kind: str) -> None:
    path = odd_file(kind, tmp_path / "core-1.0-py3-none-any.whl")
    with pytest.raises(UsageError, match=says(kind, f"--core-ref {path} ")):
        promptly(lambda: refs.parse(str(path), core_package=CORE_DIST))


# ---------------------------------------------------------------------------------- through the CLI


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "store"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "store"\nversion = "1"\ndependencies = ["{CORE_DIST}"]\n', encoding="utf-8"
    )
    return project


OFFLINE = ["--core-ref=1.0.0", "--core-package", CORE_DIST, "--offline", "--index-url", "file:///nonexistent/simple"]


@KINDS
@pytest.mark.parametrize("where", ["contracts-dir", "contracts-file", "store-dir", "cwd-project", "find-links"])
def test_cli_refuses_before_anything_runs(tmp_path: Path, kind: str, where: str) -> None:
    project = _project(tmp_path)
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "test_ok.py").write_text("def test_ok():\n    pass\n")
    args: list[str | Path] = [*OFFLINE, "--store", project]
    cwd = tmp_path
    if where == "contracts-dir":
        bad = odd_file(kind, contracts / "test_pipe.py")
        args += ["--contracts", contracts]
    elif where == "contracts-file":
        bad = odd_file(kind, tmp_path / "test_pipe.py")
        args += ["--contracts", bad]
    elif where == "store-dir":
        (project / "store").mkdir()
        bad = odd_file(kind, project / "store" / "data")
    elif where == "cwd-project":
        args, cwd = OFFLINE, project
        (project / "src").mkdir()
        bad = odd_file(kind, project / "src" / "blob")
    else:
        bad = odd_file(kind, tmp_path / "links.html")
        args += ["--find-links", bad]
    ran = promptly(lambda: call(args, cwd))
    assert ran.code == ExitCode.USAGE, ran.output
    assert str(bad) in ran.stderr or str(bad.resolve()) in ran.stderr, ran.stderr  # an option path is resolved
    assert WORD[kind] in ran.stderr, ran.stderr
    assert "Traceback" not in ran.output


@pytest.mark.slow
@pytest.mark.parametrize("where", ["contracts", "pyproject", "merge"])
def test_end_to_end_fifo_and_dev_zero(tmp_path: Path, where: str) -> None:
    """The real CLI, in a child process with a memory ceiling: FIFO and /dev/zero inputs end at once, exit 2."""
    project = _project(tmp_path)
    for kind in ("fifo", "dev-zero"):
        work = tmp_path / kind
        work.mkdir()
        cwd, args = tmp_path, [*OFFLINE, "--store", project]
        if where == "contracts":
            bad = odd_file(kind, work / "test_pipe.py")
            args += ["--contracts", work]
        elif where == "pyproject":
            cwd, args = work, OFFLINE
            bad = odd_file(kind, work / "pyproject.toml")
        else:
            bad = odd_file(kind, work / "shard.json")
            args = ["merge", bad]
        done = subprocess.run(
            [sys.executable, "-m", "contract_check", *map(str, args)],
            cwd=cwd,
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,  # the original failure: hung for more than 200 s, or was OOM-killed
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.RLIM_INFINITY)),
        )
        assert done.returncode == ExitCode.USAGE, done.stdout + done.stderr
        assert str(bad.resolve()) in done.stderr or str(bad) in done.stderr, done.stderr
        assert WORD[kind] in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
