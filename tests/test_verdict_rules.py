"""Pure rules behind a verdict: the checks a suite declares, completeness, classification, what reaches the
sandbox's environment, the result cache's envelope and the base-environment guard. No process is started."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from unittest import mock

import pytest

from contract_check import sandbox, suite
from contract_check.cache import cacheledger, results
from contract_check.errors import UsageError
from contract_check.models import Check, Layer, Run, Source, Status
from contract_check.run import pytest_session
from contract_check.sandbox import baseenv
from contract_check.sources.refs import ResolvedRef
from contract_check.util import fingerprint
from contract_check.verdict.classify import Baseline, Policy, classify, verdict

# ------------------------------------------------------------------------------------ declared checks (AST)


def _suite(tmp_path: Path, source: str) -> list[suite.Expected]:
    (tmp_path / "test_x.py").write_text(textwrap.dedent(source))
    return suite.declared_checks(tmp_path)


def test_declared_ids_follow_pytest_parametrize_ids(tmp_path: Path) -> None:
    found = _suite(
        tmp_path,
        """
        import pytest

        STATES = ["ok", "soft"]

        @pytest.mark.contract(id="a.plain", subject="A")
        def test_plain():
            pass

        @pytest.mark.contract(id="a.states", subject="A")
        @pytest.mark.parametrize("state", STATES)
        def test_states(state):
            pass

        @pytest.mark.parametrize("n", [1, 2.5, None, True])
        @pytest.mark.contract(id="a.kinds", subject="A")
        def test_kinds(n):
            pass

        @pytest.mark.contract(id="a.named", subject="A")
        @pytest.mark.parametrize("d", [{}, {"k": "v"}], ids=["empty", "filled"])
        def test_named(d):
            pass

        @pytest.mark.contract(id="a.grid", subject="A")
        @pytest.mark.parametrize("x", [0, 1])
        @pytest.mark.parametrize("y", ["p", "q"])
        def test_grid(x, y):
            pass

        @pytest.mark.contract(id="a.objects", subject="A")
        @pytest.mark.parametrize("o", [(1, 2), {"k": 1}])
        def test_objects(o):
            pass

        @pytest.mark.parametrize("a,b", [(1, "x"), (2, "y")])
        def test_unmarked(a, b):
            pass

        class TestGroup:
            def test_method(self):
                pass
        """,
    )
    ids = {e.id: e.ids() for e in found}
    assert ids["a.plain"] == ["a.plain"]
    assert ids["a.states"] == ["a.states[ok]", "a.states[soft]"]
    assert ids["a.kinds"] == ["a.kinds[1]", "a.kinds[2.5]", "a.kinds[None]", "a.kinds[True]"]
    assert ids["a.named"] == ["a.named[empty]", "a.named[filled]"]
    assert ids["a.grid"] == ["a.grid[p-0]", "a.grid[p-1]", "a.grid[q-0]", "a.grid[q-1]"]  # bottom decorator first
    assert ids["a.objects"] == ["a.objects[o0]", "a.objects[o1]"]
    assert ids["test_x.py::test_unmarked"] == ["test_x.py::test_unmarked[1-x]", "test_x.py::test_unmarked[2-y]"]
    assert ids["test_x.py::TestGroup::test_method"] == ["test_x.py::TestGroup::test_method"]


def test_a_parametrisation_that_cannot_be_read_is_at_least_one_case(tmp_path: Path) -> None:
    (entry,) = _suite(
        tmp_path,
        """
        import pytest

        @pytest.mark.contract(id="b.dynamic", subject="B")
        @pytest.mark.parametrize("v", list(range(3)))
        def test_dynamic(v):
            pass
        """,
    )
    assert entry.cases is None and entry.ids() == []
    assert suite.completeness([entry], {}).missing == ("b.dynamic[...]",)
    assert suite.completeness([entry], {"b.dynamic[0]": "passed"}).complete
    assert suite.completeness([entry], {"b.dynamic[0]": "skipped"}).not_run == ("b.dynamic[0]",)


def test_the_builtin_suite_declares_every_check_it_reports() -> None:
    builtin = suite.builtin()
    ids = [i for e in builtin.declared_checks(pytest_session.golden_payload_subjects(builtin.golden)) for i in e.ids()]
    assert len(ids) == len(set(ids)) == 28
    assert "health.component-states[degraded]" in ids and "schema.snapshot" in ids
    assert [i for i in ids if i.startswith("payload.golden.")] == [
        f"payload.golden.{name}" for name in ("FeedbackEvent", "HealthStatus", "HealthComponent", "StoreFeedbackEvent")
    ]


def test_completeness_names_what_is_missing_and_what_did_not_run() -> None:
    declared = [
        suite.Expected("x.a", "X", "assertion", ""),
        suite.Expected("x.b", "X", "assertion", "", ("1", "2")),
    ]
    gaps = suite.completeness(declared, {"x.a": "xfailed", "x.b[1]": "passed"})
    assert gaps.missing == ("x.b[2]",) and gaps.not_run == ("x.a",)
    assert gaps.describe() == "no result: x.b[2]; skipped or xfail: x.a"
    assert suite.completeness(declared, {"x.a": "failed", "x.b[1]": "error", "x.b[2]": "passed"}).complete


# ---------------------------------------------------------------------------------------------- classify


DECLARED = [suite.Expected("c.one", "S", "assertion", ""), suite.Expected("c.two", "S", "assertion", "")]


def _row(check_id: str, status: Status, layer: Layer = Layer.ASSERTION) -> Check:
    return Check(id=check_id, subject="S", layer=layer, status=status)


P, F, E, S = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


@pytest.mark.parametrize(
    ("rows", "outcome", "code", "says"),
    [
        ([("c.one", P), ("c.two", P)], {}, 0, None),
        ([("c.one", P)], {}, 3, "no result: c.two"),  # deselected
        ([("c.one", P), ("c.two", S)], {}, 3, "skipped or xfail: c.two"),  # skipped or xfailed
        ([("c.one", F)], {}, 1, None),  # a failure that ran stays a failure, even with a gap
        ([("c.one", P), ("c.two", E)], {"timed_out": True, "timed_out_ids": ["c.two"]}, 3, "--timeout"),
        ([("c.one", F), ("c.two", E)], {"timed_out": True, "timed_out_ids": ["c.two"]}, 1, None),
        ([("c.one", P), ("c.two", P)], {"timed_out": True}, 3, "did not finish within --timeout"),
        ([("c.one", P), ("c.two", P)], {"foreign": "could not check: x was imported from /elsewhere"}, 3, "/elsewhere"),
        ([("c.one", F), ("c.two", P)], {"foreign": "could not check: shadowed"}, 3, "shadowed"),
        ([("c.one", P), ("c.two", P)], {"unrun": ["the contracts in /x did not run (exit 4)"]}, 3, "/x did not run"),
    ],
)
def test_classify(rows: list[tuple[str, Status]], outcome: dict[str, object], code: int, says: str | None) -> None:
    checks = [_row(i, s) for i, s in rows]
    got_code, error = verdict(checks, pytest_session.Outcome(completed=True, **outcome), tuple(DECLARED))  # type: ignore[arg-type]
    assert got_code == code
    if says is None:
        assert error is None
    else:
        assert error is not None and says in error


def test_a_user_row_under_a_builtin_id_is_a_usage_error() -> None:
    """User rows are node ids (the runner sets them); should one still equal a built-in id (an unmarked
    built-in test of a custom suite in the same place), it must not count for the built-in."""
    outcome = pytest_session.Outcome(
        completed=True, checks=[_row("c.one", P), _row("c.two", P), _row("c.two", S, Layer.USER)]
    )
    resolved = ResolvedRef("1", "core==1", Source.INDEX)
    with pytest.raises(UsageError, match=r"a user contract has the id 'c\.two', which is a built-in check's"):
        classify(resolved, outcome, Baseline(None, "none"), Policy(core_package="core", declared=tuple(DECLARED)))


# ------------------------------------------------------------------------------------------ the environment


def test_the_scrubbed_environment_keeps_locations_and_credentials_only(monkeypatch: pytest.MonkeyPatch) -> None:
    dropped = {
        "PYTHONWARNINGS": "error",
        "PYTHONSTARTUP": "/x",
        "PYTHONHOME": "/x",
        "PYTHONSAFEPATH": "1",
        "PYTHONPATH": "/x",
        "PYTEST_ADDOPTS": "-k values",
        "PYTEST_PLUGINS": "evil",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PIP_INDEX_URL": "https://x",
        "UV_OVERRIDE": "/x",
        "UV_CONSTRAINT": "/x",
        "UV_PRERELEASE": "allow",
        "UV_EXCLUDE_NEWER": "2020-01-01",
        "UV_LINK_MODE": "hardlink",
        "UV_PYTHON": "3.9",
        "VIRTUAL_ENV": "/x",
    }
    kept = {
        "HTTPS_PROXY": "http://proxy:3128",
        "SSL_CERT_FILE": "/etc/ssl/x.pem",
        "UV_CACHE_DIR": "/cache",
        "UV_INDEX_PRIVATE_USERNAME": "u",
        "UV_INDEX_PRIVATE_PASSWORD": "p",
        "UV_NATIVE_TLS": "1",
        "GITHUB_TOKEN": "t",
        "TZ": "UTC",
    }
    for name, value in {**dropped, **kept}.items():
        monkeypatch.setenv(name, value)
    env = sandbox.scrubbed_env()
    assert not set(dropped) & set(env)
    assert {k: env[k] for k in kept} == kept


def test_verdict_variables_are_an_explicit_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    monkeypatch.setenv("SOMETHING_ELSE", "1")
    assert sandbox.verdict_environment().get("TZ") == "Asia/Tokyo"
    assert "SOMETHING_ELSE" not in sandbox.verdict_environment()


# ------------------------------------------------------------------------------------------- result cache


def test_result_entries_expire_and_must_have_the_envelope(tmp_path: Path) -> None:
    cache = results.ResultCache((), declared=[], root=tmp_path)
    run = Run(core_ref="1", status=Status.FAILED, exit_code=1, checks=[_row("c.one", F)])
    cache.put("k", run)
    assert cache.get("k") == run
    assert cache.get("k", now=time.time() + results.RESULT_TTL + 1) is None  # 7 days later
    (tmp_path / "results" / "old.json").write_text(json.dumps({"exit_code": 0, "checks": []}))  # no envelope
    assert cache.get("old") is None
    (tmp_path / "results" / "deep.json").write_text("[" * 100000)
    assert cache.get("deep") is None


def test_a_cached_run_is_served_only_when_its_checks_give_its_verdict_now(tmp_path: Path) -> None:
    cache = results.ResultCache((), declared=DECLARED, root=tmp_path)
    good = Run(core_ref="1", status=Status.PASSED, exit_code=0, checks=[_row("c.one", P), _row("c.two", P)])
    cache.put("good", good)
    assert cache.get("good") == good
    stored = {
        "incomplete": [_row("c.one", P)],  # a check the suite declares now has no result
        "failed": [_row("c.one", P), _row("c.two", F)],  # the stored verdict does not follow from its checks
        "accepted-import-failure": [
            _row("c.one", P),
            Check(id="c.two", subject="S", layer=Layer.ASSERTION, status=Status.ACCEPTED, rule="IMPORT_FAILED"),
        ],
        "all-accepted": [_row("c.one", Status.ACCEPTED), _row("c.two", Status.ACCEPTED)],
    }
    for key, checks in stored.items():
        cache.put(key, Run(core_ref="1", status=Status.PASSED, exit_code=0, checks=checks))
        assert cache.get(key) is None, key


def test_a_cache_hit_counts_as_a_use_for_eviction(tmp_path: Path) -> None:
    """Seen: a result used every day was evicted by when it was written, as if never used again."""
    root = tmp_path / "cache"
    cache = results.ResultCache((), declared=DECLARED, root=root)
    cache.put("used", Run(core_ref="1", status=Status.PASSED, exit_code=0, checks=[_row("c.one", P), _row("c.two", P)]))
    written = cacheledger.read(root)[0]["results/used.json"].used
    with mock.patch("time.time", return_value=written + 3600):
        assert cache.get("used") is not None
    assert cacheledger.read(root)[0]["results/used.json"].used == written + 3600


# ------------------------------------------------------------------------------------------ base environment


def _base(tmp_path: Path) -> baseenv.Base:
    venv = tmp_path / "venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib" / "mod.py").write_text("X = 1\n")
    return baseenv.Base(venv, fingerprint.stat_digest(venv, skip=baseenv.COMPLETE), "identity")


def test_a_base_changed_through_a_clone_is_not_intact(tmp_path: Path) -> None:
    base = _base(tmp_path)
    clone = tmp_path / "clone"
    sandbox.clone(base.path, clone)
    assert base.intact()
    with (clone / "lib" / "mod.py").open("a") as fh:  # the clone's file is the base's file (hard link)
        fh.write("raise ImportError('poisoned')\n")
    assert not base.intact()


def test_the_guard_taints_every_run_in_flight_since_the_last_good_check(tmp_path: Path) -> None:
    base = _base(tmp_path)
    guard = baseenv.BaseGuard(base)
    assert guard.acquire("early") is base
    guard.release("early")  # verified intact: not tainted
    assert guard.acquire("a") is base and guard.acquire("b") is base
    os.utime(base.path / "lib" / "mod.py", ns=(1, 1))  # "a" writes through its clone
    guard.release("a")
    assert base.discarded and guard.tainted == ["a", "b"]
    assert guard.acquire("c") is None  # later runs get a fresh environment
    guard.release("b")
    assert guard.tainted == ["a", "b"]
