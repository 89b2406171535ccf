"""Settings: flags over [tool.contract-check] over the user's uv/pip configuration over defaults."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from contract_check import config
from contract_check.errors import UsageError
from contract_check.models import ExitCode
from contract_check.sources.index import IndexSettings
from contract_check.verdict import accept

FULL_TABLE = """
[project]
name = "market-data-store"
dependencies = ["pydantic>=2", "market_data_core>=1.4.61,<2.0.0", "not a requirement !!"]

[tool.contract-check]
core-package = "my-core"
core-git = "https://example.invalid/acme/core.git"
store = "../store"
contracts = ["tests/contracts", "/abs/contracts"]
python = "3.12"
timeout = 120
index-url = "https://mirror.example.invalid/simple"
find-links = ["wheels", "https://example.invalid/links/"]
strict = true
jobs = 3
core-ref = ["1.4.59", "1.4.60,git:main"]
core-range = ">=1.4,<2"
since-pin = true
with = ["jsonschema>=4"]
store-extras = ["dev"]
"""
SUITE_KEYS = """suite = "suites/mine"
golden = "golden"
against = "pin"

[[tool.contract-check.accept]]
check = "schema.*.queue_size.CONSTRAINT_TIGHTENED"
reason = "empty queues are never sent (ticket 42)"
until = 2027-06-30
"""


def write(project: Path, text: str) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    return project


def table(body: str, where: Path) -> dict[str, Any]:
    return config.tool_table(config.read_pyproject(write(where, "[tool.contract-check]\n" + body)), where)


def test_every_known_key(tmp_path: Path) -> None:
    project = write(tmp_path / "proj", FULL_TABLE + SUITE_KEYS)
    out = config.tool_table(config.read_pyproject(project), project)
    assert out == {
        "core_package": "my-core",
        "core_git": "https://example.invalid/acme/core.git",
        "store": str(tmp_path / "store"),
        "contracts": (project / "tests" / "contracts", Path("/abs/contracts")),
        "python": "3.12",
        "timeout": 120,
        "index_url": "https://mirror.example.invalid/simple",
        "find_links": (str(project / "wheels"), "https://example.invalid/links/"),
        "strict": True,
        "jobs": 3,
        "core_refs": ("1.4.59", "1.4.60", "git:main"),
        "core_range": ">=1.4,<2",
        "since_pin": True,
        "suite": project / "suites" / "mine",
        "golden": project / "golden",
        "with_": ("jsonschema>=4",),
        "store_extras": ("dev",),
        "against": "pin",
        "acceptances": (
            accept.Acceptance(
                "schema.*.queue_size.CONSTRAINT_TIGHTENED",
                "empty queues are never sent (ticket 42)",
                datetime.date(2027, 6, 30),
                "pyproject.toml [[tool.contract-check.accept]] #1",
            ),
        ),
    }
    assert set(out) == {spec.name for spec in config.by_key().values()}


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        ("market-data-store==0.6.73", "market-data-store==0.6.73"),
        (
            "market-data-store @ https://example.invalid/s.whl",
            "market-data-store @ https://example.invalid/s.whl",
        ),
        ("./store", "{tmp}/proj/store"),
        ("dist/store-0.6.73-py3-none-any.whl", "{tmp}/proj/dist/store-0.6.73-py3-none-any.whl"),
        ("/opt/store", "/opt/store"),
        # extras do not change the answer: the same rule as --store (refs.looks_like_path)
        ("dist/store-0.6.73-py3-none-any.whl[dev]", "{tmp}/proj/dist/store-0.6.73-py3-none-any.whl[dev]"),
        ("./store[dev, test]", "{tmp}/proj/store[dev, test]"),
        ("market-data-store[dev]==0.6.73", "market-data-store[dev]==0.6.73"),
    ],
)
def test_store_paths_are_made_absolute_requirements_are_not(store: str, expected: str, tmp_path: Path) -> None:
    out = table(f"store = {store!r}\n", tmp_path / "proj")
    assert out["store"] == expected.format(tmp=tmp_path)


def test_home_relative_paths_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    out = table('contracts = ["~/c"]\nfind-links = ["~/w"]\nstore = "~/s"\n', tmp_path / "proj")
    assert out["contracts"] == (tmp_path / "home" / "c",)
    assert out["find_links"] == (str(tmp_path / "home" / "w"),)
    assert out["store"] == str(tmp_path / "home" / "s")


def test_no_pyproject_or_no_table(tmp_path: Path) -> None:
    assert config.read_pyproject(tmp_path) is None
    assert config.tool_table(None, tmp_path) == {}
    assert config.tool_table({"project": {"name": "x"}}, tmp_path) == {}
    assert config.tool_table({"tool": {"ruff": {}}}, tmp_path) == {}


def test_table_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\[tool.contract-check\] in .*pyproject.toml must be a table"):
        config.tool_table({"tool": {"contract-check": ["x"]}}, tmp_path)


def test_unknown_key_names_it_and_lists_known_keys(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        table('core_ref = "1.4.55"\n', tmp_path)
    err = info.value
    assert err.exit_code == ExitCode.USAGE == 2
    assert "unknown key 'core_ref' in [tool.contract-check]" in err.message
    assert str(tmp_path / "pyproject.toml") in err.message
    assert err.tip == (
        "known keys: accept, against, contracts, core-git, core-package, core-range, core-ref, find-links, golden, "
        "index-url, jobs, python, since-pin, store, store-extras, strict, suite, timeout, with"
    )


@pytest.mark.parametrize(
    ("line", "key", "wanted", "got"),
    [
        ('timeout = "30"', "timeout", "a number", "str '30'"),
        ("timeout = true", "timeout", "a number", "bool True"),
        ("jobs = true", "jobs", "an integer", "bool True"),
        ("jobs = 2.5", "jobs", "an integer", "float 2.5"),
        ("contracts = [1, 2]", "contracts", "a list of strings", "list [1, 2]"),
        ('contracts = "tests/contracts"', "contracts", "a list of strings", "str 'tests/contracts'"),
        ('find-links = ["a", 3]', "find-links", "a list of strings", "list ['a', 3]"),
        ('strict = "yes"', "strict", "true or false", "str 'yes'"),
        ("strict = 1", "strict", "true or false", "int 1"),
        ("core-package = 7", "core-package", "a string", "int 7"),
    ],
)
def test_wrong_types_name_key_and_type(line: str, key: str, wanted: str, got: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        table(line + "\n", tmp_path)
    assert info.value.message == (
        f"[tool.contract-check] {key} in {tmp_path / 'pyproject.toml'} must be {wanted}, not {got}"
    )


def test_float_timeout_is_fine(tmp_path: Path) -> None:
    assert table("timeout = 2.5\n", tmp_path) == {"timeout": 2.5}


def test_invalid_toml_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "[tool.contract-check\ntimeout = 3\n")
    with pytest.raises(UsageError, match=r"pyproject.toml is not valid TOML") as info:
        config.read_pyproject(tmp_path)
    assert info.value.exit_code == 2
    assert info.value.tip == "fix the file or pass --store"
    with pytest.raises(UsageError, match="not valid TOML"):
        config.build({"core_refs": ("1.0",)}, tmp_path, environ={})


def test_non_utf8_toml_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "\xff"\n')
    with pytest.raises(UsageError, match="not valid TOML"):
        config.read_pyproject(tmp_path)


# -------------------------------------------------------------------------------------------------- build


def test_build_defaults_without_config(tmp_path: Path) -> None:
    options = config.build({"core_refs": ("1.4.55",), "store": None, "jobs": None}, tmp_path, environ={})
    assert options.core_refs == ("1.4.55",)
    assert options.core_package == "market-data-core"
    assert options.core_git == "https://github.com/mjdevaccount/market-data-core.git"  # from the built-in suite
    assert options.store_package == "market-data-store"
    assert options.timeout == config.DEFAULT_TIMEOUT
    assert options.jobs >= 1
    assert (options.store, options.index_url, options.strict, options.contracts) == (None, None, False, ())
    assert options.index == IndexSettings(None, (), False)


def test_flags_override_config(tmp_path: Path) -> None:
    project = write(tmp_path / "proj", FULL_TABLE)
    (project / "tests" / "contracts").mkdir(parents=True)
    flags = {
        "core_refs": ("latest",),
        "core_package": "other-core",
        "timeout": 5.0,
        "jobs": 1,
        "index_url": "https://flag.example.invalid/simple",
        "contracts": (project / "tests" / "contracts",),
        "find_links": (),  # not given
        "store": None,  # not given
        "strict": None,  # not given
        "offline": True,
    }
    options = config.build(flags, project, environ={"UV_INDEX_URL": "https://env.example.invalid/simple"})
    assert options.core_package == "other-core"
    assert (options.timeout, options.jobs) == (5.0, 1)
    assert options.index_url == "https://flag.example.invalid/simple"
    assert options.contracts == (project / "tests" / "contracts",)
    # not given on the command line: the config's values stay
    assert options.store == str(tmp_path / "store")
    assert options.strict is True
    assert options.find_links == (str(project / "wheels"), "https://example.invalid/links/")
    assert options.core_git == "https://example.invalid/acme/core.git"
    assert options.index == IndexSettings(
        "https://flag.example.invalid/simple",
        (str(project / "wheels"), "https://example.invalid/links/"),
        True,
    )


def test_config_contracts_must_exist(tmp_path: Path) -> None:
    project = write(tmp_path / "proj", FULL_TABLE)
    with pytest.raises(UsageError, match=r"--contracts path does not exist: .*/proj/tests/contracts") as info:
        config.build({"core_refs": ("1.0",)}, project, environ={})
    assert info.value.tip == "give a pytest file or directory"


def test_flag_contracts_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--contracts path does not exist") as info:
        config.build({"core_refs": ("1.0",), "contracts": (tmp_path / "nope",)}, tmp_path, environ={})
    assert info.value.exit_code == 2


@pytest.mark.parametrize("timeout", [0, -1, 0.0, float("nan"), float("inf")])
def test_timeout_must_be_positive_and_finite(timeout: float, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--timeout must be a positive number of seconds") as info:
        config.build({"core_refs": ("1.0",), "timeout": timeout}, tmp_path, environ={})
    assert info.value.exit_code == 2


@pytest.mark.parametrize("body", ["timeout = 0", "timeout = -3.5", "timeout = nan", "timeout = inf"])
def test_timeout_from_config_is_checked_too(body: str, tmp_path: Path) -> None:
    write(tmp_path, f"[tool.contract-check]\n{body}\n")
    with pytest.raises(UsageError, match="--timeout must be a positive number"):
        config.build({"core_refs": ("1.0",)}, tmp_path, environ={})


@pytest.mark.parametrize("jobs", [0, -2])
def test_jobs_at_least_one(jobs: int, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"--jobs must be at least 1, not {jobs}"):
        config.build({"core_refs": ("1.0",), "jobs": jobs}, tmp_path, environ={})


# --------------------------------------------------------------------------------- index configuration


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"PIP_INDEX_URL": "https://pip.example.invalid/simple"}, "https://pip.example.invalid/simple"),
        (
            {
                "PIP_INDEX_URL": "https://pip.example.invalid/simple",
                "UV_INDEX_URL": "https://uv.example.invalid/s",
            },
            "https://uv.example.invalid/s",
        ),
        (
            {
                "UV_INDEX_URL": "https://uv.example.invalid/s",
                "UV_DEFAULT_INDEX": "https://d.example.invalid/s",
            },
            "https://d.example.invalid/s",
        ),
        ({"UV_DEFAULT_INDEX": ""}, None),
    ],
)
def test_index_url_from_uv_or_pip_configuration(environ: dict[str, str], expected: str | None, tmp_path: Path) -> None:
    assert config.build({"core_refs": ("1.0",)}, tmp_path, environ=environ).index_url == expected


def test_index_url_from_config_beats_the_environment(tmp_path: Path) -> None:
    write(tmp_path, '[tool.contract-check]\nindex-url = "https://cfg.example.invalid/simple"\n')
    options = config.build({"core_refs": ("1.0",)}, tmp_path, environ={"UV_INDEX_URL": "https://env.example.invalid/"})
    assert options.index_url == "https://cfg.example.invalid/simple"


def test_build_reads_the_process_environment_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip.example.invalid/simple")
    assert config.build({"core_refs": ("1.0",)}, tmp_path).index_url == "https://pip.example.invalid/simple"


# ------------------------------------------------------------------------------------------- depends_on


@pytest.mark.parametrize(
    ("dependencies", "package", "expected"),
    [
        (["pydantic>=2", "market_data_core>=1.4.61,<2.0.0"], "market-data-core", "<2.0.0,>=1.4.61"),
        (["Market.Data.Core"], "market-data-core", ""),
        (["market-data-core[extra]==1.4.55; python_version >= '3.11'"], "market-data-core", "==1.4.55"),
        (["pydantic>=2"], "market-data-core", None),
        (["not a requirement !!", 42, "market-data-core~=1.4"], "market-data-core", "~=1.4"),
        ([], "market-data-core", None),
    ],
)
def test_depends_on(dependencies: list[Any], package: str, expected: str | None) -> None:
    assert config.depends_on({"project": {"dependencies": dependencies}}, package) == expected


def test_depends_on_without_a_project() -> None:
    assert config.depends_on(None, "market-data-core") is None
    assert config.depends_on({"tool": {}}, "market-data-core") is None
