"""The one place a child process starts: redaction, capture, timeouts that kill the whole tree."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from contract_check.errors import CommandTimeout, EnvironmentProblem
from contract_check.util import proc

PY = sys.executable
ENV = {"PYTHONDONTWRITEBYTECODE": "1"}

# ------------------------------------------------------------------------------------------------- redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:tok@host/x", "https://***@host/x"),
        ("git+https://tok@host/r.git@v1", "git+https://***@host/r.git@v1"),
        ("https://:tok@host/simple", "https://***@host/simple"),  # empty user name, token as password
        ("https://user:p@ss@host/simple", "https://***@host/simple"),  # unescaped "@" in the password
        ("https://user:to:ken@host:8443", "https://***@host:8443"),
        ("http://u:t@[::1]:8080/simple/", "http://***@[::1]:8080/simple/"),
        (
            "could not fetch https://a:b@one.example/x, retried git+ssh://git@two.example/r.git@main and\n"
            "UV_INDEX_URL=https://__token__:pypi-AgEI@three.example/simple",
            "could not fetch https://***@one.example/x, retried git+ssh://***@two.example/r.git@main and\n"
            "UV_INDEX_URL=https://***@three.example/simple",
        ),
        ("'https://u:t@host/x'", "'https://***@host/x'"),
        # nothing to hide
        ("file:///path@v1", "file:///path@v1"),
        ("market-data-core @ git+https://host/r.git@v1", "market-data-core @ git+https://host/r.git@v1"),
        ("market-data-core @ https://host/core.whl", "market-data-core @ https://host/core.whl"),
        ("https://host/simple?user=a@b#c@d", "https://host/simple?user=a@b#c@d"),
        ("mail ci@example.invalid at https://host/x", "mail ci@example.invalid at https://host/x"),
        ("", ""),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert proc.redact(text) == expected


def test_redact_is_idempotent() -> None:
    once = proc.redact("https://user:tok@host/x")
    assert proc.redact(once) == once


# ---------------------------------------------------------------------------------------------------- run


@pytest.mark.slow
def test_run_captures_output_and_return_code(tmp_path: Path) -> None:
    code = "import os, sys; print('out', os.getcwd()); print('err', file=sys.stderr); sys.exit(3)"
    done = proc.run([PY, "-c", code], env=ENV, cwd=tmp_path)
    assert done.returncode == 3
    assert not done.ok
    assert done.stdout == f"out {tmp_path}\n"
    assert done.stderr == "err\n"
    assert done.argv == (PY, "-c", code)
    assert done.duration_s > 0


@pytest.mark.slow
def test_run_ok_and_paths_in_argv(tmp_path: Path) -> None:
    done = proc.run([Path(PY), "-c", "print('hi')"], env=ENV)
    assert done.ok and done.returncode == 0
    assert done.argv[0] == PY  # Path arguments become strings
    assert done.stdout == "hi\n" and done.stderr == ""


@pytest.mark.slow
def test_run_passes_exactly_the_given_environment() -> None:
    done = proc.run([PY, "-c", "import json, os; print(json.dumps(dict(os.environ)))"], env={"ONLY_THIS": "1"})
    child = json.loads(done.stdout)
    child.pop("LC_CTYPE", None)  # the interpreter may coerce the C locale
    assert child.pop(proc.TRACKER).count(":") == 1  # how the end-of-run sweep finds its descendants
    assert child == {"ONLY_THIS": "1"}


@pytest.mark.slow
def test_no_shell_is_involved(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("still here")
    args = [f";rm -rf {victim}", "$(touch pwned)", "`touch pwned`", "*", "a b", "'q'", "| cat", "&&", ""]
    done = proc.run([PY, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", *args], env=ENV, cwd=tmp_path)
    assert json.loads(done.stdout) == args
    assert victim.read_text() == "still here"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_undecodable_output_is_replaced() -> None:
    done = proc.run([PY, "-c", "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe end')"], env=ENV)
    assert done.stdout == "ok \ufffd\ufffd end"


@pytest.mark.slow
def test_tail_prefers_stderr_and_redacts() -> None:
    code = "import sys\nfor i in range(30): print(f'{i} https://u:secret@h/x', file=sys.stderr)\nprint('out')"
    done = proc.run([PY, "-c", code], env=ENV)
    tail = done.tail(3).splitlines()
    assert tail == [f"{i} https://***@h/x" for i in (27, 28, 29)]
    quiet = proc.run([PY, "-c", "print('a'); print('b')"], env=ENV)
    assert quiet.tail() == "a\nb"


@pytest.mark.slow
def test_the_logged_command_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="contract_check"):
        proc.run([PY, "-c", "pass", "https://user:s3cret@host/simple"], env=ENV)
    assert "https://***@host/simple" in caplog.text
    assert "s3cret" not in caplog.text


def _alive(pid: int) -> bool:
    """Whether *pid* still runs (a zombie waiting to be reaped counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_dead(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


SPAWNER = """
import subprocess, sys, time
child = subprocess.Popen(["sleep", "30"], **({"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
                                             if sys.argv[2] == "detach" else {}))
with open(sys.argv[1], "w") as fh:
    fh.write(str(child.pid))
if sys.argv[2] != "detach":
    time.sleep(30)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    env = {**ENV, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        proc.run([PY, "-c", SPAWNER, pidfile, "wait"], env=env, timeout=1.0, what="the hanging contract")
    assert time.monotonic() - start < 4
    err = info.value
    assert isinstance(err, EnvironmentProblem)
    assert (err.exit_code, err.kind, err.seconds) == (3, "timeout", 1.0)
    assert err.message == "the hanging contract did not finish within 1s and was stopped"
    grandchild = int(pidfile.read_text())
    assert _wait_dead(grandchild), f"grandchild {grandchild} outlived the timeout"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_forked_child_does_not_outlive_its_leader(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    env = {**ENV, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = proc.run([PY, "-c", SPAWNER, pidfile, "detach"], env=env, timeout=10)
    assert done.ok
    grandchild = int(pidfile.read_text())
    assert _wait_dead(grandchild), f"grandchild {grandchild} outlived its leader"


@pytest.mark.slow
def test_timeout_message_defaults_to_the_program() -> None:
    with pytest.raises(CommandTimeout, match=r"did not finish within 0\.2s") as info:
        proc.run([PY, "-c", "import time; time.sleep(10)"], env=ENV, timeout=0.2)
    assert info.value.message.startswith(f"{PY} did not finish")


DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()  # a new session and process group: out of reach of killpg
    if os.fork() == 0:  # double fork: re-parented away from the leader
        with open(sys.argv[1], "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(60)
        os._exit(0)
    os._exit(0)
time.sleep(0.5)
print("leader done")
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_setsid_daemon_does_not_outlive_the_run(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    done = proc.run([PY, "-c", DAEMON, pidfile], env=ENV, timeout=10)
    assert done.ok and done.stdout == "leader done\n"
    daemon = int(pidfile.read_text())
    assert _wait_dead(daemon), f"setsid daemon {daemon} outlived the run"


HOLDER = """
import os, subprocess, sys, time
# a child that keeps the leader's stdout/stderr open for a minute, in its own session
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
print("verdict ready")
"""


@pytest.mark.slow
def test_a_child_holding_the_output_open_does_not_delay_the_run() -> None:
    start = time.monotonic()
    done = proc.run([PY, "-c", HOLDER], env=ENV, timeout=30)
    assert done.stdout == "verdict ready\n"
    assert time.monotonic() - start < 10  # not the 60 s the child would hold a pipe open


@pytest.mark.slow
def test_output_kept_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proc, "OUTPUT_LIMIT", 1000)
    done = proc.run([PY, "-c", "print('x' * 5000); print('the end')"], env=ENV)
    assert len(done.stdout) < 1100
    assert done.stdout.endswith("the end\n")
    assert "earlier bytes not kept" in done.stdout
