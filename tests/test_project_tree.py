"""Project trees, fast (real temporary trees, no process): the listing rule without git gives the answer git
gives (tests/test_store_tree.py runs it through git and the CLI); the project a command stands in is found
upward, within the checkout (tests/test_subdirectory.py runs every command from a subdirectory)."""

from __future__ import annotations

import os
from pathlib import Path

from contract_check import config
from contract_check.config import project_root
from contract_check.sources import stores
from contract_check.util import fingerprint


def test_a_plain_tree_lists_what_git_would_and_copies_links_inside_only(tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (root / "src" / "pkg" / "m.py").write_text("", encoding="utf-8")
    (root / "nested" / ".git").mkdir(parents=True)  # another repository: not walked, not copied
    (root / "nested" / "theirs.py").write_text("", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    os.symlink("pkg", root / "src" / "alias")  # a directory inside: kept as a link, never walked into
    os.symlink(str(root / "src" / "pkg" / "m.py"), root / "absolute.py")  # inside, by an absolute path
    os.symlink("../outside", root / "shared")  # a directory outside: left out

    assert fingerprint.project_files(root) == ["absolute.py", "pyproject.toml", "src/alias", "src/pkg/m.py"]
    copy = tmp_path / "copy"
    fingerprint.copy_project(root, copy)
    assert os.readlink(copy / "src" / "alias") == "pkg" and (copy / "src" / "alias" / "m.py").is_file()
    assert os.readlink(copy / "absolute.py") == "src/pkg/m.py"  # relative: it points into the copy
    assert not (copy / "nested").exists() and not os.path.lexists(copy / "shared")


# --- which project a command stands in (project_root), and what follows from it -------------------------------

CORE = "market-data-core"


def _project(root: Path, dependencies: str = f'"{CORE}>=1.4"', table: str = "") -> Path:
    (root / "tests" / "contracts").mkdir(parents=True)
    (root / ".git").mkdir()  # a checkout's root: the upward search stops here
    text = f'[project]\nname = "store"\nversion = "1"\ndependencies = [{dependencies}]\n'
    (root / "pyproject.toml").write_text(text + (f"\n[tool.contract-check]\n{table}" if table else ""), "utf-8")
    return root


def test_the_enclosing_project_is_found_upward_within_the_checkout_only(tmp_path: Path) -> None:
    store = _project(tmp_path / "work" / "store")
    assert project_root.enclosing(store / "tests" / "contracts") == store.resolve()
    assert project_root.enclosing(store) == store.resolve()
    (tmp_path / "work" / "pyproject.toml").write_text("[project]\nname = 'above'\n", encoding="utf-8")
    (store / "pyproject.toml").unlink()
    assert project_root.enclosing(store / "tests") is None  # never past the checkout's root
    plain = tmp_path / "work" / "plain" / "sub"
    plain.mkdir(parents=True)
    assert project_root.enclosing(plain) is None  # outside a checkout: the current directory only


def test_the_default_store_is_the_enclosing_project_when_it_depends_on_core(tmp_path: Path) -> None:
    store = _project(tmp_path / "store")
    found = stores.resolve_store(None, store / "tests" / "contracts", core_package=CORE, default_package="s")
    assert (found.spec, found.path, found.origin) == (
        "../..",
        store.resolve(),
        "the project enclosing the current directory",
    )
    assert stores.resolve_store(None, store, core_package=CORE, default_package="s").spec == "."

    tooling = _project(tmp_path / "tooling", dependencies="")
    found = stores.resolve_store(None, tooling / "tests", core_package=CORE, default_package="market-data-store")
    assert found.requirement == "market-data-store" and found.path is None
    assert found.origin == f"newest on the index; the project at .. does not depend on {CORE}"
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    found = stores.resolve_store(None, nowhere, core_package=CORE, default_package="market-data-store")
    assert found.origin == "newest on the index; no Store project in the current directory or above it"


def test_the_configuration_is_the_enclosing_projects(tmp_path: Path) -> None:
    table = 'core-ref = ["./core", "1.4.61"]\ncontracts = ["tests/contracts"]\ngolden = "golden"\n'
    store = _project(tmp_path / "store", table=table)
    options = config.build({}, store / "tests", environ={})
    assert options.core_refs == ("../core", "1.4.61")  # a configured path ref names a place in the project
    assert options.contracts == ((store / "tests" / "contracts").resolve(),)
    assert options.golden == (store / "golden").resolve()
    flags = config.build({"contracts": ("contracts",)}, store / "tests", environ={})  # a flag: relative to cwd
    assert flags.contracts == ((store / "tests" / "contracts").resolve(),)
