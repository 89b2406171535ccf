"""Fan-out planning: the Core refs a check would run, expanded once, for a CI matrix (``contract-check plan``).

Nothing is installed. ``--core-range`` and ``--since-pin`` are expanded against the index exactly as ``check``
expands them (``matrix.expand_refs``), so the shards of a matrix check exactly the refs the plan printed.
``--since-pin`` needs the Store's declared Core range without installing the Store: it is read from a local
project's ``pyproject.toml``, or from the metadata inside a Store wheel or sdist given with ``--store``.
"""

from __future__ import annotations

import email.parser
import tarfile
import tomllib
import zipfile
from functools import cache
from pathlib import Path

from contract_check import config
from contract_check.errors import UsageError
from contract_check.run import matrix
from contract_check.run.refcheck import Progress, quiet
from contract_check.run.settings import Plan
from contract_check.sandbox import find_uv
from contract_check.sources import index, refs
from contract_check.sources.stores import StoreTarget, resolve_store


def _requires_dist(metadata: bytes) -> list[str]:
    message = email.parser.BytesParser().parsebytes(metadata, headersonly=True)
    return [str(line) for line in message.get_all("Requires-Dist") or []]


def _wheel_requires(path: Path) -> list[str] | None:
    with zipfile.ZipFile(path) as wheel:
        names = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return _requires_dist(wheel.read(names[0])) if names else None


def _sdist_declared(path: Path, core_package: str) -> str | None:
    with tarfile.open(path) as sdist:
        members = {m.name: m for m in sdist.getmembers() if m.isfile() and m.name.count("/") == 1}
        for name, member in members.items():  # metadata 2.2+ lists the requirements in PKG-INFO
            if name.endswith("/PKG-INFO") and (fh := sdist.extractfile(member)) is not None:
                found = config.declared_specifier(_requires_dist(fh.read()), core_package, skip_marked=True)
                if found is not None:
                    return found
        for name, member in members.items():
            if name.endswith("/pyproject.toml") and (fh := sdist.extractfile(member)) is not None:
                return config.depends_on(tomllib.loads(fh.read().decode("utf-8")), core_package)
    return None


def declared_in_file(store: StoreTarget, core_package: str) -> str | None:
    """The Core specifier a Store wheel or sdist declares; None if *store* is not such a file or declares none."""
    path = store.path
    try:
        if path is None or not path.is_file():
            return None
        if path.name.endswith(".whl"):
            requires = _wheel_requires(path)
            return config.declared_specifier(requires or [], core_package, skip_marked=True)
        if path.name.endswith((".tar.gz", ".tgz")):
            return _sdist_declared(path, core_package)
    except (OSError, ValueError, zipfile.BadZipFile, tarfile.TarError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"--store {store.spec!r}: could not read its metadata: {exc}") from None
    return None


def plan_refs(plan: Plan, cwd: Path, progress: Progress = quiet) -> list[str]:
    """Every ref ``check`` would run with these settings, in order, without installing anything."""
    core = plan.core
    for ref in plan.selection.refs:  # validated as check validates them: a bad ref is exit 2 here, not in a shard
        refs.parse(ref, core_package=core.package, cwd=cwd)
    store = resolve_store(plan.store.spec, cwd, core_package=core.package, default_package=plan.store.default_package)
    declared = store.declared_core
    if plan.selection.since_pin and not declared:
        declared = declared_in_file(store, core.package)
        if declared is None:
            raise UsageError(
                f"plan --since-pin: the declared {core.package} range of Store {store.spec!r} "
                "cannot be read without installing it",
                tip="run plan in the Store checkout, give --store PATH (project directory, wheel or sdist), "
                "or give the range with --core-range",
            )

    @cache
    def releases() -> list[index.Release]:
        progress(f"listing {core.package} versions")
        return index.releases(core.package, core.index, uv=find_uv())

    return matrix.expand_refs(plan.selection, declared=declared, releases=releases)


__all__ = ["declared_in_file", "plan_refs"]
