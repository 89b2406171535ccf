"""The cache holds only what the tool wrote, and `cache clear`/`cache prune` remove only that (fast tier).

Each test builds a real directory tree: a user's own files where ``CONTRACT_CHECK_CACHE_DIR`` points, mixed
with what the tool writes (result envelopes, base environments with their completion marker, built wheels),
and runs the ``cache`` commands in this process. Data-loss tests compare every file that was there before,
byte for byte, with its mode and owner.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_check.cache import cachedir, cacheledger, cacheroot, results
from contract_check.cache.cacheledger import Bound
from contract_check.cli import app
from contract_check.config import cache_root
from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.models import Run, Status
from contract_check.sandbox import ClonedSandbox, SandboxSettings, baseenv
from contract_check.sources import stores
from contract_check.sources.index import IndexSettings

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_cache_state() -> Iterator[None]:
    """Each test starts and ends with no cache this process used or holds (the end-of-command eviction prunes
    every cache the process used since the last command)."""
    cacheledger._touched.clear()
    yield
    cachedir.release_held()
    cacheledger._touched.clear()


OTHER_KEY = "fedcba9876543210fedcba9876543210"


def snapshot(root: Path) -> dict[str, tuple[str, bytes | str, int, int, int]]:
    """Every path under *root*: its kind, its bytes (a link: its target), its mode and its owner."""
    found: dict[str, tuple[str, bytes | str, int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            owner = (st.st_mode, st.st_uid, st.st_gid)
            if stat.S_ISLNK(st.st_mode):
                found[str(path.relative_to(root))] = ("link", os.readlink(path), *owner)
            elif stat.S_ISDIR(st.st_mode):
                found[str(path.relative_to(root))] = ("dir", b"", *owner)
            else:
                found[str(path.relative_to(root))] = ("file", path.read_bytes(), *owner)
    return found


def run(*argv: str, cache: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, {"CONTRACT_CHECK_CACHE_DIR": str(cache), "COLUMNS": "200", "NO_COLOR": "1"}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = app.run(list(argv))
    return code, out.getvalue() + err.getvalue()


def users_directory(root: Path) -> Path:
    """What the issue saw: a directory of the user's, with results/, wheels/ and envs/ of their own."""
    files = {
        "results/prices.csv": b"day,close\n1,10.5\n",
        "results/summary.json": b'{"format": 1, "note": "mine"}\n',
        f"results/{KEY}.json": b'{"mine": true}\n',  # the tool's name pattern, not the tool's content
        "wheels/mylib-1.0-py3-none-any.whl": b"PK\x03\x04 not really",
        f"wheels/{KEY * 2}/mylib-1.0-py3-none-any.whl": b"PK\x03\x04 mine too",
        "envs/poetry.lock": b"[[package]]\n",
        f"envs/{KEY}/pyvenv.cfg": b"home = /usr/bin\n",  # a venv of the user's, with the tool's name pattern
        f"envs/{KEY}.lock": b"held by my own tool\n",
        "notes.txt": b"keep me",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "results" / "prices.csv").chmod(0o600)
    (root / "link-to-home").symlink_to(Path.home())
    return root


# ------------------------------------------------------------------------------------- an unmarked directory


def test_another_tools_cache_tag_is_never_adopted_or_overwritten(tmp_path: Path) -> None:
    """Found by the property test below: a directory holding only another tool's CACHEDIR.TAG was taken for an
    empty one, adopted, and its tag overwritten with contract-check's."""
    root = tmp_path / "theirs"
    root.mkdir()
    (root / cachedir.TAG).write_bytes(b"Signature: 8a477f597d28d172789f06886806bc55\n# another tool's cache\n")
    before = snapshot(root)
    assert cacheroot.usable(root) is None
    with pytest.raises(UsageError):
        cacheroot.marked_or_refuse(root)
    assert snapshot(root) == before


def test_cache_clear_refuses_a_directory_it_did_not_mark_and_deletes_nothing(tmp_path: Path) -> None:
    root = users_directory(tmp_path / "mine")
    before = snapshot(root)
    code, output = run("cache", "clear", cache=root)
    assert code == 2, output
    assert "not a contract-check cache" in output and "CONTRACT_CHECK_CACHE_DIR" in output
    assert snapshot(root) == before


