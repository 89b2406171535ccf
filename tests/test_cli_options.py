"""Every option is declared once (``config.Options`` fields, ``cli.options.COMMAND_ONLY``) and reachable exactly as
declared: each command's typer parameters are the registry's, a flag sets its Options field through the real
command line, a ``[tool.contract-check]`` key sets it through the real config file, ``-h`` lists it, and a
message about a value names the flag or key it came from. Fast: in-process, no sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

import contract_check.suite as suites
from contract_check import config
from contract_check.cli import app, options
from contract_check.errors import UsageError
from contract_check.verdict import accept

COMMANDS = ("check", "snapshot", "bump", "plan", "list", "merge", "cache info", "cache clear", "cache prune")
TYPER_OWN = {"help", "install_completion", "show_completion"}  # typer adds these itself
ONE_REF = {"snapshot", "bump"}  # --core-ref REF is required (one value)


def _tree() -> dict[str, Any]:
    """Every command of the real click tree by its name ("cache prune"), and the root group as ""."""
    root = typer.main.get_command(app.app)
    found: dict[str, Any] = {"": root}

    def walk(group: Any, prefix: str) -> None:
        for name, cmd in group.commands.items():
            found[f"{prefix}{name}"] = cmd
            if hasattr(cmd, "commands"):
                walk(cmd, f"{prefix}{name} ")

    walk(root, "")
    return found


def _params(cmd: Any) -> dict[str, Any]:
    return {p.name: p for p in cmd.params if p.name not in TYPER_OWN}


def test_every_command_parameter_is_a_declared_option_with_its_declared_flags() -> None:
    used: set[str] = set()
    for name, cmd in _tree().items():
        for param_name, param in _params(cmd).items():
            assert param_name in options.REGISTRY, f"{name}: {param.opts} is not declared in the registry"
            spec = options.REGISTRY[param_name]
            declared = [f for flag in spec.flags for f in flag.split("/")]
            assert [*param.opts, *getattr(param, "secondary_opts", [])] == (declared or [param_name])
            assert (param.param_type_name == "argument") is spec.positional
            used.add(param_name)
    by_command = {n for n, s in options.REGISTRY.items() if s.flags or s.positional}
    assert used == by_command, f"declared with a flag but taken by no command: {sorted(by_command - used)}"


def test_every_setting_is_reachable_and_every_field_is_declared() -> None:
    fields = {f for f in config.Options.__dataclass_fields__}
    assert set(config.settings()) == fields
    for name, spec in config.settings().items():
        assert spec.flags or spec.key or spec.suite, f"Options.{name} is set by no flag, key or suite"
    assert not set(options.COMMAND_ONLY) & fields
    keys = [s.key for s in config.settings().values() if s.key]
    assert len(keys) == len(set(keys)) and set(config.by_key()) == set(keys)


# --------------------------------------------------------------------------------- flags, end to end


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory to run in: a contract file, a wheel directory and an accept file the samples name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c_test.py").write_text("def test_x():\n    pass\n")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "accept.toml").write_text('[[accept]]\ncheck = "x.*"\nreason = "ticket 1"\nuntil = 2099-01-01\n')
    return tmp_path


def flag_samples(where: Path) -> dict[str, tuple[list[str], Any]]:
    """Per setting with a flag: what is typed, and the Options value it must give (from what was typed)."""
    builtin = suites.builtin().directory
    return {
        "core_refs": (["--core-ref", "1.0,2.0", "--core-ref", "3.0"], ("1.0", "2.0", "3.0")),
        "store": (["--store", "market-data-store==0.6.73"], "market-data-store==0.6.73"),
        "core_package": (["--core-package", "acme-core"], "acme-core"),
        "core_git": (["--core-git", "https://example.invalid/core.git"], "https://example.invalid/core.git"),
        "suite": (["--suite", str(builtin)], builtin.resolve()),
        "golden": (["--golden", "golden"], where / "golden"),
        "with_": (["--with", "a>=1", "--with", "b"], ("a>=1", "b")),
        "against": (["--against", "1.0"], "1.0"),
        "accept_file": (["--accept", "accept.toml"], where / "accept.toml"),
        "contracts": (["--contracts", "c_test.py"], (where / "c_test.py",)),
        "python": (["--python", "3.11"], "3.11"),
        "index_url": (["--index-url", "https://example.invalid/simple"], "https://example.invalid/simple"),
        "find_links": (["--find-links", "wheels"], (str(where / "wheels"),)),
        "offline": (["--offline"], True),
        "strict": (["--strict"], True),
        "jobs": (["--jobs", "3"], 3),
        "timeout": (["--timeout", "12"], 12.0),
        "keep_venv": (["--keep-venv"], True),
        "no_cache": (["--no-cache"], True),
        "core_range": (["--core-range", ">=1"], ">=1"),
        "pre": (["--pre"], True),
        "since_pin": (["--since-pin"], True),
        "verbose": (["-v", "--verbose"], 2),
    }


class _Built(Exception):
    pass


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str]], config.Options]]:
    """Run the real command line on *argv* and return the Options its command built (then stop it there)."""
    seen: list[config.Options] = []
    real = config.build

    def capture(flags: dict[str, Any], cwd: Path, **kw: Any) -> config.Options:
        seen.append(real(flags, cwd, **kw))
        raise _Built

    monkeypatch.setattr(app.config, "build", capture)

    def run(argv: list[str]) -> config.Options:
        seen.clear()
        code = app.run(argv)
        assert seen, f"{argv}: exit {code} before the options were built"
        return seen[0]

    yield run


def _uses(command: str) -> list[str]:
    return [name for name in _params(_tree()[command]) if name in config.settings()]


@pytest.mark.parametrize("command", ["check", "snapshot", "bump", "plan"])
def test_every_flag_sets_its_option(command: str, place: Path, built: Callable[[list[str]], config.Options]) -> None:
    samples = flag_samples(place.resolve())
    head = [command, *(["--core-ref", "1.0"] if command in ONE_REF else [])]
    default = built(head)
    for name in _uses(command):
        assert name in samples, f"give --{name} a sample in flag_samples"
        typed, expected = samples[name]
        if name == "core_refs" and command in ONE_REF:
            typed, expected = ["--core-ref", "9.9"], ("9.9",)
        got = getattr(built([command, *typed] if name == "core_refs" else [*head, *typed]), name)
        assert got == expected and got != getattr(default, name), f"{command} {typed}: {name} = {got!r}"


def test_every_key_sets_its_option(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "wheels").mkdir(parents=True)
    (project / "c_test.py").write_text("def test_x():\n    pass\n")
    builtin = suites.builtin().directory
    samples: dict[str, tuple[str, Any]] = {
        "core-ref": ('["1.0", "2.0,3.0"]', ("1.0", "2.0", "3.0")),
        "store": ('"market-data-store==0.6.73"', "market-data-store==0.6.73"),
        "core-package": ('"acme-core"', "acme-core"),
        "core-git": ('"https://example.invalid/core.git"', "https://example.invalid/core.git"),
        "suite": (f'"{builtin}"', builtin.resolve()),
        "golden": ('"golden"', project / "golden"),
        "with": ('["a>=1"]', ("a>=1",)),
        "store-extras": ('["dev"]', ("dev",)),
        "against": ('"1.0"', "1.0"),
        "contracts": ('["c_test.py"]', (project / "c_test.py",)),
        "python": ('"3.11"', "3.11"),
        "index-url": ('"https://example.invalid/simple"', "https://example.invalid/simple"),
        "find-links": ('["wheels"]', (str(project / "wheels"),)),
        "strict": ("true", True),
        "jobs": ("3", 3),
        "timeout": ("12", 12.0),
        "core-range": ('">=1"', ">=1"),
        "since-pin": ("true", True),
        "accept": (
            '[{check = "x.*", reason = "ticket 1", until = 2099-01-01}]',
            (
                accept.Acceptance(
                    "x.*", "ticket 1", __import__("datetime").date(2099, 1, 1), f"{accept.PYPROJECT_ORIGIN} #1"
                ),
            ),
        ),
    }
    default = config.build({}, tmp_path, environ={})
    for key, spec in config.by_key().items():
        assert key in samples, f"give {key} a sample in test_every_key_sets_its_option"
        text, expected = samples[key]
        (project / "pyproject.toml").write_text(f"[tool.contract-check]\n{key} = {text}\n")
        got = getattr(config.build({}, project, environ={}), spec.name)
        assert got == expected and got != getattr(default, spec.name), f"{key} = {text}: {spec.name} = {got!r}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_option_of_the_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert app.run([*command.split(), "-h"]) == 0
    text = "".join(capsys.readouterr().out.split())  # the help wraps anywhere between words
    for name, param in _params(_tree()[command]).items():
        spec = options.REGISTRY[name]
        shown = [*(spec.flags or ()), spec.metavar or "", spec.help if name != "core_refs" else ""]
        for part in shown:
            assert "".join(part.split()) in text, f"{command} -h does not show {part!r} ({param.opts})"


def test_a_message_names_the_flag_or_the_key_the_value_came_from(tmp_path: Path) -> None:
    """Seen: a bad --accept value was called '--accept-file', a flag that does not exist."""
    for name, spec in config.settings().items():
        if not spec.flags or spec.element not in (str, Path):
            continue
        bad = "x\udcff"  # bytes that were not UTF-8, as the command line holds them
        value = (bad,) if spec.repeatable else bad
        with pytest.raises(UsageError) as info:
            config.build({name: value}, tmp_path, environ={})
        assert info.value.message.startswith(f"{spec.flag} "), info.value.message
    (tmp_path / "pyproject.toml").write_text('[tool.contract-check]\nindex-url = "-x"\n')
    with pytest.raises(UsageError, match=r"^\[tool.contract-check\] index-url '-x' starts with '-'"):
        config.build({}, tmp_path, environ={})
