"""A Store checkout holds more than the Store (issue 18.1): a submodule, a gitlink, nested repositories (the
workflows check the tool out inside the Store's tree) and symbolic links to directories. None of them may stop
a check; the Store is built from its own files only, and the checkout is left exactly as it was.

The rule (``fingerprint.project_files``): another repository inside the project (nested, submodule, gitlink) is
not part of the Store's build and is left out; a symbolic link is copied as a link when it points inside the
project and left out when it points outside; what is left out is said under ``-v``.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult, cli_env
from fixturepkgs import CORE_DIST
from storerepo import ForeignTrees, StoreRepo, add_foreign_trees, make_store_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreRepo, ForeignTrees]:
    repo = make_store_repo(tmp_path_factory.mktemp("field") / "store")
    return repo, add_foreign_trees(repo)


def wheel_names(cache: Path) -> list[str]:
    (wheel,) = cache.glob("wheels/*/*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_a_checkout_with_foreign_trees_is_checked(
    run_cli: Callable[..., CliResult], field: tuple[StoreRepo, ForeignTrees], fixture_world: Any, tmp_path: Path
) -> None:
    repo, trees = field
    status, state = repo.status(), repo.state()
    assert f"?? {trees.nested}/" in status and "?? scratch/" in status, status  # untracked, as on a runner
    cache = tmp_path / "cache"
    args = ["--core-ref", "1.50.0", "--core-package", CORE_DIST, "--find-links", fixture_world.find_links, "-v"]
    result = run_cli(*args, cwd=repo.root, env=cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache)))

    assert result.code == 0, result.output
    assert result.report is not None and result.report["store"]["spec"] == "."
    # the Store was built from its own files: the symlinked package directory is in, no foreign file is
    names = wheel_names(cache)
    assert "market_data_store/telemetry/feedback.py" in names, names
    assert "market_data_store/coordinator/feedback.py" in names, names
    assert not [n for n in names if os.path.basename(n) in trees.foreign_files], names
    # and each thing left out is named once under -v, with why
    said = [line for line in result.stderr.splitlines() if f"left out of the project {repo.root}:" in line]
    for rel, why in (
        (trees.nested + "/", "a nested git repository"),
        (trees.nested_visible + "/", "a nested git repository"),
        (trees.submodule, "a submodule or gitlink"),
        (trees.gitlink, "a submodule or gitlink"),
        (trees.outer_link, "a symbolic link to outside the project"),
    ):
        assert len([line for line in said if f": {rel} ({why}," in line]) == 1, (rel, said)
    assert repo.status() == status and repo.state() == state  # nothing in the checkout changed


def test_the_same_answer_twice(
    run_cli: Callable[..., CliResult], field: tuple[StoreRepo, ForeignTrees], fixture_world: Any, tmp_path: Path
) -> None:
    """The second run builds nothing (the copy's digest is stable with foreign trees in it) and says the same."""
    repo, _ = field
    cache = tmp_path / "cache"
    env = cli_env(tmp_path / "tmp", CONTRACT_CHECK_CACHE_DIR=str(cache))
    args = ["--core-ref", "1.50.0", "--core-package", CORE_DIST, "--find-links", fixture_world.find_links]
    first, second = (run_cli(*args, cwd=repo.root, env=env) for _ in range(2))
    assert (first.code, second.code) == (0, 0), first.output + second.output
    assert first.report is not None and second.report is not None
    assert len(list(cache.glob("wheels/*/*.whl"))) == 1
    verdicts = [
        [(c["id"], c["status"]) for r in rep["runs"] for c in r["checks"]] for rep in (first.report, second.report)
    ]
    assert verdicts[0] == verdicts[1] and verdicts[0]
    assert second.report["runs"][0]["cached"] is True
