"""Detection suite: every Core change a hurried maintainer might ship, checked by the real tool.

Each variant in ``fixturepkgs.VARIANTS`` is a Core wheel in the fixture find-links directory. Breaking ones
must make contract-check exit 1 and name their rule; compatible ones must exit 0 (WARN ones exit 1 only
under --strict) and, where the variant names a rule, report it.
"""

from __future__ import annotations

import pytest

from fixturepkgs import CORE_DIST, VARIANTS

pytestmark = pytest.mark.slow


def _flags(world):
    return ["--core-package", CORE_DIST, "--find-links", world.find_links, "--store", world.store_wheel]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_verdict(run_cli, fixture_world, name):
    variant = VARIANTS[name]
    result = run_cli("--core-ref", fixture_world.variant_versions[name], *_flags(fixture_world))
    assert result.code == variant.expect_exit, f"{name}: {variant.description}\n{result.output}"
    if variant.expect:
        assert variant.expect in result.rules(), f"{name}: expected {variant.expect}, found {result.rules()}"
        assert variant.expect in result.stdout  # the table names the rule too
    if variant.expect_exit == 0:
        assert result.failing() == []
    else:
        assert "BROKEN" in result.stdout and result.failing()
    if variant.expect is None:
        # a compatible change without a named rule reports nothing above INFO
        severities = {c["severity"] for r in result.report["runs"] for c in r["checks"]}
        assert severities <= {None, "INFO"}, severities


@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.severity == "WARN"])
def test_strict_makes_warnings_fail(run_cli, fixture_world, name):
    variant = VARIANTS[name]
    result = run_cli("--core-ref", fixture_world.variant_versions[name], "--strict", *_flags(fixture_world))
    assert result.code == variant.expect_exit_strict == 1, result.output
    failing = result.failing()
    assert failing and all(c["severity"] == "WARN" for c in failing), failing


def test_queue_size_tightening_is_caught_by_assertions_and_schema(run_cli, fixture_world):
    """The motivating case: ge=0 -> gt=0 passes the plan's ten example assertions but breaks drained queues."""
    result = run_cli("--core-ref", fixture_world.variant_versions["queue_size_positive"], *_flags(fixture_world))
    assert result.code == 1
    ids = {c["id"] for c in result.failing()}
    assert "feedback.drained-queue" in ids
    assert "schema.FeedbackEvent.queue_size.CONSTRAINT_TIGHTENED" in ids
