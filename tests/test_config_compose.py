"""``config.compose``'s steps, each driven directly: merge (flags > config > the index configured for uv/pip,
with where each value came from), normalise (paths, seconds, the accept file), from_suite (the suite's
defaults) and validate (what messages name). ``build`` end to end is in test_config.py."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_check import config
from contract_check.config.compose import Merged, from_suite, merge, normalise, validate
from contract_check.errors import UsageError
from contract_check.verdict import accept


def _kinds(merged: Merged) -> dict[str, str]:
    return {name: origin.kind for name, origin in merged.origins.items()}


def test_a_flag_wins_over_the_config_and_the_config_over_the_environment() -> None:
    merged = merge(
        {"timeout": 5.0, "strict": None, "with_": ()},
        {"timeout": 9, "strict": True, "index_url": "https://config.invalid/simple"},
        {"UV_INDEX_URL": "https://env.invalid/simple"},
    )
    assert merged.values == {"timeout": 5.0, "strict": True, "index_url": "https://config.invalid/simple"}
    assert _kinds(merged) == {"timeout": "flag", "strict": "config", "index_url": "config"}
    assert merged.label("timeout") == "--timeout" and merged.label("strict") == "[tool.contract-check] strict"
    assert merged.label("with_") == "--with"  # not given: named by its flag


def test_the_index_from_the_environment_is_the_first_variable_set() -> None:
    environ = {"PIP_INDEX_URL": "https://pip.invalid/", "UV_INDEX_URL": "https://uv.invalid/"}
    merged = merge({}, {}, environ)
    assert merged.values == {"index_url": "https://uv.invalid/"} and merged.label("index_url") == "$UV_INDEX_URL"
    assert merge({"index_url": "https://flag.invalid/"}, {}, environ).label("index_url") == "--index-url"


def test_one_flag_of_the_ref_choice_replaces_the_configured_choice_whole() -> None:
    table = {"core_refs": ("1.0",), "since_pin": True, "strict": True}
    assert merge({"core_range": ">=2"}, table, {}).values == {"core_range": ">=2", "strict": True}
    assert merge({"core_range": None}, table, {}).values == table


def test_a_blank_range_is_no_range_and_is_remembered() -> None:
    merged = merge({"core_range": "  "}, {"core_range": "", "core_refs": ("1.0",)}, {})
    assert merged.values == {"core_refs": ("1.0",)}
    assert merged.blank == ("--core-range '  '", "[tool.contract-check] core-range ''")


def test_flag_text_is_checked_as_it_enters() -> None:
    with pytest.raises(UsageError, match=r"^--contracts .* holds a NUL byte"):
        merge({"contracts": (Path("a\x00b"),)}, {}, {})


SCALARS = ("timeout", "jobs", "strict", "python")
value = st.one_of(st.none(), st.integers(1, 9))


@settings(max_examples=30, deadline=None)
@given(
    flags=st.fixed_dictionaries({k: value for k in SCALARS}), table=st.fixed_dictionaries({k: value for k in SCALARS})
)
def test_each_value_comes_from_the_first_place_that_gives_it(flags: dict[str, Any], table: dict[str, Any]) -> None:
    table = {k: v for k, v in table.items() if v is not None}
    merged = merge(flags, table, {})
    for name in SCALARS:
        if flags[name] is not None:
            assert (merged.values[name], _kinds(merged)[name]) == (flags[name], "flag")
        elif name in table:
            assert (merged.values[name], _kinds(merged)[name]) == (table[name], "config")
        else:
            assert name not in merged.values and name not in merged.origins


def test_normalise_makes_a_flags_paths_absolute_from_the_cwd(tmp_path: Path) -> None:
    merged = merge(
        {"contracts": (Path("c"),), "find_links": ("w", "https://x.invalid/"), "python": "./py", "timeout": 3},
        {},
        {},
    )
    out = normalise(merged, tmp_path, config_dir=None, subjects=lambda: []).values
    assert out["contracts"] == (tmp_path / "c",) and out["find_links"] == (str(tmp_path / "w"), "https://x.invalid/")
    assert out["python"] == str(tmp_path / "py") and out["timeout"] == 3.0 and isinstance(out["timeout"], float)
    assert normalise(merge({"python": "3.12"}, {}, {}), tmp_path, config_dir=None, subjects=list).values == {
        "python": "3.12"
    }


def test_normalise_reexpresses_the_configs_relative_refs_from_the_cwd(tmp_path: Path) -> None:
    here = tmp_path / "proj" / "tests"
    here.mkdir(parents=True)
    configured = merge({}, {"core_refs": ("../core", "1.0", "/abs/core")}, {})
    out = normalise(configured, here, config_dir=tmp_path / "proj", subjects=list).values
    assert out["core_refs"] == ("../../core", "1.0", "/abs/core")
    typed = merge({"core_refs": ("../core",)}, {}, {})  # a flag is relative to the cwd already
    assert normalise(typed, here, config_dir=tmp_path / "proj", subjects=list).values["core_refs"] == ("../core",)


def test_normalise_appends_the_accept_files_entries_after_the_configs(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[accept]]\ncheck = "b.*"\nreason = "r"\nuntil = 2099-01-01\n')
    first = accept.Acceptance("a.*", "r", datetime.date(2099, 1, 1), "pyproject")
    merged = merge({"accept_file": Path("a.toml")}, {"acceptances": (first,)}, {})
    out = normalise(merged, tmp_path, config_dir=None, subjects=list).values
    assert out["accept_file"] == tmp_path / "a.toml" and [a.check for a in out["acceptances"]] == ["a.*", "b.*"]


def _suite(where: Path, head: str) -> Path:
    where.mkdir()
    (where / "suite.toml").write_text(f'[suite]\nname = "mine"\n{head}\n')
    return where


def test_the_suite_gives_what_nothing_else_set(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "s", 'core-package = "acme-core"\ncore-git = "https://x.invalid/c.git"')
    out = from_suite(merge({"suite": suite, "core_package": "other-core"}, {}, {}))
    assert out.values["core_package"] == "other-core" and out.values["core_git"] == "https://x.invalid/c.git"
    assert out.origins["core_git"].kind == "suite" and "store_package" not in out.values  # the suite names none


def test_validate_names_where_the_value_came_from(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "s", 'core-package = "acme-core"\ncore-git = "-x"')
    merged = from_suite(merge({"suite": suite}, {"store": "-e"}, {}))
    with pytest.raises(UsageError, match=r"^suite 'mine' core-git '-x' starts with '-'"):
        validate(config.Options(**merged.values), merged)
    fixed = from_suite(merge({"suite": suite, "core_git": "https://x.invalid/c.git"}, {"store": "-e"}, {}))
    with pytest.raises(UsageError, match=r"^\[tool.contract-check\] store '-e' starts with '-'"):
        validate(config.Options(**fixed.values), fixed)


def test_validate_says_a_blank_range_was_all_that_was_asked(tmp_path: Path) -> None:
    merged = from_suite(merge({"core_range": ""}, {}, {}))
    with pytest.raises(UsageError, match=r"^--core-range '' is blank, which means no range"):
        validate(config.Options(**merged.values), merged)
    asked = from_suite(merge({"core_range": "", "since_pin": True}, {}, {}))
    validate(config.Options(**asked.values), asked)
