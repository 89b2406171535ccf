"""Which Store is checked, and how it reaches the sandbox.

``--store`` takes a path (a project directory, a wheel, an sdist; ``PATH[extra,...]`` adds extras) or a
requirement (``market-data-store[dev]==0.6.73``). Without it: the project the current directory is in
(``project_root.enclosing``: from ``store/tests`` that is ``store``) when it depends on Core, else the newest
release of the suite's Store on the index, pinned to that exact version, and the report says why.

A local project is never built in place: its files (``fingerprint.project_files``) are copied to a temporary
directory and built into a wheel there, kept in the cache under the copy's content digest, so an unchanged
checkout is built once and every later ref (and invocation) installs the same wheel. The user's tree is only
read.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from contract_check import config
from contract_check.cache import cachedir, cacheledger, cacheroot
from contract_check.config import project_root
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.sandbox import classify_install_failure, find_uv, install_tip, pythons, scrubbed_env
from contract_check.sources import index, refs
from contract_check.sources.index import IndexSettings
from contract_check.util import fingerprint, fsread, proc
from contract_check.util.proc import redact


@dataclass(frozen=True)
class StoreTarget:
    spec: str  # what the user gave (or the default chosen)
    origin: str  # how it was chosen, for the report
    name: str | None = None
    requirement: str | None = None  # what uv installs, for a requirement
    path: Path | None = None  # a local project directory, wheel or sdist
    extras: tuple[str, ...] = ()
    declared_core: str | None = None  # from the project's pyproject, when it is a local project

    @property
    def project(self) -> Path | None:
        return self.path if self.path is not None and self.path.is_dir() else None

    def identity(self) -> str | None:
        """What pins the Store's content: an exact version, a file or tree digest; None if nothing does."""
        if self.path is not None:
            found = fingerprint.content_digest(self.path)
            return f"{found}{list(self.extras)}" if found else None
        try:
            req = Requirement(self.requirement or "")
        except InvalidRequirement:
            return None
        pins = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        return f"req:{req}" if req.url is None and pins else None

    def with_extras(self, extras: tuple[str, ...]) -> StoreTarget:
        """The same Store with more extras (``store-extras`` in the config)."""
        merged = tuple(dict.fromkeys((*self.extras, *extras)))
        if self.requirement is not None and extras:
            req = Requirement(self.requirement)
            req.extras = set(merged)
            return dataclasses.replace(self, extras=merged, requirement=str(req))
        return dataclasses.replace(self, extras=merged)


def _project(spec: str, path: Path, core_package: str, origin: str, extras: tuple[str, ...]) -> StoreTarget:
    pyproject = config.read_pyproject(path)
    if pyproject is None and not (path / "setup.py").is_file():
        raise UsageError(f"--store {spec!r}: {path} is not a Python project (no pyproject.toml or setup.py)")
    fsread.check_tree(path, "the Store project")  # a FIFO or a device would block its copy
    project = (pyproject or {}).get("project") or {}
    name = project.get("name") if isinstance(project.get("name"), str) else None
    declared = config.depends_on(pyproject, core_package)
    return StoreTarget(spec, origin, name, path=path, extras=extras, declared_core=declared or None)


def resolve_store(spec: str | None, cwd: Path, *, core_package: str, default_package: str | None) -> StoreTarget:
    """Which Store to check (see the module docstring)."""
    if spec is None:
        return _default_store(cwd, core_package, default_package)
    base, extras = refs.split_extras(spec)
    try:
        path = cwd / Path(base).expanduser()
    except (RuntimeError, ValueError):  # ~user of an unknown user, or a NUL byte in the name
        path = cwd / base
    if refs.path_exists(path) and (path.is_dir() or refs.looks_like_path(spec)):
        path = path.resolve()
        if path.is_dir():
            return _project(spec, path, core_package, "--store", extras)
        try:
            if path.name.endswith(".whl"):
                name = str(parse_wheel_filename(path.name)[0])
            else:
                name = str(parse_sdist_filename(path.name)[0])
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            raise UsageError(f"--store {spec!r}: {exc}") from None
        return StoreTarget(spec, "--store", name, path=path, extras=extras)
    if refs.looks_like_path(spec):
        raise UsageError(f"--store {spec!r}: no such file or directory", tip="give a project path or a requirement")
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise UsageError(
            f"--store {redact(spec)!r} is neither a path nor a valid requirement: {exc}",
            tip="e.g. --store ../market-data-store, --store '.[dev]' or --store market-data-store==0.6.73",
        ) from None
    return StoreTarget(spec, "--store", req.name, requirement=str(req), extras=tuple(sorted(req.extras)))


def _default_store(cwd: Path, core_package: str, default_package: str | None) -> StoreTarget:
    """The project the current directory is in, when it depends on Core; else the suite's Store on the index."""
    project = project_root.enclosing(cwd)
    if project is not None and config.depends_on(config.read_pyproject(project), core_package) is not None:
        name = project_root.relative(project, cwd)
        where = "in the current directory" if name == "." else "enclosing the current directory"
        return _project(name, project, core_package, f"the project {where}", ())
    if default_package is None:
        raise UsageError("no Store to check", tip="run in the Store project, or give --store PATH or a requirement")
    if project is None:
        why = "no Store project in the current directory or above it"
    else:
        where = project_root.relative(project, cwd)
        where = "the project in the current directory" if where == "." else f"the project at {where}"
        why = f"{where} does not depend on {core_package}"
    return StoreTarget(default_package, f"newest on the index; {why}", default_package, requirement=default_package)