def test_cache_info_on_an_unmarked_directory_says_so_without_walking_it(tmp_path: Path) -> None:
    root = users_directory(tmp_path / "mine")
    before = snapshot(root)
    with mock.patch("os.walk", side_effect=AssertionError("walked the directory")):
        code, output = run("cache", "info", cache=root)
    assert code == 0, output
    assert "not a contract-check cache" in output and "GiB" not in output and " B\n" not in output
    assert snapshot(root) == before


# --------------------------------------------------------------------------------- what the tool writes


def fake_venv(venv: Path) -> None:
    """What a base build leaves (no uv needed to lay it out): pyvenv.cfg, an interpreter link, a package."""
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\n")
    site = venv / "lib" / "python3" / "site-packages" / "pkg"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("X = 1\n" * 100)


def a_run(ref: str = "1.0.0") -> Run:
    return Run(core_ref=ref, status=Status.FAILED, exit_code=1, checks=[])


def _fake_build(project: Path, settings: Any, python: Any, timeout: Any, out: Path) -> Path:
    wheel = out / "store-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK built")
    return wheel


def write_tool_entries(root: Path, n: int = 1) -> list[str]:
    """Entries written by the tool's own writers: results, base environments and built Store wheels (the
    wheel's build, a uv process, replaced by a file); returns their relative paths."""
    written = []
    with (
        mock.patch.dict(os.environ, {"CONTRACT_CHECK_CACHE_DIR": str(root)}),
        mock.patch.object(stores, "_build_wheel", _fake_build),
    ):
        for i in range(n):
            key = f"{i:032x}"
            results.ResultCache((), declared=[], root=root).put(key, a_run())
            written.append(f"results/{key}.json")
            with baseenv.persistent_base(f"{i + 1:032x}", fake_venv):
                written.append(f"envs/{i + 1:032x}")
            project = root.parent / f"project-{i}"
            project.mkdir(exist_ok=True)
            (project / "setup.py").write_text(f"# {i}\n")
            wheel = stores._cached_wheel(project, settings=IndexSettings(), python=None, timeout=10, progress=print)
            written.append(f"wheels/{wheel.parent.name}")
    cachedir.release_held()
    return written


def test_clear_in_a_marked_cache_removes_the_tools_entries_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    written = write_tool_entries(root, n=2)
    assert cachedir.is_marked(root)
    users_directory(root)  # the user's own files land in the same directory (and folders) afterwards
    mine = {k: v for k, v in snapshot(root).items() if not tools(k, written)}
    code, output = run("cache", "clear", cache=root)
    assert code == 0, output
    assert "removed 2 results, 2 shared environments and 2 built Stores" in output
    assert "left alone 10 entries contract-check did not write" in output
    after = snapshot(root)
    assert not any(os.path.lexists(root / w) for w in written)
    for name, seen in mine.items():
        assert after.get(name) == seen, name


def tools(rel: str, written: list[str]) -> bool:
    """Whether *rel* is one of the entries the tool wrote, inside one, its lock, or the ledger."""
    return rel == cachedir.LEDGER or any(rel in (w, w + ".lock") or rel.startswith(w + "/") for w in written)


def test_a_base_in_use_is_kept_and_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    with baseenv.persistent_base("a" * 32, fake_venv) as base:  # a check holding it (its shared lock)
        code, output = run("cache", "clear", cache=root)
        assert code == 0 and f"kept 1 in use by a running check: envs/{'a' * 32}" in output, output
        assert baseenv._marker(base.path) is not None
    code, output = run("cache", "clear", cache=root)
    assert code == 0 and "1 shared environment" in output and not base.path.exists(), output


def test_a_check_never_writes_into_a_directory_that_is_not_its_cache(tmp_path: Path) -> None:
    root = users_directory(tmp_path / "mine")
    before = snapshot(root)
    store = results.ResultCache((), declared=[], root=root)
    with mock.patch.dict(os.environ, {"CONTRACT_CHECK_CACHE_DIR": str(root)}):
        store.put(KEY, a_run())
        with baseenv.persistent_base("b" * 32, fake_venv) as base:
            assert not base.path.is_relative_to(root)  # a base for this invocation only, elsewhere
    assert snapshot(root) == before


