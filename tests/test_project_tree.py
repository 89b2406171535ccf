"""The project-listing rule without git (a tree that is no checkout): the same answer as with git. Fast: a real
temporary tree, no process (tests/test_store_tree.py runs the same rule through git and the CLI)."""

from __future__ import annotations

import os
from pathlib import Path

from contract_check import fingerprint


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
