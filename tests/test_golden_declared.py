"""Every golden declares what it holds (issue 17, item 9).

With ``golden/payloads`` missing (or a file in its place) the payload checks used to be silently not
expected, and a behaviour-only break read COMPATIBLE; a truncated payload file read BROKEN. Now a golden's
``metadata.json`` declares its subjects and payload files (counts and digests), loading checks the golden
against it, and a mismatch is exit 2 naming the file (exit 3 for the built-in golden: the installation is
damaged). A golden of the second release (no declaration) is read as before, with a note to record it again.
``snapshot``, ``--against`` and the sandbox's copy are all written by the one writer.

In-process (``cli.run`` with the contracts replaced): nothing is installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from conftest import FakeContracts, every_builtin_passed
from contract_check import suite
from contract_check.models import ExitCode
from contract_check.run import pytest_session
from fixturepkgs import CORE_DIST, STORE_DIST
from test_hardening import call

BUILTIN = pytest_session.builtin_contracts() / "golden"
SCHEMAS = json.loads((BUILTIN / "schemas.json").read_text())
PAYLOADS = {p.stem: json.loads(p.read_text()) for p in sorted((BUILTIN / "payloads").glob("*.json"))}
CORE = f"{CORE_DIST} @ https://example.invalid/core-1.1.0.whl"
STORE = f"{STORE_DIST} @ https://example.invalid/store.whl"


def compatible() -> pytest_session.Outcome:
    """A Core that passes every built-in check and reports the built-in golden's schemas: COMPATIBLE, unless
    the golden it is compared with says otherwise."""
    return pytest_session.Outcome(
        completed=True,
        checks=every_builtin_passed(),
        artifacts={"snapshot": SCHEMAS, "payloads": PAYLOADS},
        versions={CORE_DIST: "1.1.0", STORE_DIST: "0.1.0"},
    )


def check(cwd: Path, *args: str | Path, outcome: pytest_session.Outcome | None = None) -> Any:
    argv = ["--core-ref", CORE, "--core-package", CORE_DIST, "--store", STORE, "--offline", *args]
    ran = call(argv, cwd, contracts=FakeContracts.factory(outcome or compatible()))
    assert "Traceback" not in ran.output and "internal error" not in ran.output, ran.output
    return ran


def copy_golden(tmp_path: Path) -> Path:
    target = tmp_path / "golden"
    shutil.copytree(BUILTIN, target)
    return target


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE = {
    "payloads missing": (lambda g: shutil.rmtree(g / "payloads"), "payload directory {g}/payloads is missing"),
    "payloads a file": (
        lambda g: (shutil.rmtree(g / "payloads"), (g / "payloads").write_text("[]")),
        "payload directory {g}/payloads is a regular file, not a directory",
    ),
    "payload file missing": (
        lambda g: (g / "payloads" / "HealthStatus.json").unlink(),
        "the golden payloads {g}/payloads/HealthStatus.json is missing",
    ),
    "payload truncated": (
        lambda g: _truncate(g / "payloads" / "FeedbackEvent.json"),
        "the golden payloads {g}/payloads/FeedbackEvent.json is not valid JSON",
    ),
    "payload dropped": (
        lambda g: (g / "payloads" / "FeedbackEvent.json").write_text(json.dumps(PAYLOADS["FeedbackEvent"][:-1])),
        "payloads/FeedbackEvent.json hold 3 payloads; its metadata.json declares 4",
    ),
    "payload edited": (
        lambda g: (g / "payloads" / "HealthComponent.json").write_text(
            json.dumps([{**p, "state": "degraded"} for p in PAYLOADS["HealthComponent"]])
        ),
        "payloads/HealthComponent.json differ from what its metadata.json declares",
    ),
    "subject removed": (
        lambda g: (g / "schemas.json").write_text(
            json.dumps({"models": {k: v for k, v in SCHEMAS["models"].items() if k != "HealthStatus"}, "enums": {}})
        ),
        "do not hold the subjects its metadata.json declares",
    ),
    "schema edited": (
        lambda g: (g / "schemas.json").write_text(json.dumps({**SCHEMAS, "enums": {"BackpressureLevel": ["ok"]}})),
        "schemas.json differ from what its metadata.json declares",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_golden_that_does_not_match_its_declaration_is_a_usage_error(tmp_path: Path, damage: str) -> None:
    golden_dir = copy_golden(tmp_path)
    make, says = DAMAGE[damage]
    make(golden_dir)
    ran = check(tmp_path, "--golden", golden_dir)
    assert ran.code == ExitCode.USAGE, ran.output  # was COMPATIBLE (0): the payload checks were not expected
    assert says.format(g=golden_dir) in ran.stderr, ran.stderr
    assert "contract-check snapshot" in ran.stderr  # the tip: record it again (or restore it)


def test_a_damaged_builtin_golden_is_an_environment_problem(tmp_path: Path) -> None:
    """The built-in golden is part of the installation: damaged, it is exit 3 (reinstall), not the user's fault."""
    installed = tmp_path / "installed"
    shutil.copytree(suite.builtin_dir(), installed)
    (installed / "golden" / "payloads" / "FeedbackEvent.json").unlink()
    outcome = compatible()
    with mock.patch("contract_check.suite.builtin_dir", return_value=installed):
        ran = check(tmp_path, outcome=outcome)
        listed = call(["list"], tmp_path)
    for done in (ran, listed):
        assert done.code == ExitCode.ENVIRONMENT, done.output
        said = " ".join(done.output.split())  # the table wraps long lines at the terminal's width
        assert "the built-in golden of this installation is damaged" in said  # check: in its report
        assert "FeedbackEvent.json is missing" in said and "reinstall contract-check" in said


