"""Shared pytest fixtures. Each area keeps its fixtures in its own clearly delimited block below."""

from __future__ import annotations

# ==================================================================================================
# BEGIN fixture packages -- fake Core/Store for installs (owned with tests/fixturepkgs.py)
# ==================================================================================================
import pytest

from fixturepkgs import FixtureWorld, build_fixture_world


@pytest.fixture(scope="session")
def fixture_world(tmp_path_factory: pytest.TempPathFactory) -> FixtureWorld:
    """Fake Core wheels (find-links), Store wheel/project, Core project/sdist and Core git repo.

    Built once per session (per xdist worker) in well under a second, without network; see
    ``fixturepkgs.FixtureWorld`` for the fields and ``fixturepkgs.VARIANTS`` for the Core variants.
    """
    return build_fixture_world(tmp_path_factory.mktemp("fixture-world"))


# ==================================================================================================
# END fixture packages
# ==================================================================================================
