"""The throwaway environment: a temp dir, a uv virtualenv, the Store plus Core at the ref, pytest.

``Sandbox`` is a context manager with two implementations (a fresh venv, a clone of a base environment): the
temp dir goes away on success, failure, timeout and interrupt alike (``keep`` keeps it and says where). uv is
found once; the child environment is scrubbed (what is dropped, and why, is data below).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from contract_check.errors import EnvironmentProblem, from_os_error
from contract_check.sandbox import pythons, venvcheck
from contract_check.sandbox.pythons import NO_DOWNLOADS
from contract_check.sources.index import IndexSettings
from contract_check.util import proc

# What reaches a child: the caller's environment minus everything that can change what gets installed or how
# the contracts run. Dropped, and why:
_SCRUB = {
    "VIRTUAL_ENV",  # uv would install into the caller's venv instead of the sandbox
    "CONDA_PREFIX",  # same, for conda
    "__PYVENV_LAUNCHER__",  # macOS framework builds: would point the interpreter elsewhere
}
_SCRUB_PREFIXES = (
    "PYTHON",  # PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONWARNINGS, PYTHONSAFEPATH, ...: the interpreter's
    # behaviour (the sandbox interpreter also runs with -I, which ignores them; uv's probes do not)
    "PYTEST_",  # PYTEST_ADDOPTS, PYTEST_PLUGINS, PYTEST_DISABLE_PLUGIN_AUTOLOAD, ...: what the contracts do
    "PIP_",  # pip configuration means nothing to uv and must not reach the contracts
    "UV_",  # uv settings (overrides, constraints, indexes, resolution, link mode, Python): passed explicitly;
    # the exceptions below only change where things come from or how fast, never what
)
# uv variables that pass through: cache location, credentials, network and TLS, speed, output
_UV_KEEP = {
    "UV_CACHE_DIR",
    "UV_KEYRING_PROVIDER",
    "UV_NATIVE_TLS",
    "UV_INSECURE_HOST",
    "UV_HTTP_TIMEOUT",
    "UV_REQUEST_TIMEOUT",
    "UV_HTTP_RETRIES",
    "UV_CONCURRENT_DOWNLOADS",
    "UV_CONCURRENT_BUILDS",
    "UV_CONCURRENT_INSTALLS",
    "UV_NO_PROGRESS",
    # extra indexes the user configured for uv: where packages come from; part of the result cache's key
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
}
_UV_KEEP_PATTERN = re.compile(r"UV_INDEX_[A-Z0-9_]+_(?:USERNAME|PASSWORD)")  # credentials of a named index

# Inherited variables that still reach the contracts and can change a verdict: their values are part of the
# result cache's key (an explicit list, so that CI runs with other unrelated variables still hit).
VERDICT_VARIABLES = (
    *("TZ", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME"),
    *("UV_INDEX", "UV_EXTRA_INDEX_URL"),
)


def _kept(name: str) -> bool:
    if name in _SCRUB:
        return False
    if name.startswith("UV_"):
        return name in _UV_KEEP or bool(_UV_KEEP_PATTERN.fullmatch(name))
    return not name.startswith(_SCRUB_PREFIXES)


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if _kept(k)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    env.update(extra or {})
    return env


def verdict_environment() -> dict[str, str]:
    """The values of ``VERDICT_VARIABLES`` in this process (for the result cache's key)."""
    return {name: os.environ[name] for name in VERDICT_VARIABLES if name in os.environ}


@cache
def find_uv() -> str:
    """uv's binary: ``$UV``, then the ``uv`` package's, then PATH. Looked up once."""
    explicit = os.environ.get("UV")
    if explicit:
        if shutil.which(explicit) is None:
            raise EnvironmentProblem(
                f"$UV is set to {explicit!r}, which is not an executable",
                tip="unset UV or point it at a uv binary",
                kind="uv",
            )
        return explicit
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise EnvironmentProblem("uv was not found", tip="install it: pip install uv", kind="uv")
    return found


# uv's words for a package no index, find-links directory or cache offers at all (uv wraps its own lines)
_NO_PACKAGE = re.compile(
    r"(\S+) was\s+not\s+found\s+in\s+the\s+(package\s+registry|cache|provided\s+package\s+locations)", re.I
)
_NOWHERE = {  # where uv looked, in the tool's words
    "package registry": "on the package index or in --find-links",
    "cache": "in uv's cache or --find-links (--offline)",
    "provided package locations": "in --find-links",
}
_NOT_FOUND = (
    re.compile(r"there is no version of (\S+)", re.I),
    _NO_PACKAGE,
    re.compile(r"(?:couldn't find remote ref|did not match any|not a valid object|unknown revision)", re.I),
    re.compile(r"failed to (?:find|resolve) (?:commit|reference|ref|branch|tag)", re.I),
)
_NETWORK = re.compile(
    r"(?:dns error|failed to lookup address|connection refused|error sending request|tcp connect error|"
    r"network is unreachable|operation timed out|could not connect|request failed after)",
    re.I,
)
_BUILD = re.compile(r"(?:failed to build|build backend|failed to prepare|does not appear to be a python project)", re.I)
# a wheel or sdist that is empty, truncated or no package at all: uv may word it as a resolution failure
_DAMAGED = re.compile(
    r"(?:invalid package format|structure of \S+ \(v\S+\) was invalid|failed to read from zip file|"
    r"end of central directory|no \.dist-info directory|failed to extract archive|invalid (?:tar|zip) file|"
    r"invalid gzip header)",
    re.I,
)


def classify_install_failure(output: str, core: Collection[str] | None = None) -> str:
    """ref-not-found | package-not-found | network | damaged-artifact | build | resolution | uv, from uv's own
    words. *core*: the names of the Core packages being checked (None: unknown); a missing version of any other
    package (the Store, a --with requirement, a dependency) is "package-not-found", not the Core ref's fault."""
    missing = missing_package(output)
    if (
        missing is not None
        and core is not None
        and canonicalize_name(missing) not in {canonicalize_name(c) for c in core}
    ):
        return "package-not-found"
    if any(p.search(output) for p in _NOT_FOUND):
        return "ref-not-found"
    if _NETWORK.search(output):
        return "network"
    if _DAMAGED.search(output):
        return "damaged-artifact"
    if _BUILD.search(output):
        return "build"
    if re.search(r"no solution found|we can conclude|unsatisfiable", output, re.I):
        return "resolution"
    return "uv"


def missing_package(output: str) -> str | None:
    """The package uv says has no such version ("there is no version of acme-store==9.9.9" -> "acme-store") or
    does not know at all ("nope-pkg was not found in the package registry" -> "nope-pkg")."""
    found = _NOT_FOUND[0].search(output) or _NO_PACKAGE.search(output)
    name = re.match(r"[A-Za-z0-9._-]+", found[1].strip("`'\"")) if found else None
    return name[0].rstrip(".") if name else None


def unknown_package(output: str) -> str | None:
    """What uv says in the tool's words when no source offers a package at all (not merely the version asked
    for): 'nope-pkg was not found on the package index or in --find-links'; None otherwise."""
    found = _NO_PACKAGE.search(output)
    name = missing_package(output) if found else None
    if found is None or name is None:
        return None
    return f"{name} was not found {_NOWHERE[' '.join(found[2].lower().split())]}"


_TIPS = {
    "ref-not-found": "check the ref: list versions with --core-ref latest, or use git:TAG for unreleased tags",
    "network": "check the network and --index-url, or retry with --offline when everything is cached",
    "damaged-artifact": "a package file is damaged or is not a wheel or sdist (empty, cut short, or another kind "
    "of archive); the lines above name it: rebuild or download it again",
    "build": "the package failed to build; the lines above are the build's own error",
    "resolution": "the Store's other requirements conflict with this Core; the lines above say which",
    "uv": "run with -v to see uv's full output",
}


def install_tip(kind: str, output: str = "") -> str:
    """What to do about an install failure of this kind (``classify_install_failure``) and this uv output."""
    if kind == "package-not-found":
        name = missing_package(output) or "a package"
        if unknown_package(output):
            return f"check the name {name}: given in --store or --with, or a requirement of the Store"
        return (
            f"{name} has no such version on the index or --find-links: check the version given in --store, "
            "--with or the Store's own requirements"
        )
    return _TIPS.get(kind, _TIPS["uv"])


@dataclass(frozen=True)
class SandboxSettings:
    """What every sandbox of one invocation shares."""

    python: str | None
    index: IndexSettings
    timeout: float
    keep: bool = False  # --keep-venv: leave the temp dir behind (and say where)


class Sandbox:
    """A temp dir holding a uv venv; ``install`` puts the Store, Core and pytest in it.

    How the venv comes to be is a subclass's ``_create``: ``FreshSandbox`` (``uv venv``) or ``ClonedSandbox``
    (a hard-link clone of a prepared base environment). The temp dir goes away on success, failure, timeout
    and interrupt alike, unless ``keep``.
    """

    cloned = False

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.python = settings.python or sys.executable
        self.index = settings.index
        self.timeout = settings.timeout
        self.keep = settings.keep
        self.uv = find_uv()
        self.root = Path()
        self.phases: dict[str, float] = {}
        self.install_log = ""
        self._pyvenv: venvcheck.Identity | None = None  # the venv as created

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def interpreter(self) -> Path:
        return venvcheck.interpreter(self.venv)

    def _create(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Sandbox:
        # Python would quietly fall back to /tmp (or the cwd) for a TMPDIR that is missing or read-only
        wanted = os.environ.get("TMPDIR") or None
        if wanted:  # a relative TMPDIR means the current directory's, not the sandbox's (children run there)
            wanted = os.path.abspath(wanted)
        if wanted and not (os.path.isdir(wanted) and os.access(wanted, os.W_OK | os.X_OK)):
            raise EnvironmentProblem(
                f"TMPDIR is {wanted!r}, which is not a writable directory",
                tip="create it, or point TMPDIR at a writable directory",
            )
        try:
            self.root = Path(tempfile.mkdtemp(prefix="contract-check-", dir=wanted))
        except OSError as exc:
            where = os.path.dirname(exc.filename) if isinstance(exc.filename, str) else wanted or "the temp directory"
            raise EnvironmentProblem(
                f"could not create a temporary directory in {where}: {exc.strerror or exc}",
                tip="free disk space or point TMPDIR at a writable directory",
            ) from None
        try:
            self._create()
            self._pyvenv = venvcheck.identity(self.venv)
            self.verify_venv()
        except BaseException:
            self.close()
            raise
        if self.keep:
            logging.getLogger("contract_check").warning("keeping the sandbox at %s", self.root)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self.keep and self.root != Path() and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def verify_venv(self) -> None:
        """EnvironmentProblem unless the venv is still the one this sandbox created (``venvcheck``)."""
        venvcheck.verify(self.venv, self._pyvenv)

    def warm(self, modules: list[str]) -> None:
        """Import *modules* once with bytecode writing on, so clones of this venv start with it compiled."""
        self.verify_venv()
        code = "import importlib, sys\nfor m in sys.argv[1:]:\n    try:\n        importlib.import_module(m)\n"
        code += "    except Exception:\n        pass\n"
        env = scrubbed_env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        done = proc.run(
            [self.interpreter, "-c", code, *modules], env=env, cwd=self.root, timeout=self.timeout, what="warm-up"
        )
        self.phases["warm"] = round(done.duration_s, 3)

    def uninstall(self, package: str) -> None:
        self._uv("uninstall", ["pip", "uninstall", "--no-config", "--python", str(self.interpreter), package])

    def _uv(self, phase: str, args: list[str], what: str = "") -> proc.Completed:
        return self._raise_for(phase, self._run_uv(phase, args, what))

    def _run_uv(self, phase: str, args: list[str], what: str = "") -> proc.Completed:
        into_venv = args[0] == "pip"  # installs or uninstalls: only ever into this sandbox's venv
        if into_venv:
            self.verify_venv()
        done = proc.run(
            [self.uv, *args],
            env=scrubbed_env({"VIRTUAL_ENV": str(self.venv)} if into_venv else None),
            cwd=self.root,
            timeout=self.timeout,
            what=what or f"uv {phase}",
        )
        self.phases[phase] = round(self.phases.get(phase, 0.0) + done.duration_s, 3)
        if into_venv:
            self.verify_venv()
        return done

    def _raise_for(self, phase: str, done: proc.Completed, core: Collection[str] | None = None) -> proc.Completed:
        if not done.ok:
            output = done.stderr + done.stdout
            kind = "uv" if phase == "venv" else classify_install_failure(output, core)
            nowhere = unknown_package(output) if kind == "package-not-found" else None
            message = f"uv {phase} failed ({nowhere or kind.replace('-', ' ')}):\n{done.tail()}"
            raise EnvironmentProblem(message, tip=install_tip(kind, output), kind=kind)
        return done

    def install(
        self,
        requirements: list[str],
        overrides: list[str],
        *,
        immutable: bool = False,
        reread: tuple[str, ...] = (),
        pinned: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Install *requirements* with *overrides* replacing any version the Store itself declares.

        Files are copied out of uv's cache, never hard-linked: a contract that writes to an installed file
        changes only this sandbox. *reread* names packages that come from local files (a wheel rebuilt with the
        same version, a project directory): uv reads them again instead of answering from its cache (which
        keys a find-links wheel by its name alone).
        *immutable*: the overrides name artifacts that cannot change behind their name (an index release),
        so uv's cache may answer for them; a branch or a URL is always resolved online.
        *pinned*: (requirement, SHA-256 hashes): uv installs that requirement only from a file with one of
        those hashes (an answer from its cache that is another file fails, and is asked again online).
        """
        overrides_file = self.root / "overrides.txt"
        overrides_file.write_text("\n".join(overrides) + "\n", encoding="utf-8")
        hashed: list[str] = []
        if pinned is not None and pinned[1]:
            hashes_file = self.root / "hashes.txt"
            line = " ".join([pinned[0], *(f"--hash=sha256:{h}" for h in pinned[1])])
            hashes_file.write_text(line + "\n", encoding="utf-8")
            hashed = ["--requirements", str(hashes_file)]
        args = [
            "pip",
            "install",
            "--no-config",
            "--link-mode",
            "copy",
            "--python",
            str(self.interpreter),
            "--overrides",
            str(overrides_file),
            *self.index.uv_args(),
            *(arg for name in reread for arg in ("--reinstall-package", name)),
            *hashed,
            *requirements,
        ]
        if immutable and self.cloned and not self.index.offline:
            # a clone of the base already holds everything but Core, and uv's cache usually holds Core: try
            # without the network first (5x faster), and resolve online only when the cache cannot answer
            quick = self._run_uv("install", [*args, "--offline"], what="installing Core from uv's cache")
            if quick.ok:
                self.install_log = quick.stderr + quick.stdout
                return
        done = self._run_uv("install", args, what="installing the Store and Core")
        self.install_log = done.stderr + done.stdout  # uv's own output, unredacted; kept when the install fails too
        self._raise_for("install", done, core=_names(overrides))


def _names(requirements: list[str]) -> list[str]:
    """The package names of requirement lines (the overrides: the Core being checked)."""
    names = []
    for line in requirements:
        try:
            names.append(Requirement(line).name)
        except InvalidRequirement:
            continue
    return names


class FreshSandbox(Sandbox):
    """A new venv made by ``uv venv`` (*relocatable* for a base environment that is moved afterwards)."""

    def __init__(self, settings: SandboxSettings, *, relocatable: bool = False) -> None:
        super().__init__(settings)
        self.relocatable = relocatable

    def _create(self) -> None:
        args = ["venv", "--quiet", "--no-config", "--no-project", "--python", self.python, NO_DOWNLOADS, str(self.venv)]
        done = self._run_uv("venv", [*args, "--relocatable"] if self.relocatable else args)
        if not done.ok and self.settings.python:  # a --python that is not installed is the user's to fix
            missing = pythons.not_installed(self.python, done.stderr + done.stdout, uv=self.uv, env=scrubbed_env())
            if missing is not None:
                raise missing
        self._raise_for("venv", done)


class ClonedSandbox(Sandbox):
    """A hard-link clone of a prepared base environment (Store, dependencies, pytest; no Core)."""

    cloned = True

    def __init__(self, settings: SandboxSettings, base: Path) -> None:
        super().__init__(settings)
        self.base = base

    def _create(self) -> None:
        start = time.monotonic()
        try:
            clone(self.base, self.venv)
        except OSError as exc:  # the base went (or is going) while it was copied: this ref, not the whole command
            why = from_os_error(exc).message  # a copy error lists every file: its count and the first
            raise venvcheck.unusable(self.venv, f"could not be cloned from {self.base} ({why})") from None
        self.phases["clone"] = round(time.monotonic() - start, 3)


def clone(base: Path, dest: Path) -> None:
    """Copy a venv as hard links (a copy where links are impossible, e.g. across filesystems)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(base, dest, symlinks=True, copy_function=link)