def test_an_earlier_releases_cache_is_adopted_only_when_everything_in_it_is_the_tools(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "results").mkdir(parents=True)
    (old / "results" / f"{KEY}.json").write_text(json.dumps({"format": 1, "stored": 1.0, "run": {}}))
    (old / "envs" / KEY).mkdir(parents=True)
    (old / "envs" / KEY / baseenv.COMPLETE).write_text(json.dumps({"created": 1.0, "fingerprint": "f"}))
    (old / "envs" / f"{KEY}.lock").touch()
    (old / "wheels" / (KEY * 2)).mkdir(parents=True)
    (old / "wheels" / (KEY * 2) / "store-1.0-py3-none-any.whl").write_bytes(b"PK")
    discarded = old / "envs" / OTHER_KEY  # a base the second release discarded: it removed the marker
    discarded.mkdir()
    (discarded / "pyvenv.cfg").write_text("home = /usr/bin\nuv = 0.9.0\n")
    mixed = tmp_path / "mixed"
    shutil.copytree(old, mixed)
    (mixed / "wheels" / "mine.txt").write_text("mine")
    assert cacheroot.usable(mixed) is None and not cachedir.is_marked(mixed)
    assert cacheroot.usable(old) == old and cachedir.is_marked(old)
    adopted = {f"results/{KEY}.json", f"envs/{KEY}", f"envs/{OTHER_KEY}", f"wheels/{KEY * 2}"}
    assert set(cacheledger.read(old)[0]) == adopted
    code, output = run("cache", "clear", cache=mixed)
    assert code == 2 and "wheels/mine.txt" in output, output
    assert (mixed / "results" / f"{KEY}.json").exists()
    code, output = run("cache", "clear", cache=old)
    assert code == 0 and "removed 1 result, 2 shared environments and 1 built Store" in output, output
    assert sorted(p.name for p in old.iterdir()) == sorted(
        ["CACHEDIR.TAG", "envs", "ledger.jsonl", "ledger.lock", "results", "wheels"]
    )


def test_cache_info_shows_the_bound_and_what_prune_would_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", str(root))
    write_tool_entries(root)
    monkeypatch.setenv(cacheledger.SIZE.variable, "0")
    with mock.patch("os.walk", side_effect=AssertionError("walked the cache")):
        code, output = run("cache", "info", cache=root)
    assert code == 0, output
    assert "results          1 (0 expired" in output and "environments     1 " in output, output
    assert "bound            0 B; entries unused for 7d go" in output
    assert "prune would remove 3 entries" in output and f"envs/{1:032x} (least recently used" in output
    monkeypatch.setenv(cacheledger.AGE.variable, "soon")
    code, output = run("cache", "info", cache=root)
    assert code == 2 and f"{cacheledger.AGE.variable} 'soon' is not an age" in output, output


# ------------------------------------------------------------------- property: only the tool's entries go

NAMES = st.one_of(
    st.sampled_from(
        [
            *("prices.csv", "notes.json", "x.whl", "mylib-1.0-py3-none-any.whl", "tmpab12cd34.tmp", ".hidden"),
            *(f"{OTHER_KEY}.json", OTHER_KEY, f"{OTHER_KEY}.lock", f"{OTHER_KEY}.abc", f"{OTHER_KEY}.json.x.tmp"),
            *(OTHER_KEY * 2, f"{OTHER_KEY * 2}.lock", f"{OTHER_KEY * 2}.old.12"),
            *("CACHEDIR.TAG", "ledger.jsonl", "ledger.lock", "results", "envs", "wheels"),
        ]
    ),
    st.text(st.sampled_from("abcxyz019._-"), min_size=1, max_size=10).filter(lambda n: n not in (".", "..")),
)
# Content is never one of the shapes the tool recognises as its own (docs/security.md): a result envelope or
# a file starting as one, a base's or a wheel directory's marker, an empty lock file, a uv-made pyvenv.cfg.
CONTENT = st.one_of(
    st.binary(min_size=1, max_size=64).filter(lambda b: not b.startswith(b'{"format": ') and b"uv" not in b),
    st.sampled_from(
        [
            b"Signature: 8a477f597d28d172789f06886806bc55\n",  # another tool's cache tag
            b'{"run": {}, "format": 1}',  # almost an envelope
            b'{"path": "results/x.json"}\n',
            b"home = /usr/bin\n",
        ]
    ),
)
# a user's entry: where, what name, and a file, a directory holding a file, or a link to a directory outside
USER_ENTRY = st.tuples(
    st.sampled_from(["", "results", "envs", "wheels"]),
    NAMES,
    st.sampled_from(["file", "dir", "link"]),
    CONTENT,
    st.sampled_from(["pyvenv.cfg", "x.whl", "data", "RECORD"]),
)