def pin_newest(target: StoreTarget, settings: IndexSettings, *, python: Version | None = None) -> StoreTarget:
    """The default Store ("newest on the index", the newest one whose requires-python admits the sandbox's
    *python*) as an exact version: reported, and cacheable."""
    if not target.origin.startswith("newest") or target.name is None:
        return target
    try:
        newest = index.newest(index.releases(target.name, settings, uv=find_uv()), python=python)
    except ContractCheckError:
        return target  # uv will pick the newest itself; the report then reads the version from the sandbox
    return target if newest is None else dataclasses.replace(target, requirement=f"{target.name}=={newest}")


def _with_extras(name: str, extras: tuple[str, ...]) -> str:
    return f"{name}[{','.join(extras)}]" if extras else name


def _build_wheel(project: Path, settings: IndexSettings, python: str | None, timeout: float, out: Path) -> Path:
    """Copy *project* into a temporary directory and build a wheel from the copy into *out*."""
    with tempfile.TemporaryDirectory(prefix="contract-check-build-") as tmp:
        source = Path(tmp) / "src"
        fingerprint.copy_project(project, source)
        argv = [find_uv(), "build", "--wheel", "--no-config", "--out-dir", str(out), *settings.uv_args()]
        argv += ["--python", python, pythons.NO_DOWNLOADS] if python else []
        done = proc.run([*argv, str(source)], env=scrubbed_env(), cwd=Path(tmp), timeout=timeout, what="uv build")
        if not done.ok:
            output = done.stderr + done.stdout
            missing = pythons.not_installed(python, output, uv=argv[0], env=scrubbed_env()) if python else None
            if missing is not None:
                raise missing
            kind = classify_install_failure(output, core=())  # no Core ref is installed to build the Store
            raise EnvironmentProblem(
                f"the Store project {project} failed to build ({kind.replace('-', ' ')}):\n{done.tail()}",
                tip=install_tip(kind, output),
                kind=kind,
            )
    wheels = sorted(out.glob("*.whl"))
    if not wheels:
        raise EnvironmentProblem(f"building the Store project {project} produced no wheel", kind="build")
    return wheels[0]


Progress = Callable[[str], None]


def install_requirement(
    target: StoreTarget,
    *,
    settings: IndexSettings,
    python: str | None,
    timeout: float,
    progress: Progress,
) -> tuple[StoreTarget, str]:
    """What uv installs for the Store (a requirement line), building a local project into a cached wheel.

    Returns the target with its name filled in from the built wheel (a ``setup.py`` project has none before).
    """
    if target.requirement is not None:
        return target, target.requirement
    assert target.path is not None
    if target.project is None:  # a wheel or an sdist as given
        return target, f"{_with_extras(target.name or 'store', target.extras)} @ {target.path.as_uri()}"
    wheel = _cached_wheel(target.project, settings=settings, python=python, timeout=timeout, progress=progress)
    name = str(parse_wheel_filename(wheel.name)[0])
    if target.name and canonicalize_name(target.name) != canonicalize_name(name):
        name = target.name
    return dataclasses.replace(target, name=name), f"{_with_extras(name, target.extras)} @ {wheel.as_uri()}"


def _wheels_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.whl")) if folder.is_dir() else []


def _cached_wheel(
    project: Path, *, settings: IndexSettings, python: str | None, timeout: float, progress: Progress
) -> Path:
    """The wheel built from a clean copy of *project*, kept in the cache as ``wheels/<tree digest>/``.

    It is built in a staging directory under the digest's exclusive lock, then held (a shared lock) until the
    command ends, so that no ``cache clear`` or prune removes it while refs install it. Without a usable cache
    directory it is built into a temporary directory that lives as long as this process.
    """
    digest = fingerprint.tree_digest(project)
    root = cacheroot.usable()
    if root is None:
        out = Path(tempfile.mkdtemp(prefix="contract-check-store-"))
        atexit.register(shutil.rmtree, out, ignore_errors=True)
        progress(f"building the Store from a clean copy of {project}")
        return _build_wheel(project, settings, python, timeout, out)
    wheels = root / "wheels"
    folder, lock, rel = wheels / digest, wheels / f"{digest}.lock", f"wheels/{digest}"
    for _attempt in range(2):
        cachedir.hold(lock)
        found = _wheels_in(folder)
        if found:
            cacheledger.touch(root, rel)
            return found[0]
        cachedir.release(lock)  # building takes the lock exclusively
        with cachedir.locked(lock, exclusive=True):
            if _wheels_in(folder):
                continue  # another invocation built it meanwhile
            progress(f"building the Store from a clean copy of {project}")
            staging = cachedir.staging(wheels, digest)
            try:
                out = staging / "wheel"
                out.mkdir()
                built = _build_wheel(project, settings, python, timeout, out)
                cachedir.mark_wheel_dir(out, built.name)
                cachedir.discard_dir(folder, digest)  # one without a wheel in it
                out.rename(folder)
                cacheledger.record(root, rel, "wheel", cachedir.tree_size(folder))
            finally:
                cachedir.drop(staging)
    raise EnvironmentProblem(
        f"the Store wheel built from {project} was removed from the cache ({folder}) as soon as it was built",
        tip="run again when no clean-up of the cache directory is running",
    )