def test_the_builtin_golden_declares_what_it_holds(tmp_path: Path) -> None:
    metadata = json.loads((BUILTIN / "metadata.json").read_text())
    declared = metadata["contents"]
    assert sorted(declared["payloads"]) == sorted(PAYLOADS)
    assert {k: v["count"] for k, v in declared["payloads"].items()} == {k: len(v) for k, v in PAYLOADS.items()}
    assert sorted(declared["schemas"]["models"]) == sorted(SCHEMAS["models"])
    ran = check(tmp_path)
    assert ran.code == ExitCode.OK, ran.output
    assert "does not declare" not in ran.output


def test_a_second_release_golden_is_read_with_a_note(tmp_path: Path) -> None:
    golden_dir = copy_golden(tmp_path)
    metadata = json.loads((golden_dir / "metadata.json").read_text())
    del metadata["contents"]
    (golden_dir / "metadata.json").write_text(json.dumps(metadata))
    report = tmp_path / "report.json"
    ran = check(tmp_path, "--golden", golden_dir, "--json", report)
    assert ran.code == ExitCode.OK, ran.output
    notes = json.loads(report.read_text())["summary"]["notes"]
    assert any("does not declare what it holds" in n and "contract-check snapshot" in n for n in notes), notes
    assert "does not declare what it holds" in ran.stdout


def test_a_second_release_golden_is_what_the_sandbox_gets(tmp_path: Path) -> None:
    """An empty payload file checks nothing: it is neither expected nor written into the sandbox's copy."""
    from contract_check.suite import golden

    legacy = tmp_path / "legacy"
    (legacy / "payloads").mkdir(parents=True)
    (legacy / "schemas.json").write_text(json.dumps(SCHEMAS))
    (legacy / "metadata.json").write_text(json.dumps({"core": "1.4.61", "tool": "0.1.0"}))
    (legacy / "payloads" / "FeedbackEvent.json").write_text(json.dumps(PAYLOADS["FeedbackEvent"]))
    (legacy / "payloads" / "HealthStatus.json").write_text("[]")
    found = golden.read(legacy)
    assert found is not None and not found.declared and found.payload_subjects == ["FeedbackEvent"]
    layout = pytest_session.prepare(tmp_path / "sandbox", suite.builtin(), legacy)
    copy = golden.read(layout.workdir / "golden")
    assert copy is not None and copy.declared and copy.content.payloads == found.content.payloads
    assert sorted(p.name for p in (layout.workdir / "golden" / "payloads").iterdir()) == ["FeedbackEvent.json"]


def test_a_second_release_golden_whose_payloads_are_a_file_is_refused(tmp_path: Path) -> None:
    golden_dir = copy_golden(tmp_path)
    (golden_dir / "metadata.json").write_text(json.dumps({"core": "1.4.61", "tool": "0.1.0"}))
    shutil.rmtree(golden_dir / "payloads")
    (golden_dir / "payloads").write_text("")
    ran = check(tmp_path, "--golden", golden_dir)
    assert ran.code == ExitCode.USAGE, ran.output
    assert f"{golden_dir}/payloads is a regular file, not a directory" in ran.stderr


def test_snapshot_against_and_the_sandbox_write_through_the_one_writer(tmp_path: Path) -> None:
    from contract_check.suite import golden, golden_write

    written: list[tuple[Path, bool]] = []
    real = golden_write.write

    def spy(target: Path, content: Any, *, cwd: Path) -> Path:
        out = real(target, content, cwd=cwd)
        found = golden.read(out)
        written.append((out, bool(found and found.declared and found.content.payloads == PAYLOADS)))
        return out

    recorded = tmp_path / "recorded"
    with mock.patch.object(golden_write, "write", spy):
        snap = call(["snapshot", "--core-ref", CORE, "--core-package", CORE_DIST, "--store", STORE, "--offline",
                     "--output", recorded], tmp_path, contracts=FakeContracts.factory(compatible()))  # fmt: skip
        against = check(tmp_path, "--against", CORE)
        pytest_session.prepare(tmp_path / "sandbox", suite.builtin(), BUILTIN)
    assert snap.code == ExitCode.OK and against.code == ExitCode.OK, snap.output + against.output
    assert [(p.name, ok) for p, ok in written] == [("recorded", True), ("against", True), ("golden", True)]
    assert written[2][0] == tmp_path / "sandbox" / "golden"