_TEMPLATE: list[tuple[Path, list[str]]] = []


def copy_tool_entries(root: Path) -> list[str]:
    """A copy of a cache the tool's writers made once per process (to keep each example cheap)."""
    if not _TEMPLATE:
        made = Path(tempfile.mkdtemp(prefix="cache-template-")) / "cache"
        _TEMPLATE.append((made, write_tool_entries(made)))
        cacheledger._touched.clear()
    made, written = _TEMPLATE[0]
    shutil.copytree(made, root, symlinks=True)
    return written


def place_user_entries(root: Path, victim: Path, entries: list[tuple[str, str, str, bytes, str]]) -> None:
    for folder, name, kind, content, inner in entries:
        parent = root / folder
        if (parent.exists() and not parent.is_dir()) or parent.is_symlink():
            continue
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / name
        if os.path.lexists(path):
            continue
        if kind == "file":
            path.write_bytes(content)
            path.chmod(0o640)
        elif kind == "dir":
            path.mkdir()
            (path / inner).write_bytes(content)
        else:
            path.symlink_to(victim)


@given(entries=st.lists(USER_ENTRY, max_size=12), marked=st.booleans(), command=st.sampled_from(["clear", "prune"]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_nothing_the_tool_did_not_write_disappears(
    entries: list[tuple[str, str, str, bytes, str]], marked: bool, command: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, victim = Path(tmp) / "cache", Path(tmp) / "victim"
        victim.mkdir()
        (victim / "precious").write_bytes(b"do not touch")
        written = copy_tool_entries(root) if marked else []
        place_user_entries(root, victim, entries)
        if marked and (root / cachedir.LEDGER).is_file():  # a ledger edited to name the user's files
            with (root / cachedir.LEDGER).open("a") as fh:
                for folder, name, *_ in entries:
                    for rel in (f"{folder}/{name}", f"results/../{name}", f"{folder}/{name}/x"):
                        fh.write(json.dumps({"path": rel, "kind": "result", "size": 1, "used": 0.0}) + "\n")
        mine = {k: v for k, v in snapshot(root).items() if not tools(k, written)}
        before_victim = snapshot(victim)
        try:  # what `cache clear` and `cache prune --max-size 0` do, without the command line around them
            if cacheroot.marked_or_refuse(root):
                done = cacheroot.clear(root) if command == "clear" else cacheledger.prune(root, Bound(0, None))
            code, output = 0, repr(locals().get("done"))
        except UsageError as exc:
            code, output = 2, exc.message
        after = snapshot(root)
        assert code in (0, 2), output
        assert snapshot(victim) == before_victim
        for name, seen in mine.items():  # every file, directory and link of the user's, unchanged
            assert after.get(name) == seen, (name, output)
        if marked and cachedir.is_marked(root) and code == 0:
            assert not any(os.path.lexists(root / w) for w in written), output
        if not cachedir.is_marked(root):
            assert code == 2 or not mine, output


def test_a_relative_cache_directory_is_the_current_directorys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel built from a Store checkout is installed by its file: URL, which must be absolute (on main a
    relative CONTRACT_CHECK_CACHE_DIR made that an internal error)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTRACT_CHECK_CACHE_DIR", "rel-cache")
    assert cache_root() == tmp_path / "rel-cache"
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "setup.py").write_text("")
    with mock.patch.object(stores, "_build_wheel", _fake_build):
        wheel = stores._cached_wheel(
            tmp_path / "store", settings=IndexSettings(), python=None, timeout=9, progress=print
        )
    cachedir.release_held()
    assert wheel.as_uri().startswith(f"file://{tmp_path}/rel-cache/wheels/")


# ------------------------------------------------------------------ a sandbox cloned from a vanishing base


@pytest.mark.parametrize("gone", ["the whole base", "its pyvenv.cfg"])
def test_a_clone_of_a_base_being_removed_is_an_environment_error_for_that_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    base = tmp_path / "base"
    fake_venv(base)
    if gone == "the whole base":
        shutil.rmtree(base)
    else:
        (base / "pyvenv.cfg").unlink()
    settings = SandboxSettings(python=None, index=IndexSettings(), timeout=10)
    with pytest.raises(EnvironmentProblem) as caught, ClonedSandbox(settings, base):
        pass
    assert caught.value.exit_code == 3 and "cleaned up while the check ran" in caught.value.message
    assert not list(tmp_path.glob("contract-check-*"))  # the half-made sandbox is gone too
